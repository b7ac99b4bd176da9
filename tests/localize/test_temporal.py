import math

import numpy as np
import pytest
import torch

from actattn.localize import frames_per_segment, segment_changes, trim_interval
from actattn.localize.temporal import presence_interval, presence_threshold

FPS = 12.0  # Something-Something: four frames in a 1/3 s segment


def blob(x: float, height: int = 8, width: int = 28) -> np.ndarray:
    """A Gaussian bump centred at column x on a positive floor, like a softmax attention map."""
    rows, cols = np.mgrid[:height, :width]
    return np.exp(-((cols - x) ** 2 + (rows - 4) ** 2) / 2.0) + 1e-3


def moving_object(num_frames: int, a: int, b: int) -> np.ndarray:
    """Static maps before frame a and from frame b on; the blob moves one column a frame in [a, b]."""
    return np.stack([blob(2 + min(max(t - a + 1, 0), b - a + 1)) for t in range(num_frames)])


def test_segments_last_a_third_of_a_second():
    assert frames_per_segment(12.0) == 4
    assert frames_per_segment(30.0) == 10
    assert frames_per_segment(2.0) == 1


def test_interval_covers_the_change_at_segment_boundaries():
    assert trim_interval(moving_object(36, 8, 24), FPS) == (8, 24)


def test_interval_rounds_outwards_to_segments():
    start, end = trim_interval(moving_object(36, 6, 26), FPS)
    assert (start, end) == (4, 28)


def test_change_values_are_zero_where_static():
    changes = segment_changes(moving_object(36, 8, 24), FPS)
    assert changes.shape == (8,)
    assert torch.all(changes[:1] == 0) and torch.all(changes[6:] == 0)
    assert torch.all(changes[1:6] >= 0.06)


def test_short_action_keeps_the_whole_video():
    maps = moving_object(36, 12, 16)
    assert trim_interval(maps, FPS, min_seconds=0.0) == (12, 16)
    assert trim_interval(maps, FPS) == (0, 36)


def test_static_video_keeps_the_whole_video():
    maps = np.stack([blob(5)] * 20)
    assert trim_interval(maps, FPS) == (0, 20)


def test_kl_direction_is_earlier_segment_against_later():
    maps = torch.tensor([[[2.0, 2.0]], [[1.0, 3.0]]])  # P = (1/2, 1/2), Q = (1/4, 3/4)
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)  # 0.1438; reverse is 0.1308
    assert segment_changes(maps, fps=3.0).tolist() == pytest.approx([expected])


def test_maps_are_averaged_within_a_segment():
    maps = torch.tensor([[[1.0, 1.0]], [[3.0, 1.0]], [[1.0, 1.0]], [[1.0, 1.0]], [[1.0, 1.0]]])
    changes = segment_changes(maps, fps=6.0)  # two frames a segment, the fifth frame alone
    first = 2 / 3 * math.log((2 / 3) / 0.5) + 1 / 3 * math.log((1 / 3) / 0.5)
    assert changes.tolist() == pytest.approx([first, 0.0])


def test_bad_maps_are_rejected():
    with pytest.raises(ValueError, match="negative"):
        segment_changes(-np.ones((4, 2, 2)), FPS)
    with pytest.raises(ValueError, match="NaN"):
        trim_interval(np.full((4, 2, 2), np.nan), FPS)
    with pytest.raises(ValueError, match="all-zero"):
        segment_changes(np.zeros((8, 2, 2)), FPS)


def test_presence_interval_is_the_longest_run_above_the_midpoint():
    levels = [0.1, 0.2, 0.8, 0.9, 0.7, 0.2, 0.9, 0.1]  # midpoint 0.5: runs [2, 5) and [6, 7)
    assert presence_interval(levels) == (2, 5)
    assert presence_interval(np.array([0.9, 0.9, 0.1])) == (0, 2)  # a run may touch either end
    assert presence_interval([0.1, 0.3, 0.3]) == (1, 3)
    assert presence_threshold([0.1, 0.3, 0.3]) == pytest.approx(0.2)  # the level a frame must reach


def test_constant_presence_keeps_the_whole_video_and_bad_levels_are_rejected():
    assert presence_interval(torch.full((5,), 0.4)) == (0, 5)
    with pytest.raises(ValueError, match="finite"):
        presence_interval([0.1, float("nan")])
    with pytest.raises(ValueError, match="finite"):
        presence_interval([])
