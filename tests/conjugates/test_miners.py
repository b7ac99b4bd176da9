"""The three miners on arrays (ActX): before/after the action, nearest negatives, still images with the
actors removed."""
from __future__ import annotations

import numpy as np
import pytest

from actattn.conjugates import BLEND_MARGIN, Conjugate, nearest_negatives, outside_action, poisson_blend, remove_actor


def test_before_and_after_never_overlap_the_action() -> None:
    pairs = outside_action("v.mp4", (5, 12), 20, min_frames=4)
    assert pairs == [Conjugate("v.mp4", 0, 5, "before"), Conjugate("v.mp4", 12, 20, "after")]
    assert outside_action("v.mp4", (2, 12), 20, min_frames=4) == [Conjugate("v.mp4", 12, 20, "after")]
    with pytest.raises(ValueError, match="not inside its 20 frames"):
        outside_action("v.mp4", (5, 25), 20)


def test_before_and_after_stop_at_the_other_annotated_segments() -> None:
    others = [(0, 3), (10, 12), (18, 25), (30, 34), (34, 40)]  # (10, 12) is the action itself
    assert outside_action("v.mp4", (10, 12), 40, min_frames=2, others=others) == [
        Conjugate("v.mp4", 3, 10, "before"), Conjugate("v.mp4", 12, 18, "after")]
    # another segment across the action's start (8, 11): no before; one inside the action changes nothing
    assert outside_action("v.mp4", (10, 20), 40, min_frames=2, others=[(8, 11), (12, 14)]) == [
        Conjugate("v.mp4", 20, 40, "after")]
    assert outside_action("v.mp4", (10, 20), 40, min_frames=2, others=[(19, 22)]) == [
        Conjugate("v.mp4", 0, 10, "before")]
    # max_frames keeps the frames nearest the action
    assert outside_action("v.mp4", (10, 20), 40, max_frames=4) == [
        Conjugate("v.mp4", 6, 10, "before"), Conjugate("v.mp4", 20, 24, "after")]


def test_nearest_negatives_by_cosine_distance() -> None:
    negatives = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    indices, distances = nearest_negatives(np.array([[2.0, 0.1], [0.1, 3.0]]), negatives, k=2)
    assert indices.tolist() == [[0, 2], [1, 2]]
    assert (np.diff(distances, axis=1) >= 0).all() and distances[0, 0] < 0.01
    with pytest.raises(ValueError, match="k = 5 with 4 negatives"):
        nearest_negatives(np.zeros((1, 2)), negatives, k=5)


def test_the_actors_are_filled_in_from_the_background_and_the_rest_kept() -> None:
    rows = np.linspace(60, 180, 64)[:, None, None]
    image = np.broadcast_to(rows, (64, 80, 3)).astype(np.uint8).copy()  # a smooth vertical gradient
    people = image.copy()
    people[20:44, 30:50] = (250, 20, 20)  # a red "actor"
    people[10:30, 60:72] = (20, 250, 20)  # and a green one
    removed = remove_actor(people, [(30, 20, 50, 44), (60, 10, 72, 30)])
    for box in ((slice(20, 44), slice(30, 50)), (slice(10, 30), slice(60, 72))):
        assert np.abs(removed[box].astype(int) - image[box]).mean() < 12  # the gradient continues through the box
        assert np.abs(removed[box].astype(int) - people[box]).mean() > 60
    near = np.zeros(image.shape[:2], bool)
    near[20 - BLEND_MARGIN:44 + BLEND_MARGIN, 30 - BLEND_MARGIN:50 + BLEND_MARGIN] = True
    near[10 - BLEND_MARGIN:30 + BLEND_MARGIN, 60 - BLEND_MARGIN:72 + BLEND_MARGIN] = True
    assert np.array_equal(removed[~near], people[~near])
    with pytest.raises(ValueError, match="is empty"):
        remove_actor(people, [(30, 20, 50, 44), (90, 10, 95, 20)])
    with pytest.raises(ValueError, match="no box"):
        remove_actor(people, [])


def test_poisson_blending_keeps_the_sources_gradients_and_the_targets_border() -> None:
    rng = np.random.default_rng(0)
    target = rng.integers(0, 100, (20, 24, 3)).astype(np.uint8)
    source = (target.astype(int) + 40).astype(np.uint8)  # the same gradients, brighter
    mask = np.zeros((20, 24), bool)
    mask[4:15, 5:19] = True
    blended = poisson_blend(source, target, mask)
    np.testing.assert_allclose(blended.astype(int), target.astype(int), atol=1)  # offset removed by the border
    assert np.array_equal(blended[~mask], target[~mask])
