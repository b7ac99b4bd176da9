"""actattn.data.formats.hico on a small ``anno.mat`` written with scipy.io.savemat in the layout
hico/FORMAT.md documents (the real .mat is binary and not shared)."""
import numpy as np
import pytest
from scipy.io import savemat

from actattn.data.formats import read_hico

NAN = np.nan


def _cells(items):
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _anno(path, train, test=None):
    actions = _cells([{"nname": "airplane", "vname": "board", "vname_ing": "boarding"},
                      {"nname": "airplane", "vname": "direct", "vname_ing": "directing"},
                      {"nname": "bicycle", "vname": "ride", "vname_ing": "riding"}])
    test = np.array([[1.0], [NAN], [-1.0]]) if test is None else test
    savemat(path, {"list_action": actions,
                   "list_train": _cells([f"HICO_train2015_{j + 1:08d}.jpg" for j in range(train.shape[1])]),
                   "list_test": _cells([f"HICO_test2015_{j + 1:08d}.jpg" for j in range(test.shape[1])]),
                   "anno_train": train, "anno_test": test})
    return path


def test_ambiguous_kept_apart_from_negatives(tmp_path):
    train = np.array([[1.0, -1.0], [0.0, NAN], [NAN, 1.0]])  # classes x images
    result = read_hico(_anno(tmp_path / "anno.mat", train))
    assert result.tasks == {"action": ["airplane boarding", "airplane directing", "bicycle riding"]}
    assert result.multi_label == {"action"}
    first, second = result.splits["train"]
    assert (first.id, first.video) == ("HICO_train2015_00000001.jpg", "images/train2015/HICO_train2015_00000001.jpg")
    assert first.labels == {"action": (0,)} and first.ambiguous == {"action": (1,)}  # 0 is ambiguous, NaN negative
    assert second.labels == {"action": (2,)} and second.ambiguous == {"action": ()}
    assert result.splits["test"][0].labels == {"action": (0,)}
    assert result.splits["test"][0].video.startswith("images/test2015/")


def test_bad_anno(tmp_path):
    with pytest.raises(ValueError, match=r"anno_train has shape \(2, 2\), expected \(3, 2\)"):
        read_hico(_anno(tmp_path / "a.mat", np.ones((2, 2))))
    bad = np.array([[1.0], [0.5], [-1.0]])
    with pytest.raises(ValueError, match=r"list_train\(1\): image HICO_train2015_00000001.jpg: label 0.5 for class 1"):
        read_hico(_anno(tmp_path / "b.mat", bad))
