"""actattn.data.formats.hollywood2 on a fixture of ClipSets files written in the format
hollywood2/FORMAT.md documents (``fixtures/hollywood2/``: no real ClipSets file was found)."""
import pytest

from actattn.data.formats import read_hollywood2
from actattn.data.formats.hollywood2 import clipset_class


def test_fixture(fixtures):
    result = read_hollywood2(sorted((fixtures / "hollywood2" / "ClipSets").glob("*.txt")))
    assert result.tasks == {"action": ["AnswerPhone", "Kiss", "Run"]} and result.multi_label == {"action"}
    assert list(result.splits) == ["train", "test"]
    train = result.splits["train"]
    assert [(s.id, s.labels["action"]) for s in train] == [
        ("actioncliptrain00001", (0,)), ("actioncliptrain00002", (1,)), ("actioncliptrain00003", (0, 1))]
    assert train[0].video == "AVIClips/actioncliptrain00001.avi"
    assert [s.labels["action"] for s in result.splits["test"]] == [(0,), (2,)]


def test_scene_names_and_clip_lists():
    assert clipset_class("INT-living-room_autotrain.txt") == ("INT-living-room", "autotrain")
    assert clipset_class("actions_train.txt") is None
    with pytest.raises(ValueError, match="<Class>_<train|test|autotrain>"):
        clipset_class("AnswerPhone.txt")


def test_scenes_task(tmp_path):
    (tmp_path / "EXT-house_test.txt").write_text("sceneclipautotest00001 1\n")
    (tmp_path / "INT-car_test.txt").write_text("sceneclipautotest00001 -1\n")
    result = read_hollywood2([tmp_path / "EXT-house_test.txt", tmp_path / "INT-car_test.txt"])
    assert result.tasks == {"scene": ["EXT-house", "INT-car"]}
    assert result.splits["test"][0].video == "AVIClipsScenes/sceneclipautotest00001.avi"


def test_bad_files(fixtures, tmp_path):
    (tmp_path / "Eat_train.txt").write_text("a 1\nb -1\n")
    (tmp_path / "Run_train.txt").write_text("a 1\nc -1\n")
    with pytest.raises(ValueError, match=r"Run_train.txt, line 2: clip 'c' is not in Eat_train.txt"):
        read_hollywood2([tmp_path / "Eat_train.txt", tmp_path / "Run_train.txt"])
    (tmp_path / "Run_train.txt").write_text("a 1\n")
    with pytest.raises(ValueError, match=r"Run_train.txt: 1 clips of Eat_train.txt are missing, first 'b'"):
        read_hollywood2([tmp_path / "Eat_train.txt", tmp_path / "Run_train.txt"])
    (tmp_path / "Run_train.txt").write_text("a 1\nb 0\n")
    with pytest.raises(ValueError, match=r"Run_train.txt, line 2: expected '<clip> <1\|-1>'"):
        read_hollywood2([tmp_path / "Eat_train.txt", tmp_path / "Run_train.txt"])
    (tmp_path / "Run_test.txt").write_text("x 1\n")
    with pytest.raises(ValueError, match=r"group 'train' lacks the ClipSets files of \['Run'\]"):
        read_hollywood2([tmp_path / "Run_test.txt", tmp_path / "Eat_train.txt"])
