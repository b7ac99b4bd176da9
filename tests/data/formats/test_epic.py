"""actattn.data.formats.epic on the real EPIC-KITCHENS-55 and -100 excerpts (annotations/README.md
sections 2, 2b, 13, 14), small bad copies, and the EPIC-100 challenge submission."""
import json
import zipfile

import numpy as np
import pytest

from actattn.data.formats import read_epic55, read_epic100, write_epic100_submission
from actattn.data.formats.epic import epic100_submission, frame_rate, frame_seconds, read_class_csv


@pytest.fixture(scope="module")
def e55(annotations):
    return annotations / "epic-kitchens-55"


@pytest.fixture(scope="module")
def e100(annotations):
    return annotations / "epic-kitchens-100"


def _55(e55, labels=None, **kwargs):
    return read_epic55(labels or e55 / "EPIC_train_action_labels.csv", e55 / "EPIC_verb_classes.csv",
                       e55 / "EPIC_noun_classes.csv", **kwargs)


def _100(e100, **kwargs):
    return read_epic100(e100 / "EPIC_100_verb_classes.csv", e100 / "EPIC_100_noun_classes.csv", **kwargs)


def test_class_csvs_crlf(e55, e100):
    assert b"\r\n" in (e55 / "EPIC_verb_classes.csv").read_bytes()
    assert not (e100 / "EPIC_100_noun_classes.csv").read_bytes().endswith(b"\n")  # no final newline
    verbs, nouns = read_class_csv(e55 / "EPIC_verb_classes.csv"), read_class_csv(e55 / "EPIC_noun_classes.csv")
    assert (len(verbs), len(nouns), verbs[0], verbs[1], nouns[1]) == (125, 352, "take", "put", "pan")
    verbs100, nouns100 = read_class_csv(e100 / "EPIC_100_verb_classes.csv"), read_class_csv(e100 / "EPIC_100_noun_classes.csv")
    assert (len(verbs100), len(nouns100), nouns100[0], nouns100[-1]) == (97, 300, "tap", "extract:vanilla")


def test_epic55_real_labels(e55):
    result = _55(e55, video_info=e55 / "EPIC_video_info.csv", test_s1=e55 / "EPIC_test_s1_timestamps.csv")
    assert {s: len(v) for s, v in result.splits.items()} == {"train": 200, "validation": 0, "test_s1": 50}
    assert not result.skipped and not result.notes
    first = result.splits["train"][0]
    assert (first.id, first.video, first.start, first.stop, first.frames) == (
        "0", "videos/train/P01/P01_01.MP4", 0.14, 3.37, (8, 202))
    assert result.tasks["verb"][first.labels["verb"]] == "open" and result.tasks["noun"][first.labels["noun"]] == "cupboard"
    assert first.info["noun"] == "door"  # the narrated noun; its class is cupboard (door is one of its instances)
    assert first.labels["action"] == 2 * 352 + 8 and result.tasks["action"][first.labels["action"]] == "open cupboard"
    assert first.info["frame_folder"] == "frames_rgb_flow/rgb/train/P01/P01_01" and first.info["frame_rate"] == 60
    by_id = {s.id: s for s in result.splits["train"]}
    assert by_id["45"].info["all_nouns"] == ["courgette", "pan"] and by_id["45"].info["all_noun_classes"] == [69, 1]
    assert by_id["68"].info["all_nouns"] == ["celery"] and by_id["68"].info["all_noun_classes"] == [185, 25]
    assert "119" not in by_id and set(map(int, by_id)) != set(range(200))  # not contiguous (119 is invalid)
    for sample in result.samples():  # 1-based frames at 60 fps agree with the 2-decimal timestamps
        assert abs(frame_seconds(sample.frames[0], 60) - sample.start) < 2 / 60
        assert abs(sample.frames[1] / 60 - sample.stop) < 2 / 60
    assert all(s.labels == {} for s in result.splits["test_s1"])


