"""actattn.data.formats.plain_csv: the project's path,label lists through data/csv_list.py's reader."""
import pytest

from actattn.data.formats import read_csv


def test_single_and_multi_label(tmp_path):
    (tmp_path / "train.csv").write_text("path,label\nvideos/a.mp4,1\nvideos/b.mp4,0\n")
    result = read_csv(train=tmp_path / "train.csv")
    assert result.tasks == {"action": ["0", "1"]}
    assert [(s.id, s.video, s.labels) for s in result.splits["train"]] == [
        ("videos/a.mp4", "videos/a.mp4", {"action": 1}), ("videos/b.mp4", "videos/b.mp4", {"action": 0})]
    (tmp_path / "classes.txt").write_text("jump\nrun\nwalk\n")
    (tmp_path / "val.csv").write_text("img1.jpg,jump;walk;?run\nimg2.jpg,run\n")
    multi = read_csv(validation=tmp_path / "val.csv", classes=tmp_path / "classes.txt", multi_label=True)
    first = multi.splits["validation"][0]
    assert first.labels == {"action": (0, 2)} and first.ambiguous == {"action": (1,)}
    assert multi.multi_label == {"action"}


def test_bad_rows(tmp_path):
    (tmp_path / "train.csv").write_text("a.mp4,1\na.mp4,0\n")
    with pytest.raises(ValueError, match="train.csv: video 'a.mp4' is listed twice"):
        read_csv(train=tmp_path / "train.csv")
    (tmp_path / "classes.txt").write_text("jump\n")
    (tmp_path / "train.csv").write_text("a.mp4,run\n")
    with pytest.raises(ValueError, match=r"train.csv, line 1: unknown class name 'run'"):
        read_csv(train=tmp_path / "train.csv", classes=tmp_path / "classes.txt")
