"""actattn.pretrain: per-cell targets from SynthHOI's ground truth, and the weights it makes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from einops import reduce

from actattn.backbones.small_cnn import WEIGHTS, SmallCNN
from actattn.data.synthetic import KEYPOINT_NAMES, OBJECTS, preset, render_scene
from actattn.pretrain import TARGETS, SceneCells, cell_targets, pretrain


def test_cell_targets_are_the_shares_of_each_cell_that_each_thing_covers() -> None:
    scene = render_scene(preset("default", size=64), seed=3)
    cells = cell_targets(scene, stride=8)
    arm_at, hand_at, joints_at = len(OBJECTS), len(OBJECTS) + 1, len(OBJECTS) + 2
    assert cells.shape == (len(scene.frames), len(TARGETS), 8, 8)
    assert TARGETS[arm_at:] == ["arm", "hand", *KEYPOINT_NAMES]
    assert cells.min() >= 0 and cells.max() <= 1
    arm = reduce(scene.arm_masks.astype(np.float32), "t (h a) (w b) -> t h w", "mean", a=8, b=8)
    np.testing.assert_allclose(cells[:, arm_at], arm)
    for category, masks in zip(scene.categories, scene.masks.transpose(1, 0, 2, 3)):  # an object's share
        visible = reduce((masks & ~scene.arm_masks).astype(np.float32), "t (h a) (w b) -> t h w", "mean", a=8, b=8)
        assert (cells[:, category] >= visible - 1e-6).all()
    absent = sorted(set(range(len(OBJECTS))) - set(scene.categories.tolist()))
    assert not cells[:, absent].any()
    x1, y1, x2, y2 = np.clip(np.round(scene.hand_boxes[-1]).astype(int), 0, 64)
    assert cells[-1, hand_at].sum() * 64 == pytest.approx((x2 - x1) * (y2 - y1))
    for t, j in zip(*np.nonzero(scene.keypoints[..., 2] > 0)):  # a visible joint: 1 in its cell, 0 elsewhere
        x, y = (scene.keypoints[t, j, :2] // 8).astype(int)
        joint = cells[t, joints_at + j]
        assert joint.sum() == 1 and joint[y, x] == 1


def test_pretraining_writes_weights_the_small_cnn_loads(tmp_path: Path) -> None:
    assert len(SceneCells(3, seed=1)) == 3
    path = pretrain(tmp_path / "weights.pt", scenes=2, epochs=1, batch_size=2, workers=0)
    saved = torch.load(path, weights_only=True)
    assert saved["recipe"]["steps"] == 1 and saved["dilations"] == [1, 1] and saved["targets"] == TARGETS
    net = SmallCNN((1, 1))
    net.load_state_dict(saved["state_dict"])


def test_the_shipped_weights_load_and_need_their_dilations() -> None:
    shipped = torch.load(WEIGHTS, weights_only=True)
    net = SmallCNN((1, 1), pretrained=True)
    for name, value in net.state_dict().items():
        torch.testing.assert_close(value, shipped["state_dict"][name], rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"dilations \(1, 1\)"):
        SmallCNN((2, 4), pretrained=True)
