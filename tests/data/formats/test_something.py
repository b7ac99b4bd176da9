"""actattn.data.formats.something on the real Something-Something V1/V2 and Something-Else excerpts
(annotations/README.md sections 1, 7, 8, 14), and small bad copies."""
import json

import pytest

from actattn.data.formats import read_something_else, read_ssv1, read_ssv2
from actattn.data.formats.something import read_something_else_labels


@pytest.fixture(scope="module")
def v1(annotations):
    return annotations / "something-something-v1"


def _v1(v1, **splits):
    return read_ssv1(v1 / "something-something-v1-labels.csv", **{
        split: v1 / f"something-something-v1-{split}.csv" for split in splits})


def test_ssv1_real_excerpt(v1):
    result = _v1(v1, train=1, validation=1, test=1)
    names = result.tasks["action"]
    assert len(names) == 174 and names == sorted(names)
    raw = (v1 / "something-something-v1-labels.csv").read_text().splitlines()
    assert raw != sorted(raw)  # the file is not sorted: ids come from sorting
    assert "Putting something, something and something on the table" in names  # unquoted commas, not CSV
    assert {split: len(s) for split, s in result.splits.items()} == {"train": 150, "validation": 150, "test": 50}
    first = result.splits["train"][0]
    assert (first.id, first.video) == ("100218", "100218")  # a frame folder
    assert names[first.labels["action"]] == "Something falling like a feather or paper"
    assert names[result.splits["validation"][1].labels["action"]] == (
        "Poking something so lightly that it doesn't or almost doesn't move")
    assert result.splits["test"][0].id == "105723" and result.splits["test"][0].labels == {}


def test_ssv1_bad_rows(v1, tmp_path):
    labels = v1 / "something-something-v1-labels.csv"
    cases = {"1;Holding something;x\n": "one ';'", "2;Holding nothing\n": "unknown class 'Holding nothing'",
             "3;Holding something\n3;Opening something\n": "id '3' occurs twice", "x;Holding something\n": "integer"}
    for text, message in cases.items():
        (tmp_path / "bad.csv").write_text("7;Opening something\n" + text)
        with pytest.raises(ValueError, match=rf"bad.csv, line \d: .*{message}"):
            read_ssv1(labels, train=tmp_path / "bad.csv")
    (tmp_path / "bad.csv").write_text("7;Opening something\n2;Holding nothing\n")
    with pytest.warns(UserWarning, match="skipped 1 rows"):
        lenient = read_ssv1(labels, train=tmp_path / "bad.csv", strict=False)
    assert len(lenient.splits["train"]) == 1 and lenient.skipped[0].line == 2


def test_ssv2_real_excerpt_crlf(annotations):
    v2 = annotations / "something-something-v2"
    assert b"\r\n" in (v2 / "something-something-v2-validation.json").read_bytes()
    result = read_ssv2(v2 / "something-something-v2-labels.json", validation=v2 / "something-something-v2-validation.json",
                       test=v2 / "something-something-v2-test.json")
    names = result.tasks["action"]
    assert names[0] == "Approaching something with your camera"  # ids from the file's string values
    validation = result.splits["validation"]
    assert len(validation) == 200 and len(result.splits["test"]) == 101
    assert validation[0].id == "74225" and validation[0].video == "74225.webm"
    assert names[validation[0].labels["action"]] == "Spinning something that quickly stops spinning"
    assert names[validation[-1].labels["action"]] == "Something falling like a feather or paper"  # [Something]
    assert validation[1].info["placeholders"] == ["clay box", "wallet"]
    assert all(s.labels == {} for s in result.splits["test"])


def test_ssv2_bad_entries(annotations, tmp_path):
    labels = annotations / "something-something-v2" / "something-something-v2-labels.json"
    good = {"id": "1", "template": "Opening [something]", "placeholders": ["box"]}
    cases = [([good, {**good, "template": "Opening [something] slowly"}], "unknown class 'Opening something slowly'"),
             ([good, good], "id '1' occurs twice"), ([good, {"template": "Opening [something]"}], "'id'"),
             ([good, {"id": "2"}], "labelled and test entries mixed")]
    for items, message in cases:
        (tmp_path / "v.json").write_text(json.dumps(items))
        with pytest.raises(ValueError, match=rf"v.json, entry 1 \(0-based\): .*{message}"):
            read_ssv2(labels, validation=tmp_path / "v.json")


