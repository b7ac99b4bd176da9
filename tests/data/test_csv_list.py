"""actattn.data.csv_list: the path,label CSV format and the dataset over it."""
from pathlib import Path

import numpy as np
import pytest
import torch

from actattn.data.csv_list import CsvVideoList, MultiLabel, read_csv_list
from actattn.data.transforms import eval_transform
from actattn.data.video import VideoDecodeError, write_video


def test_header_optional_ints_names_and_paths(tmp_path):
    (tmp_path / "a.csv").write_text("path,label\r\nclips/x.mp4,2\r\n\r\n/abs/y.mp4,0\r\n", encoding="utf-8")
    rows = read_csv_list(tmp_path / "a.csv")
    assert rows == [(tmp_path / "clips" / "x.mp4", 2), (Path("/abs/y.mp4"), 0)]
    (tmp_path / "b.csv").write_text('"my, clip.mp4",Lifting\nz.mp4,1\n', encoding="utf-8")
    rows = read_csv_list(tmp_path / "b.csv", class_names=["Dropping", "Lifting"], root=tmp_path / "videos")
    assert rows == [(tmp_path / "videos" / "my, clip.mp4", 1), (tmp_path / "videos" / "z.mp4", 1)]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("x.mp4", "expected 2 fields"),
        ("x.mp4,1,extra", "expected 2 fields"),
        (",1", "empty path"),
        ("x.mp4,-1", "non-negative"),
        ("x.mp4,Lifting", "not an integer id"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path, line, problem):
    (tmp_path / "list.csv").write_text(f"path,label\nok.mp4,0\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"list.csv, line 3: .*{problem}"):
        read_csv_list(tmp_path / "list.csv")


def test_class_names_bound_the_labels(tmp_path):
    (tmp_path / "list.csv").write_text("a.mp4,Juggling\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1: unknown class name 'Juggling'"):
        read_csv_list(tmp_path / "list.csv", class_names=["Lifting"])
    (tmp_path / "list.csv").write_text("a.mp4,3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1: class id 3 must be non-negative below 2"):
        read_csv_list(tmp_path / "list.csv", class_names=["a", "b"])


@pytest.fixture(scope="module")
def listed(tmp_path_factory):
    """A CSV of two 6-frame videos and one missing file."""
    root = tmp_path_factory.mktemp("csv")
    for name, level in (("dark.mp4", 30), ("bright.mp4", 220)):
        write_video(root / "clips" / name, np.full((6, 48, 48, 3), level, dtype=np.uint8))
    rows = "path,label\nclips/dark.mp4,0\nclips/bright.mp4,3\nclips/gone.mp4,1\n"
    (root / "list.csv").write_text(rows, encoding="utf-8")
    return root / "list.csv"


def test_dataset_reads_listed_videos(listed):
    data = CsvVideoList(listed, num_segments=3, train=False, transform=eval_transform(32))
    assert len(data) == 3 and data.num_classes == 4 and data.class_names == ["0", "1", "2", "3"]
    dark, bright = data[0], data[1]
    assert dark["video"].shape == (3, 3, 32, 32) and dark["video"].dtype == torch.float32
    assert (dark["label"].item(), bright["label"].item()) == (0, 3)
    assert bright["video"].mean() > dark["video"].mean() + 2
    with pytest.raises(VideoDecodeError, match="clips/gone.mp4"):
        data[2]


def test_dataset_skips_bad_videos(listed):
    data = CsvVideoList(
        listed, class_names=list("abcd"), train=False, transform=eval_transform(32), skip_bad_videos=True
    )
    with pytest.warns(UserWarning, match="gone.mp4"):
        assert data[2] is None
    assert data.num_bad_videos == 1 and data.class_names == ["a", "b", "c", "d"]


def test_multi_label_rows_become_multi_hot_and_images_decode(tmp_path):
    """HICO-style: still images (one frame, T = 1) with ';'-separated labels."""
    from PIL import Image

    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(tmp_path / "img.jpg")
    (tmp_path / "list.csv").write_text("img.jpg,0;3\n", encoding="utf-8")
    data = CsvVideoList(tmp_path / "list.csv", class_names=list("abcde"), num_segments=1, train=False,
                        transform=eval_transform(32), multi_label=True)
    sample = data[0]
    assert sample["video"].shape == (3, 1, 32, 32)
    assert sample["label"].tolist() == [1.0, 0.0, 0.0, 1.0, 0.0] and sample["label"].dtype == torch.float32
    with pytest.raises(ValueError, match="line 1: several labels"):
        read_csv_list(tmp_path / "list.csv", class_names=list("abcde"))


def test_ambiguous_labels_are_minus_one_in_the_multi_hot_target(tmp_path):
    """HICO's 0 (ambiguous) labels: `?id` tokens, carried as -1 so that loss and mAP can leave them out."""
    from PIL import Image

    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(tmp_path / "img.jpg")
    (tmp_path / "names.csv").write_text("img.jpg,a;?c\n", encoding="utf-8")
    rows = read_csv_list(tmp_path / "names.csv", class_names=list("abcde"), multi_label=True)
    assert [label for _, label in rows] == [MultiLabel((0,), (2,))]
    (tmp_path / "list.csv").write_text("img.jpg,0;?2;3\nimg.jpg,?4\n", encoding="utf-8")
    data = CsvVideoList(tmp_path / "list.csv", num_segments=1, train=False, transform=eval_transform(32),
                        multi_label=True)
    assert data.class_names == ["0", "1", "2", "3", "4"]  # ambiguous ids count for the number of classes
    assert data[0]["label"].tolist() == [1.0, 0.0, -1.0, 1.0, 0.0]
    assert data[1]["label"].tolist() == [0.0, 0.0, 0.0, 0.0, -1.0]


@pytest.mark.parametrize(("line", "multi_label", "problem"), [
    ("x.jpg,1;?1", True, r"classes \[1\] are both positive and ambiguous"),
    ("x.jpg,?1", False, "ambiguous label '\\?1' in a single-label list"),
    ("x.jpg,3;?", True, "'\\?' without a class in '3;\\?'"),
])
def test_bad_ambiguous_labels_name_file_and_line(tmp_path, line, multi_label, problem):
    (tmp_path / "list.csv").write_text(f"x.jpg,0\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"list.csv, line 2: {problem}"):
        read_csv_list(tmp_path / "list.csv", multi_label=multi_label)
