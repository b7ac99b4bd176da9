"""actattn.data.inspect (``actattn data inspect``) on the real excerpts: role matching, the printed
summary, the JSON, missing videos."""
import argparse
import json
from pathlib import Path

import pytest

from actattn.data.formats import FORMATS
from actattn.data.inspect import add_inspect_parser, assign_files, run_inspect

ANNOTATIONS = Path(__file__).resolve().parents[3] / "shared" / "annotations"


@pytest.fixture(scope="module")
def annotations():
    if not (ANNOTATIONS / "README.md").is_file():
        pytest.skip(f"the shared annotation excerpts are not at {ANNOTATIONS}")
    return ANNOTATIONS


def _run(argv):
    parser = argparse.ArgumentParser(prog="actattn")
    add_inspect_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    assert args.command == "data" and args.data_command == "inspect"
    return run_inspect(args)


def test_epic100_json(annotations, tmp_path, capsys):
    e100 = annotations / "epic-kitchens-100"
    files = [e100 / name for name in ("EPIC_100_validation.csv", "EPIC_100_verb_classes.csv",
                                      "EPIC_100_noun_classes.csv", "EPIC_100_test_timestamps.csv")]
    assert _run(["data", "inspect", "--format", "epic100", *map(str, files), "--json", str(tmp_path / "o.json")]) == 0
    out = capsys.readouterr().out
    assert "validation: 200" in out and "test: 30" in out and "task verb: 97 classes: 'take', 'put'" in out
    assert "skipped 0 rows" in out
    data = json.loads((tmp_path / "o.json").read_text())
    assert data["format"] == "epic100" and len(data["tasks"]["noun"]) == 300 and data["tasks"]["noun"][0] == "tap"
    assert len(data["samples"]) == 230
    first = data["samples"][0]
    assert first == {"id": "P01_11_0", "video": "P01/videos/P01_11.MP4", "labels": {"verb": 0, "noun": 2, "action": 2},
                     "start": 0.0, "stop": 1.89, "split": "validation"}
    assert data["samples"][-1]["labels"] == {} and data["samples"][-1]["start"] == 296.57


def test_multi_label_json_and_skips(annotations, tmp_path, capsys):
    charades = Path(__file__).resolve().parent / "formats" / "fixtures" / "charades"
    files = [charades / n for n in ("Charades_v1_classes.txt", "Charades_v1_train.csv", "Charades_v1_test.csv")]
    with pytest.warns(UserWarning):
        _run(["data", "inspect", "--format", "charades", *map(str, files), "--json", str(tmp_path / "c.json")])
    out = capsys.readouterr().out
    assert "task action (multi-label): 4 classes" in out
    assert "skipped 1 rows:\n  " in out and "Charades_v1_test.csv, line 2: c000 interval start 4.25 s" in out
    assert "changed 1 rows" in out
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["samples"][0]["labels"] == {"action": [0, 2]} and data["samples"][0]["start"] is None
    assert data["skipped"][0]["line"] == 2


def test_roles_by_name_or_explicit(annotations):
    v1 = annotations / "something-something-v1"
    kwargs = assign_files(FORMATS["ssv1"], [v1 / "something-something-v1-labels.csv",
                                            v1 / "something-something-v1-train.csv"])
    assert set(kwargs) == {"labels", "train"}
    uda = annotations / "epic-kitchens-100" / "UDA_annotations" / "EPIC_100_uda_source_train.csv"
    with pytest.raises(ValueError, match="matches no file roles of epic100.*--file ROLE=PATH"):
        assign_files(FORMATS["epic100"], [uda])
    kwargs = assign_files(FORMATS["epic100"], [annotations / "epic-kitchens-100" / "EPIC_100_verb_classes.csv",
                                               annotations / "epic-kitchens-100" / "EPIC_100_noun_classes.csv"],
                          [f"train={uda}"])
    assert kwargs["train"] == uda
    with pytest.raises(ValueError, match=r"needs the files for \['noun_classes'\]"):
        assign_files(FORMATS["epic100"], [annotations / "epic-kitchens-100" / "EPIC_100_verb_classes.csv"])
    with pytest.raises(ValueError, match="ROLE one of"):
        assign_files(FORMATS["ssv1"], [], ["labelz=x.csv"])


def test_video_root_counts_missing(annotations, tmp_path, capsys):
    ucf = annotations / "ucf101"
    (tmp_path / "ApplyEyeMakeup").mkdir()
    (tmp_path / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g08_c01.avi").write_bytes(b"")
    _run(["data", "inspect", "--format", "ucf101", str(ucf / "classInd.txt"), str(ucf / "trainlist01.txt"),
          "--video-root", str(tmp_path), "--first", "1"])
    out = capsys.readouterr().out
    assert "videos missing under" in out and ": 199 of 200" in out
    assert out.count("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi action=0 'ApplyEyeMakeup'") == 1


def test_options_and_lenient(annotations, tmp_path, capsys):
    splits = annotations / "something-else" / "code" / "dataset_splits" / "fewshot"
    _run(["data", "inspect", "--format", "something_else", str(splits / "base_labels.json"),
          str(splits / "base_validation_set.json"), "--option", "ids='file'", "--first", "1"])
    assert "validation 93396: 93396.webm action=86 " in capsys.readouterr().out  # the file's id, not the loader's 72
    (tmp_path / "something-something-v1-train.csv").write_text("1;Holding something\n2;Holding nothing\n")
    with pytest.warns(UserWarning):
        _run(["data", "inspect", "--format", "ssv1", str(annotations / "something-something-v1" /
                                                        "something-something-v1-labels.csv"),
              str(tmp_path / "something-something-v1-train.csv"), "--lenient"])
    assert "unknown class 'Holding nothing'" in capsys.readouterr().out
