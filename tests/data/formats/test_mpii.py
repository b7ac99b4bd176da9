"""actattn.data.formats.mpii on a small ``RELEASE`` struct written with scipy.io.savemat in the
layout mpii-human-pose/FORMAT.md documents (the real .mat is binary and not shared)."""
import numpy as np
import pytest
from scipy.io import savemat

from actattn.data.formats import read_mpii


def _cells(items):
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _release(path, acts, img_train, names=None):
    names = names or [f"{i:09d}.jpg" for i in range(len(acts))]
    annolist = _cells([{"image": {"name": name}, "annorect": {"scale": 1.0}, "frame_sec": 10 + i, "vidx": 1 + i % 2}
                       for i, name in enumerate(names)])
    act = _cells([{"act_id": a, "act_name": n, "cat_name": c} for a, n, c in acts])
    savemat(path, {"RELEASE": {"annolist": annolist, "img_train": np.array(img_train), "act": act,
                               "video_list": _cells(["nja4-tUNLGs", "aAOusnrSsHI"])}})
    return path


ACTS = [(1, "curling", "sports"), (-1, "", ""),
        (42, "sitting, talking in person, on the phone, computer, or text messaging, light effort", "inactivity quiet/light"),
        (1, "curling", "sports"), (7, "bicycling, mountain", "bicycling")]


def test_release(tmp_path):
    path = _release(tmp_path / "mpii_human_pose_v1_u12_1.mat", ACTS, [1, 1, 0, 1, 0])
    with pytest.warns(UserWarning, match="skipped 1"):
        result = read_mpii(path)
    assert result.tasks["action"] == ["curling", "bicycling, mountain", ACTS[2][1]]  # by act_id 1, 7, 42
    assert result.tasks["category"] == ["bicycling", "inactivity quiet/light", "sports"]
    assert [s.id for s in result.splits["train"]] == ["000000000.jpg", "000000003.jpg"]
    first = result.splits["train"][0]
    assert first.video == "images/000000000.jpg" and first.labels == {"action": 0, "category": 2}
    assert first.info == {"act_id": 1, "youtube_id": "nja4-tUNLGs", "frame_sec": 10.0}
    assert [s.labels for s in result.splits["test"]] == [{"action": 2, "category": 1}, {"action": 1, "category": 0}]
    assert result.skipped[0].item == "RELEASE.annolist(2)" and "no activity label" in result.skipped[0].reason


def test_bad_release(tmp_path):
    acts = [(1, "curling", "sports"), (1, "bowling", "sports")]
    with pytest.raises(ValueError, match=r"annolist\(2\): act_id 1 is named 'bowling' here but 'curling'"):
        read_mpii(_release(tmp_path / "a.mat", acts, [1, 1]))
    with pytest.raises(ValueError, match=r"annolist\(2\): id '0.jpg' occurs twice"):
        read_mpii(_release(tmp_path / "b.mat", acts[:1] * 2, [1, 1], names=["0.jpg", "0.jpg"]))
    with pytest.raises(ValueError, match=r"annolist \(2\), img_train \(3\)"):
        read_mpii(_release(tmp_path / "c.mat", acts, [1, 1, 0]))
    savemat(tmp_path / "d.mat", {"other": np.zeros(2)})
    with pytest.raises(ValueError, match=r"d.mat: no variable 'RELEASE'"):
        read_mpii(tmp_path / "d.mat")
