import dataclasses

import numpy as np
import pytest
import torch

from actattn.data.synthetic import preset, render_scene_for_label
from actattn.localize import LocalizationScores, box_average_precision, mask_iou, temporal_iou
from actattn.localize.evaluate import GroundTruth, evaluate_clip, evaluation_frames, summarize
from actattn.localize.run import FrameGeometry, localize_maps

FPS = 12.0
TRUTH = [[(0.0, 0.0, 10.0, 10.0)], [(20.0, 20.0, 40.0, 30.0)]]
EXACT = 1e-12  # COCOeval's precision tp / (tp + fp + eps) makes a perfect AP 1 - 1e-16


def test_perfect_boxes_have_ap_one():
    ap = box_average_precision(TRUTH, [[0.9], [0.4]], TRUTH)
    assert ap == pytest.approx({0.3: 1.0, 0.4: 1.0, 0.5: 1.0}, abs=EXACT)


def test_disjoint_boxes_have_ap_zero():
    far = [[(50.0, 50.0, 60.0, 60.0)], [(0.0, 0.0, 5.0, 5.0)]]
    assert box_average_precision(far, [[0.9], [0.4]], TRUTH) == {0.3: 0.0, 0.4: 0.0, 0.5: 0.0}


def test_box_with_iou_point_four_counts_at_point_three_not_point_five():
    half = [[(0.0, 0.0, 10.0, 4.0)]]  # 40 / 100 of the truth box
    ap = box_average_precision(half, [[0.7]], TRUTH[:1], iou_thresholds=(0.3, 0.5))
    assert ap == pytest.approx({0.3: 1.0, 0.5: 0.0}, abs=EXACT)


def test_scores_rank_the_boxes():
    boxes = [[(0.0, 0.0, 10.0, 10.0), (60.0, 60.0, 70.0, 70.0)]]
    right_first = box_average_precision(boxes, [[0.9, 0.1]], TRUTH[:1])
    wrong_first = box_average_precision(boxes, [[0.1, 0.9]], TRUTH[:1])
    assert right_first[0.5] == pytest.approx(1.0, abs=EXACT)
    assert 0.0 < wrong_first[0.5] < 1.0


def test_a_recall_equal_to_a_recall_threshold_counts_as_cocoeval_counts_it():
    # 4 of 5 boxes found, all scores tied: precision 1 up to recall 0.8 exactly, so COCOeval's
    # float64 thresholds 0, 0.01, ..., 0.8 all get precision 1: AP = 81 / 101. torchmetrics'
    # float32 thresholds put 0.8 (and 0.6) just above 0.8 and gave 80 / 101.
    truth = [[(20.0 * k, 0.0, 20.0 * k + 10.0, 10.0) for k in range(5)]]
    ap = box_average_precision([truth[0][:4]], [[0.5] * 4], truth, iou_thresholds=(0.5,))
    assert ap[0.5] == pytest.approx(81 / 101, abs=EXACT)


def test_tied_scores_rank_frame_by_frame_in_the_given_order():
    # a hit in frame 0 and a miss in frame 1 tie: COCOeval ranks the hit first (precision 1, then
    # 1/2 at recall 1/2), so recall thresholds 0..0.5 get 1 and AP = 51 / 101
    truth = [[(0.0, 0.0, 10.0, 10.0)], [(0.0, 0.0, 10.0, 10.0)]]
    ap = box_average_precision([[(0.0, 0.0, 10.0, 10.0)], [(50.0, 50.0, 60.0, 60.0)]], [[0.5], [0.5]], truth)
    assert ap[0.5] == pytest.approx(51 / 101, abs=EXACT)
    swapped = box_average_precision([[(50.0, 50.0, 60.0, 60.0)], [(0.0, 0.0, 10.0, 10.0)]], [[0.5], [0.5]], truth)
    assert swapped[0.5] == pytest.approx(51 / 2 / 101, abs=EXACT)


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


# ---------------------------------------------------------------------- evaluation, known answers
@pytest.fixture(scope="module")
def lifting():
    """A 36-frame (3 s) SynthHOI scene of 'Lifting [something] up' (one object)."""
    scene = render_scene_for_label(preset("tiny", num_frames=36), 3, 2)
    return scene, GroundTruth.from_arrays(vars(scene), "scene")


def moving_blob(num_frames: int, start: int, end: int) -> torch.Tensor:
    """Maps (T, 8, 40): a sharp bump still before `start` and from `end` on, a column a frame between."""
    rows, cols = np.mgrid[:8, :40]
    position = np.clip(np.arange(num_frames), start, end) - start
    maps = [np.exp(-((cols - 2 - p) ** 2 + (rows - 4) ** 2) / 2.0) + 1e-3 for p in position]
    return torch.tensor(np.stack(maps), dtype=torch.float32)


