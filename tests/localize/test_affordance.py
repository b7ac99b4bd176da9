import numpy as np
import pytest
import torch

from actattn.localize import affordance_mask, mask_iou, upsample_map


def cup_map() -> torch.Tensor:
    """4x4 attention peaking on a 'brim' (top row) with a weaker 'body' below."""
    return torch.tensor([
        [0.10, 0.90, 1.00, 0.10],
        [0.05, 0.60, 0.61, 0.05],
        [0.05, 0.30, 0.59, 0.05],
        [0.00, 0.00, 0.00, 0.00],
    ])


def test_mask_keeps_sixty_percent_of_the_maximum():
    expected = torch.tensor([
        [False, True, True, False],
        [False, True, True, False],
        [False, False, False, False],
        [False, False, False, False],
    ])
    mask = affordance_mask(cup_map())
    assert mask.dtype == torch.bool
    assert torch.equal(mask, expected)


def test_threshold_is_relative_to_the_maximum():
    assert torch.equal(affordance_mask(cup_map() * 7.0), affordance_mask(cup_map()))
    assert affordance_mask(cup_map(), threshold=0.95).sum() == 1


def test_mask_on_the_frame_thresholds_the_upsampled_map():
    mask = affordance_mask(cup_map(), frame_size=(16, 12))
    upsampled = upsample_map(cup_map(), (16, 12))
    assert mask.shape == (16, 12)
    assert torch.equal(mask, upsampled >= 0.6 * upsampled.max())


def test_mask_iou_against_a_drawn_part():
    truth = np.zeros((4, 4), dtype=bool)
    truth[0, :] = True  # the whole brim row: 4 pixels; predicted 4 pixels, 2 shared
    assert mask_iou([affordance_mask(cup_map())], [truth]).tolist() == pytest.approx([2 / 6])


def test_nan_map_is_rejected():
    attention = cup_map()
    attention[3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        affordance_mask(attention)