def test_epic55_orn_split_by_participant(e55, tmp_path):
    lines = (e55 / "EPIC_train_action_labels.csv").read_text().splitlines()
    extra = ["40000,P26,P26_01,open door,00:00:01.00,00:00:02.00,61,120,open,2,door,8,['door'],[8]",
             "40001,P25,P25_01,open door,00:00:01.00,00:00:02.00,61,120,open,2,door,8,['door'],[8]"]
    (tmp_path / "labels.csv").write_text("\n".join(lines[:3] + extra) + "\n")
    result = _55(e55, labels=tmp_path / "labels.csv")
    assert [s.id for s in result.splits["train"]] == ["0", "1", "40001"]
    assert [s.id for s in result.splits["validation"]] == ["40000"]
    assert [s.id for s in _55(e55, labels=tmp_path / "labels.csv", train_participants=1).splits["validation"]] == [
        "40000", "40001"]


def test_epic55_invalid_labels_are_not_a_split(e55):
    with pytest.raises(ValueError, match=r"EPIC_train_invalid_labels.csv, line 2: verb_class '' is not an integer"):
        _55(e55, labels=e55 / "EPIC_train_invalid_labels.csv")


def test_epic55_bad_rows(e55, tmp_path):
    header, row = (e55 / "EPIC_train_action_labels.csv").read_text().splitlines()[:2]
    cases = {row.replace(",2,door", ",125,door"): "verb_class 125", row.replace("['door']", "door"): "list literal",
             row.replace("00:00:03.37", "3.37"): "HH:MM:SS", row.rsplit(",", 1)[0]: "expected 14 fields",
             row + "\n" + row: "id '0' occurs twice", row.replace(",8,202,", ",0,202,"): "1-based"}
    for bad, message in cases.items():
        (tmp_path / "l.csv").write_text(f"{header}\n{bad}\n")
        with pytest.raises(ValueError, match=rf"l.csv, line \d: .*{message}"):
            _55(e55, labels=tmp_path / "l.csv")
    (tmp_path / "l.csv").write_text(f"{header}\n{row.replace('00:00:03.37', '00:00:00.14')}\n")
    with pytest.warns(UserWarning, match="skipped 1"):
        result = _55(e55, labels=tmp_path / "l.csv")
    assert result.splits["train"] == [] and "not before" in result.skipped[0].reason


def test_epic55_segment_after_the_video_end_is_clipped(e55, tmp_path):
    (tmp_path / "info.csv").write_text("video,resolution,duration,fps\nP01_01,1920x1080,2.5,59.9400599400599\n")
    header, row0, row1 = (e55 / "EPIC_train_action_labels.csv").read_text().splitlines()[:3]
    (tmp_path / "l.csv").write_text(f"{header}\n{row0}\n{row1}\n")
    with pytest.warns(UserWarning):
        result = _55(e55, labels=tmp_path / "l.csv", video_info=tmp_path / "info.csv")
    assert [(s.start, s.stop) for s in result.splits["train"]] == [(0.14, 2.5)]
    assert len(result.notes) == 1 and "clipped" in result.notes[0].reason and result.notes[0].line == 2
    assert "after the video's end" in result.skipped[0].reason  # row1 starts at 4.37 s


def test_epic100_real_validation_and_test(e100):
    result = _100(e100, validation=e100 / "EPIC_100_validation.csv", test=e100 / "EPIC_100_test_timestamps.csv")
    validation, test = result.splits["validation"], result.splits["test"]
    assert (len(validation), len(test)) == (200, 30)
    assert [s.id for s in validation[:4]] == ["P01_11_0", "P01_11_1", "P01_11_10", "P01_11_100"]  # lexicographic
    first = validation[0]
    assert (first.video, first.start, first.stop, first.frames) == ("P01/videos/P01_11.MP4", 0.0, 1.89, (1, 113))
    assert first.info["narration_timestamp"] == 0.56 and first.info["frame_folder"] == "P01/rgb_frames/P01_11"
    assert result.tasks["verb"][first.labels["verb"]] == "take" and result.tasks["noun"][first.labels["noun"]] == "plate"
    assert len(result.tasks["action"]) == 97 * 300
    assert [s.info["narration_timestamp"] for s in validation[-3:]] == [None, None, None]  # empty in the file
    assert validation[-1].id == "P02_15_40"
    assert first.info["frame_rate"] == 60 and test[0].info["frame_rate"] == 50  # P01_101: an extension video
    for sample in result.samples():
        rate = sample.info["frame_rate"]
        assert abs(frame_seconds(sample.frames[0], rate) - sample.start) <= 2 / rate + 1e-9
    assert (test[0].id, test[0].start, test[0].frames, test[0].labels) == ("P01_101_0", 2.86, (143, 193), {})