def constructed_localization(scene, shift: int = 0):
    """Boxes from the manipulated object's masks, the interval from a map moving only during the
    action, affordance from the contact region; `shift` rolls the masks and contact sideways."""
    size = scene.frames.shape[1]
    identity = FrameGeometry((size, size), (size, size), 1)
    objects = torch.tensor(np.roll(scene.masks[:, scene.manipulated][:, 0], shift, axis=-1), dtype=torch.float32)
    contact = torch.tensor(np.roll(scene.contact, shift, axis=-1), dtype=torch.float32) + 1e-6
    blob = moving_blob(len(scene.frames), *scene.interval)
    boxes = localize_maps(objects, identity, FPS, num_objects=1)
    interval = localize_maps(blob, FrameGeometry((8, 40), (8, 40), 1), FPS, 1).interval
    affordance = localize_maps(contact, identity, FPS, 1).affordance
    return dataclasses.replace(boxes, interval=interval, affordance=affordance)


def test_maps_equal_to_the_truth_score_perfectly(lifting):
    scene, truth = lifting
    localization = constructed_localization(scene)
    evaluation = evaluate_clip(localization, truth, np.random.default_rng(0))
    scores = summarize([evaluation])
    assert scores.box_ap == {0.3: pytest.approx(1.0), 0.4: pytest.approx(1.0), 0.5: pytest.approx(1.0)}
    assert scores.mask_iou == pytest.approx(1.0)
    assert len(evaluation.mask_ious) == int(scene.contact.any((1, 2)).sum()) > 0
    # the trimmed interval is made of whole 4-frame segments: each end is off by less than a segment,
    # and with at least 18 frames of action (SynthHOI: 50-80 % of 36) the IoU is at least 18 / (18 + 6)
    (start, end), (true_start, true_end) = localization.interval, truth.interval
    assert abs(start - true_start) < 4 and abs(end - true_end) < 4
    assert scores.temporal_iou >= 0.75


def test_a_map_changing_only_during_the_action_trims_it_exactly(lifting):
    scene, truth = lifting
    truth = dataclasses.replace(truth, interval=(8, 24))  # on segment boundaries
    trimmed = localize_maps(moving_blob(36, 8, 24), FrameGeometry((8, 40), (8, 40), 1), FPS, 1).interval
    localization = dataclasses.replace(constructed_localization(scene), interval=trimmed)
    assert evaluate_clip(localization, truth, np.random.default_rng(0)).temporal_iou == 1.0


def test_maps_elsewhere_score_zero(lifting):
    scene, truth = lifting
    scores = summarize([evaluate_clip(constructed_localization(scene, shift=32), truth, np.random.default_rng(0))])
    assert scores.box_ap == {0.3: 0.0, 0.4: 0.0, 0.5: 0.0}
    assert scores.mask_iou == 0.0


def test_a_still_map_keeps_the_whole_video(lifting):
    scene, truth = lifting
    still = localize_maps(moving_blob(36, 0, 0), FrameGeometry((8, 40), (8, 40), 1), FPS, 1)
    assert still.interval == (0, 36)
    (start, end), total = scene.interval, 36
    loc = dataclasses.replace(constructed_localization(scene), interval=still.interval)
    assert evaluate_clip(loc, truth, np.random.default_rng(0)).temporal_iou == pytest.approx((end - start) / total)


def test_interaction_boxes_are_the_hand_then_the_manipulated_objects(lifting):
    scene, truth = lifting
    assert truth.hand_boxes.shape == (36, 4)
    shown = [t for t in range(36) if scene.hand_boxes[t, 2] > scene.hand_boxes[t, 0]]
    assert shown
    for t in range(36):
        hand = [tuple(map(float, scene.hand_boxes[t]))] if t in shown else []
        assert truth.interaction_boxes(t) == hand + truth.frame_boxes(t)
    with pytest.raises(ValueError, match="lacks \\['hand_boxes'\\]"):
        GroundTruth.from_arrays({k: v for k, v in vars(scene).items() if k != "hand_boxes"}, "scene")


def test_two_evaluation_frames_inside_the_action_drawn_from_the_seed(lifting):
    _, truth = lifting
    draws = [evaluation_frames(truth, np.random.default_rng([seed, 0])) for seed in range(6)]
    start, end = truth.interval
    for frames in draws:
        assert len(frames) == 2 and frames[0] < frames[1] and all(start <= t < end for t in frames)
    assert draws[0] == evaluation_frames(truth, np.random.default_rng([0, 0]))
    assert len({tuple(frames) for frames in draws}) > 1