@pytest.fixture(scope="module")
def splits(annotations):
    return annotations / "something-else" / "code" / "dataset_splits"


def test_something_else_ids_follow_the_loader_not_the_file(splits):
    for folder, size, agree in (("compositional", 174, 1), ("compositional_oneobject", 166, 80)):
        path = splits / folder / "labels.json"
        loader, file = read_something_else_labels(path), read_something_else_labels(path, ids="file")
        assert len(loader) == size and loader == sorted(loader)
        assert sum(a == b for a, b in zip(loader, file)) == agree
        assert file[json.loads(path.read_text())["Moving something up"]] == "Moving something up"
    base, finetune = (read_something_else_labels(splits / "fewshot" / f) for f in ("base_labels.json", "finetune_labels.json"))
    assert len(base) == 88 and len(finetune) == 86 and not set(base) & set(finetune)


def test_something_else_oneobject_train(splits):
    result = read_something_else(splits / "compositional_oneobject" / "labels.json",
                                 train=splits / "compositional_oneobject" / "train.json")
    train = result.splits["train"]
    assert len(train) == 101 and train[0].id == "203403" and train[-1].id == "103594"
    assert result.tasks["action"][train[0].labels["action"]] == "Moving something and something closer to each other"
    assert train[0].info == {"placeholders": ["polish", "a box"], "new_placeholders": ["", "box"]}  # sic in the file
    by_file = read_something_else(splits / "compositional_oneobject" / "labels.json",
                                  train=splits / "compositional_oneobject" / "train.json", ids="file")
    file_ids = json.loads((splits / "compositional_oneobject" / "labels.json").read_text())
    assert by_file.splits["train"][0].labels["action"] == file_ids["Moving something and something closer to each other"]


def test_something_else_fewshot_key_order_varies(splits):
    fewshot = splits / "fewshot"
    ten = json.loads((fewshot / "finetune_10shot_train.json").read_text())
    assert len({tuple(entry) for entry in ten}) == 2  # key order alternates within the file
    result = read_something_else(fewshot / "finetune_labels.json", train=fewshot / "finetune_10shot_train.json")
    assert len(result.splits["train"]) == 61
    assert result.tasks["action"][result.splits["train"][0].labels["action"]] == "Approaching something with your camera"
    base = read_something_else(fewshot / "base_labels.json", validation=fewshot / "base_validation_set.json")
    first = base.splits["validation"][0]
    assert len(base.splits["validation"]) == 101 and first.id == "93396"
    assert first.labels["action"] == 72  # sorted-name index; the file says 86
    with pytest.raises(ValueError, match="unknown class"):  # a base video under the finetune labels
        read_something_else(fewshot / "finetune_labels.json", validation=fewshot / "base_validation_set.json")


def test_something_else_file_ids_must_be_contiguous(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps({"a": 0, "b": 2}))
    assert read_something_else_labels(tmp_path / "labels.json") == ["a", "b"]
    with pytest.raises(ValueError, match="0..1"):
        read_something_else_labels(tmp_path / "labels.json", ids="file")


def test_ssv2_lf_copy_reads_the_same(annotations, tmp_path):
    v2 = annotations / "something-something-v2"
    for name in ("labels", "validation"):
        raw = (v2 / f"something-something-v2-{name}.json").read_bytes()
        (tmp_path / f"{name}.json").write_bytes(raw.replace(b"\r\n", b"\n"))
    lf = read_ssv2(tmp_path / "labels.json", validation=tmp_path / "validation.json")
    crlf = read_ssv2(v2 / "something-something-v2-labels.json", validation=v2 / "something-something-v2-validation.json")
    assert lf.splits == crlf.splits and lf.tasks == crlf.tasks
