import numpy as np
import pytest
import torch

from actattn.localize import box_scores, boxes_from_attention, scale_boxes, threshold_map, upsample_map


def two_objects_map() -> np.ndarray:
    """12x16 map: a 4x7 rectangle (weight 0.8), a 3x3 one (weight 1.0), a blob below 60% of the max."""
    attention = np.zeros((12, 16))
    attention[2:6, 3:10] = 0.8
    attention[8:11, 12:15] = 1.0
    attention[9:11, 1:3] = 0.5
    return attention


def test_two_rectangles_give_exact_boxes_largest_first():
    assert boxes_from_attention(two_objects_map()) == [(3.0, 2.0, 10.0, 6.0), (12.0, 8.0, 15.0, 11.0)]


def test_tensor_input_gives_the_same_boxes():
    as_tensor = torch.from_numpy(two_objects_map()).float()
    assert boxes_from_attention(as_tensor) == boxes_from_attention(two_objects_map())


def test_second_box_needs_two_predicted_objects_and_enough_size():
    attention = two_objects_map()
    largest = [(3.0, 2.0, 10.0, 6.0)]
    assert boxes_from_attention(attention, num_objects=1) == largest
    assert boxes_from_attention(attention, max_boxes=1) == largest
    # second box area 9 < 0.5 * 28
    assert boxes_from_attention(attention, min_relative_size=0.5) == largest


def test_single_pixel_region_is_its_pixel_edge_box():
    attention = np.zeros((6, 8))
    attention[3, 5] = 1.0
    assert boxes_from_attention(attention) == [(5.0, 3.0, 6.0, 4.0)]


def test_threshold_is_a_fraction_of_the_maximum_inclusive():
    attention = np.zeros((1, 5))
    attention[0, 1] = 1.0
    attention[0, 2] = 0.6
    attention[0, 3] = 0.59
    assert threshold_map(attention).tolist() == [[False, True, True, False, False]]
    assert boxes_from_attention(attention) == [(1.0, 0.0, 3.0, 1.0)]
    assert boxes_from_attention(attention, threshold=0.5) == [(1.0, 0.0, 4.0, 1.0)]


def test_diagonal_neighbours_form_one_region():
    attention = np.eye(4)
    assert boxes_from_attention(attention) == [(0.0, 0.0, 4.0, 4.0)]


def test_constant_map_gives_the_whole_map():
    assert boxes_from_attention(np.full((5, 7), 0.3)) == [(0.0, 0.0, 7.0, 5.0)]
    assert boxes_from_attention(np.zeros((5, 7))) == [(0.0, 0.0, 7.0, 5.0)]


def test_nan_map_is_rejected():
    attention = two_objects_map()
    attention[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        boxes_from_attention(attention)


def test_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match="expected 2 dims"):
        boxes_from_attention(np.zeros((2, 3, 4)))


def test_box_scores_are_mean_attention_inside():
    attention = np.zeros((4, 4))
    attention[0, 0] = 1.0
    attention[0, 1] = 0.5
    assert box_scores(attention, [(0, 0, 2, 1), (0, 0, 2, 2)]) == [0.75, 0.375]
    with pytest.raises(ValueError, match="outside"):
        box_scores(attention, [(0, 0, 5, 1)])


def test_upsample_map_keeps_leading_dims():
    maps = torch.rand(3, 7, 7)
    assert upsample_map(maps, (28, 21)).shape == (3, 28, 21)
    assert upsample_map(maps[0], (28, 21)).shape == (28, 21)


def test_boxes_on_the_upsampled_map_match_scaled_grid_boxes():
    grid = np.zeros((7, 7))
    grid[2:4, 2:4] = 1.0
    on_grid = boxes_from_attention(grid)
    assert on_grid == [(2.0, 2.0, 4.0, 4.0)]
    on_frame = boxes_from_attention(upsample_map(grid, (28, 28)))
    assert on_frame == scale_boxes(on_grid, (7, 7), (28, 28)) == [(8.0, 8.0, 16.0, 16.0)]


def test_scale_boxes_uses_height_and_width():
    assert scale_boxes([(1, 2, 3, 4)], (7, 7), (14, 28)) == [(4.0, 4.0, 12.0, 8.0)]