def test_epic100_video_info(e100):
    result = _100(e100, test=e100 / "EPIC_100_test_timestamps.csv", video_info=e100 / "EPIC_100_video_info.csv")
    assert {s.info["frame_rate"] for s in result.splits["test"]} == {50}  # P01_101 has fps 50.0
    with pytest.raises(ValueError, match=r"EPIC_100_validation.csv, line 199: video 'P02_12' is not in the video info"):
        _100(e100, validation=e100 / "EPIC_100_validation.csv", video_info=e100 / "EPIC_100_video_info.csv")


def test_epic100_uda_source_train_as_train(e100):
    result = _100(e100, train=e100 / "UDA_annotations" / "EPIC_100_uda_source_train.csv")
    train = result.splits["train"]
    assert len(train) == 150 and train[0].id == "P01_01_0"
    assert result.tasks["noun"][train[-2].labels["noun"]] == "vegetable"
    assert train[-2].info["all_noun_classes"] == [94, 7]
    assert sum(s.info["narration_timestamp"] is None for s in train) == sum(
        1 for line in (e100 / "UDA_annotations" / "EPIC_100_uda_source_train.csv").read_text().splitlines()
        if line.split(",")[3:4] == [""])


def test_epic100_wrong_header_names_the_file(e100, e55):
    with pytest.raises(ValueError, match=r"EPIC_train_action_labels.csv, line 1: expected the header narration_id"):
        _100(e100, train=e55 / "EPIC_train_action_labels.csv")


def test_frame_rate():
    assert frame_rate("P01_01") == 60 and frame_rate("P01_101") == 50
    assert frame_rate("P01_01", 59.9400599400599) == 60 and frame_rate("P01_01", 90.0) == 60 and frame_rate("x", 50.0) == 50


def test_epic100_submission(tmp_path):
    rng = np.random.default_rng(0)
    verbs, nouns = rng.normal(size=(2, 97)), rng.normal(size=(2, 300)).astype(np.float32)
    path = write_epic100_submission(tmp_path / "sub.zip", ["P01_101_0", "P01_101_1"], verbs, nouns,
                                    sls_pt=2, sls_tl=3, sls_td=3)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["test.json"]
        data = json.loads(archive.read("test.json"))
    assert {k: data[k] for k in ("version", "challenge", "sls_pt", "sls_tl", "sls_td")} == {
        "version": "0.2", "challenge": "action_recognition", "sls_pt": 2, "sls_tl": 3, "sls_td": 3}
    entry = data["results"]["P01_101_1"]
    assert list(entry) == ["verb", "noun"] and len(entry["verb"]) == 97 and list(entry["noun"])[-1] == "299"
    assert entry["verb"]["5"] == pytest.approx(verbs[1, 5])
    plain = write_epic100_submission(tmp_path / "sub.json", ["a"], verbs[:1], nouns[:1], sls_pt=0, sls_tl=0, sls_td=0)
    assert json.loads(plain.read_text())["results"]["a"]["noun"]["0"] == pytest.approx(float(nouns[0, 0]))
    with pytest.raises(ValueError, match=r"verb scores have shape \(2, 96\)"):
        epic100_submission(["a", "b"], verbs[:, :96], nouns, sls_pt=2, sls_tl=3, sls_td=3)
    with pytest.raises(ValueError, match="unique"):
        epic100_submission(["a", "a"], verbs, nouns, sls_pt=2, sls_tl=3, sls_td=3)
    with pytest.raises(ValueError, match="sls_td"):
        epic100_submission(["a", "b"], verbs, nouns, sls_pt=2, sls_tl=3, sls_td=6)


def test_epic55_unquoted_apostrophe_in_narration(e55, tmp_path):
    header, row = (e55 / "EPIC_train_action_labels.csv").read_text().splitlines()[:2]
    (tmp_path / "l.csv").write_text(f"{header}\n{row.replace('open door', 'don' + chr(39) + 't open door')}\n")
    assert _55(e55, labels=tmp_path / "l.csv").splits["train"][0].info["narration"] == "don't open door"
