"""Relation pictures: the ORN paper's Fig. 5 (frame pairs) and Fig. 4 (class graph per action)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from actattn.viz.relations import RelationGraph, centre, relation_pairs_figure, strongest_frame_pairs


def test_strongest_frame_pairs_rank_by_their_strongest_object_pair() -> None:
    strength = torch.zeros(3, 2, 2)
    strength[0, 0, 1], strength[1, 1, 1], strength[2, 0, 0] = 0.2, 0.9, 0.5
    pair_frames = torch.tensor([[0, 1], [0, 2], [1, 2]])
    assert strongest_frame_pairs(strength, pair_frames, 2) == [1, 2]
    assert strongest_frame_pairs(torch.zeros(3, 2, 2), pair_frames, 2) == []


def test_centre_is_the_masks_centre_of_mass() -> None:
    mask = np.zeros((10, 10), bool)
    mask[2:4, 6:10] = True
    assert centre(mask) == pytest.approx((8.0, 3.0))
    assert centre(np.zeros((4, 4), bool)) is None


def test_fig5_draws_the_frame_pairs(tmp_path: Path) -> None:
    frames = np.full((3, 32, 40, 3), 90, np.uint8)
    masks = torch.zeros(3, 2, 8, 8)
    masks[:, 0, 1:4, 1:4] = 1
    masks[:, 1, 4:7, 4:8] = 1
    classes = torch.tensor([[0, 2], [0, -1], [1, 2]])
    strength = torch.rand(3, 2, 2)
    path = relation_pairs_figure(frames, masks, classes, strength, torch.tensor([[0, 1], [0, 2], [1, 2]]),
                                 ["hand", "cup", "box"], tmp_path / "fig5.png", title="clip")
    image = np.asarray(Image.open(path))
    assert image.shape[0] > image.shape[1] and image.std() > 0  # three rows of frame pairs


def test_fig4_divides_summed_strength_by_cooccurrence(tmp_path: Path) -> None:
    graph = RelationGraph(num_actions=2, num_object_classes=3)
    classes = torch.tensor([[0, 1], [2, -1]])
    pair_frames = torch.tensor([[0, 1]])
    graph.add(1, classes, torch.tensor([[[0.4, 9.0], [0.2, 9.0]]]), pair_frames)  # slot 1 of frame 1 is empty
    graph.add(1, classes, torch.tensor([[[0.8, 9.0], [0.0, 9.0]]]), pair_frames)
    weights = graph.weights(1)
    assert weights[0, 2] == pytest.approx(0.6) and weights[1, 2] == pytest.approx(0.1)
    assert graph.counts[1].sum() == 4 and graph.weights(0).sum() == 0  # the empty slot never counts
    path = graph.figure(["a", "b"], ["hand", "cup", "box"], tmp_path / "fig4.png")
    assert np.asarray(Image.open(path)).std() > 0
