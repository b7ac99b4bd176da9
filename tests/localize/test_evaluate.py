import numpy as np
import pytest
import torch

from actattn.localize import LocalizationScores, box_average_precision, mask_iou, temporal_iou

TRUTH = [[(0.0, 0.0, 10.0, 10.0)], [(20.0, 20.0, 40.0, 30.0)]]


def test_perfect_boxes_have_ap_one():
    ap = box_average_precision(TRUTH, [[0.9], [0.4]], TRUTH)
    assert ap == {0.3: 1.0, 0.4: 1.0, 0.5: 1.0}


def test_disjoint_boxes_have_ap_zero():
    far = [[(50.0, 50.0, 60.0, 60.0)], [(0.0, 0.0, 5.0, 5.0)]]
    assert box_average_precision(far, [[0.9], [0.4]], TRUTH) == {0.3: 0.0, 0.4: 0.0, 0.5: 0.0}


def test_box_with_iou_point_four_counts_at_point_three_not_point_five():
    half = [[(0.0, 0.0, 10.0, 4.0)]]  # 40 / 100 of the truth box
    ap = box_average_precision(half, [[0.7]], TRUTH[:1], iou_thresholds=(0.3, 0.5))
    assert ap == {0.3: 1.0, 0.5: 0.0}


def test_scores_rank_the_boxes():
    boxes = [[(0.0, 0.0, 10.0, 10.0), (60.0, 60.0, 70.0, 70.0)]]
    right_first = box_average_precision(boxes, [[0.9, 0.1]], TRUTH[:1])
    wrong_first = box_average_precision(boxes, [[0.1, 0.9]], TRUTH[:1])
    assert right_first[0.5] == 1.0
    assert 0.0 < wrong_first[0.5] < 1.0


def test_mismatched_inputs_are_rejected():
    with pytest.raises(ValueError, match="2 predicted boxes but 1 scores"):
        box_average_precision([[(0, 0, 1, 1), (0, 0, 2, 2)]], [[0.5]], [[(0, 0, 1, 1)]])
    with pytest.raises(ValueError, match="no ground-truth boxes"):
        box_average_precision([[(0, 0, 1, 1)]], [[0.5]], [[]])


def test_temporal_iou_hand_example():
    ious = temporal_iou([(0, 10), (4, 8), (0, 5)], [(5, 20), (4, 8), (5, 9)])
    assert ious.tolist() == pytest.approx([5 / 20, 1.0, 0.0])
    with pytest.raises(ValueError, match="end > start"):
        temporal_iou([(3, 3)], [(0, 4)])


def test_mask_iou_hand_example():
    rows = np.zeros((4, 4), dtype=bool)
    rows[:2] = True
    cols = torch.zeros(4, 4, dtype=torch.bool)
    cols[:, :2] = True
    empty = torch.zeros(4, 4, dtype=torch.bool)
    assert mask_iou([rows, cols, empty], [cols, cols, empty]).tolist() == pytest.approx([4 / 12, 1.0, 1.0])


def test_scores_summary_names():
    scores = LocalizationScores(box_ap={0.3: 0.7, 0.5: 0.3}, temporal_iou=0.5)
    assert scores.as_dict() == {"box_ap@0.3": 0.7, "box_ap@0.5": 0.3, "temporal_iou": 0.5}
