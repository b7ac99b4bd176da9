"""Conjugate mining (ActX): before/after the action, nearest negatives, still images with the actor removed."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from actattn.conjugates import (
    Conjugate,
    load_pairs,
    mine_synthhoi,
    nearest_negatives,
    outside_action,
    poisson_blend,
    remove_actor,
    save_pairs,
)
from actattn.data.synthetic import load_groundtruth


def test_before_and_after_never_overlap_the_action() -> None:
    pairs = outside_action("v.mp4", (5, 12), 20, min_frames=4)
    assert pairs == [Conjugate("v.mp4", 0, 5, "before"), Conjugate("v.mp4", 12, 20, "after")]
    assert outside_action("v.mp4", (2, 12), 20, min_frames=4) == [Conjugate("v.mp4", 12, 20, "after")]
    with pytest.raises(ValueError, match="not inside its 20 frames"):
        outside_action("v.mp4", (5, 25), 20)


def test_mined_synthhoi_pairs_come_from_the_same_video_outside_the_action(tiny_synth: Path) -> None:
    pairs = mine_synthhoi(tiny_synth, "train", min_frames=1)
    assert len(pairs) == 24 and sum(map(len, pairs.values())) > 0
    for key, conjugates in pairs.items():
        start, end = load_groundtruth(tiny_synth / "groundtruth" / f"{key}.npz")["interval"]
        for c in conjugates:
            assert c.video == f"videos/{key}.mp4"
            assert c.stop <= start or c.start >= end


def test_nearest_negatives_by_cosine_distance() -> None:
    negatives = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    indices, distances = nearest_negatives(np.array([[2.0, 0.1], [0.1, 3.0]]), negatives, k=2)
    assert indices.tolist() == [[0, 2], [1, 2]]
    assert (np.diff(distances, axis=1) >= 0).all() and distances[0, 0] < 0.01
    with pytest.raises(ValueError, match="k = 5 with 4 negatives"):
        nearest_negatives(np.zeros((1, 2)), negatives, k=5)


def test_the_actor_is_filled_in_from_the_background_and_the_rest_kept() -> None:
    rows = np.linspace(60, 180, 64)[:, None, None]
    image = np.broadcast_to(rows, (64, 80, 3)).astype(np.uint8).copy()  # a smooth vertical gradient
    person = image.copy()
    person[20:44, 30:50] = (250, 20, 20)  # a red "actor"
    removed = remove_actor(person, (30, 20, 50, 44))
    box = (slice(20, 44), slice(30, 50))
    assert np.abs(removed[box].astype(int) - image[box]).mean() < 12  # the gradient continues through the box
    assert np.abs(removed[box].astype(int) - person[box]).mean() > 60
    far = (slice(0, 10), slice(0, 20))
    assert np.array_equal(removed[far], person[far])
    with pytest.raises(ValueError, match="is empty"):
        remove_actor(person, (90, 10, 95, 20))


def test_the_cache_round_trips_and_a_bad_one_names_the_sample(tmp_path: Path) -> None:
    pairs = {"7": [Conjugate("videos/7.mp4", 0, 5, "before")], "8": []}
    assert load_pairs(save_pairs(pairs, tmp_path / "pairs.json")) == pairs
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"pairs": {"9": [{"video": "v", "start": 4, "stop": 4, "kind": "before"}]}}))
    with pytest.raises(ValueError, match="bad.json: sample 9: .*0 <= start < stop"):
        load_pairs(bad)


def test_poisson_blending_keeps_the_sources_gradients_and_the_targets_border() -> None:
    rng = np.random.default_rng(0)
    target = rng.integers(0, 100, (20, 24, 3)).astype(np.uint8)
    source = (target.astype(int) + 40).astype(np.uint8)  # the same gradients, brighter
    mask = np.zeros((20, 24), bool)
    mask[4:15, 5:19] = True
    blended = poisson_blend(source, target, mask)
    np.testing.assert_allclose(blended.astype(int), target.astype(int), atol=1)  # offset removed by the border
    assert np.array_equal(blended[~mask], target[~mask])
