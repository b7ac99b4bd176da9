"""actattn.data.formats.vlog on the real VLOG manifest, splitId and label names (annotations/README.md
section 12); ``hand_object.npy`` could not be shared, so each test writes one aligned with the manifest."""
import numpy as np
import pytest

from actattn.data.formats import read_vlog


@pytest.fixture(scope="module")
def meta(annotations):
    return annotations / "vlog" / "meta"


def _labels(tmp_path, rows=200, classes=30):
    matrix = -np.ones((rows, classes), np.int64)
    matrix[0, [3, 7]] = 1
    matrix[0, 10:13] = 0  # an inconclusive block
    matrix[2, 29] = 1
    np.save(tmp_path / "hand_object.npy", matrix)
    return tmp_path / "hand_object.npy"


def test_real_manifest_and_splits(meta, tmp_path):
    assert not (meta / "hand_object" / "hand_object_labels.txt").read_bytes().endswith(b"\n")
    result = read_vlog(meta / "manifest.txt", meta / "splitId.txt", meta / "hand_object" / "hand_object_labels.txt",
                       _labels(tmp_path))
    names = result.tasks["action"]
    assert len(names) == 30 and names[-1] == "towel" and "book-or-papers" in names
    assert result.multi_label == {"action"}
    assert {s: len(v) for s, v in result.splits.items()} == {"train": 58 + 48, "validation": 47, "test": 47}
    first = result.splits["train"][0]  # manifest line 1, split 1
    assert (first.id, first.video) == ("O/5/E/v_vAqaXZuAO5E/075", "O/5/E/v_vAqaXZuAO5E/075/clip.mp4")
    assert first.labels == {"action": (3, 7)} and first.ambiguous == {"action": (10, 11, 12)}
    third = result.splits["test"][0]  # line 3 has split 0, and an id with '.'
    assert third.id == "7/O/4/v_xJYPUUg7.O4/022" and third.labels == {"action": (29,)} and third.ambiguous == {"action": ()}


def test_misaligned_files(meta, tmp_path):
    with pytest.raises(ValueError, match=r"hand_object.npy: shape \(199, 30\), expected \(200, 30\)"):
        read_vlog(meta / "manifest.txt", meta / "splitId.txt", meta / "hand_object" / "hand_object_labels.txt",
                  _labels(tmp_path, rows=199))
    (tmp_path / "splitId.txt").write_text("1\n" * 199)
    with pytest.raises(ValueError, match="must align"):
        read_vlog(meta / "manifest.txt", tmp_path / "splitId.txt", meta / "hand_object" / "hand_object_labels.txt",
                  _labels(tmp_path))
    (tmp_path / "splitId.txt").write_text("4\n" + "1\n" * 199)
    with pytest.raises(ValueError, match=r"manifest.txt, line 1: splitId.txt: split id '4'"):
        read_vlog(meta / "manifest.txt", tmp_path / "splitId.txt", meta / "hand_object" / "hand_object_labels.txt",
                  _labels(tmp_path))
    matrix = np.load(_labels(tmp_path))
    matrix[5, 5] = 2
    np.save(tmp_path / "hand_object.npy", matrix)
    with pytest.raises(ValueError, match="values must be 1, 0"):
        read_vlog(meta / "manifest.txt", meta / "splitId.txt", meta / "hand_object" / "hand_object_labels.txt",
                  tmp_path / "hand_object.npy")
