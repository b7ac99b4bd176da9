"""actattn.data.formats.hmdb51 on the real HMDB51 split files (annotations/README.md section 10)."""
import pytest

from actattn.data.formats import read_hmdb51
from actattn.data.formats.hmdb51 import split_file_class


@pytest.fixture(scope="module")
def hmdb(annotations):
    return annotations / "hmdb51"


def test_three_folds_of_one_class(hmdb):
    assert (hmdb / "brush_hair_test_split1.txt").read_bytes().splitlines()[0].endswith(b" 1 ")  # trailing space
    result = read_hmdb51([hmdb / f"brush_hair_test_split{n}.txt" for n in (1, 2, 3)])
    assert result.tasks == {"action": ["brush_hair"]}
    assert {s: len(v) for s, v in result.splits.items()} == {
        "train1": 70, "test1": 30, "train2": 70, "test2": 30, "train3": 70, "test3": 30}  # 7 lines tagged 0 each
    first = result.splits["train1"][0]
    assert first.video == first.id == "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi"
    # the folds tag the same videos differently: fold 1's first training video is a fold 3 test video
    assert not {s.video for s in result.splits["train1"]} & {s.video for s in result.splits["test1"]}
    assert result.splits["test3"][0].video == first.video


def test_classes_with_underscores_and_odd_names(hmdb):
    result = read_hmdb51([hmdb / "brush_hair_test_split1.txt", hmdb / "cartwheel_test_split1.txt",
                          hmdb / "climb_stairs_test_split1.txt"])
    assert result.tasks["action"] == ["brush_hair", "cartwheel", "climb_stairs"]
    assert split_file_class("climb_stairs_test_split1.txt") == ("climb_stairs", 1)
    videos = {s.video: s.labels["action"] for s in result.splits["train1"]}
    assert videos["cartwheel/Geena_und_die_Radschl_ge___;-)_cartwheel_f_cm_np1_fr_med_2.avi"] == 1  # a ';' in the name
    assert videos["cartwheel/(Rad)Schlag_die_Bank!_cartwheel_f_cm_np1_le_med_0.avi"] == 1
    assert len(result.splits["train1"]) == 210 and len(result.splits["test1"]) == 90


def test_folds_must_cover_the_same_classes(hmdb):
    with pytest.raises(ValueError, match=r"fold 2 lacks the split files of classes \['cartwheel'\]"):
        read_hmdb51([hmdb / "brush_hair_test_split1.txt", hmdb / "cartwheel_test_split1.txt",
                     hmdb / "brush_hair_test_split2.txt"])


def test_bad_lines(tmp_path):
    for body, message in {"a.avi 3 \n": "expected", "a.avi\n": "expected", "a.avi 1 \na.avi 2 \n": "occurs twice"}.items():
        (tmp_path / "wave_test_split1.txt").write_text(body)
        with pytest.raises(ValueError, match=rf"wave_test_split1.txt, line \d: .*{message}"):
            read_hmdb51([tmp_path / "wave_test_split1.txt"])
    with pytest.raises(ValueError, match="_test_split"):
        read_hmdb51([tmp_path / "wave.txt"])
