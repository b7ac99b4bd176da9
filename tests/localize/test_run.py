from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask
from torchvision.ops import box_iou

from actattn.data.sampling import segment_indices
from actattn.localize import boxes_from_attention
from actattn.localize.evaluate import GroundTruth
from actattn.localize.temporal import presence_interval
from actattn.localize.run import (
    FrameGeometry,
    attention_weights,
    choose_map,
    clip_record,
    coverage_boxes,
    decode_mask,
    encode_mask,
    frame_attention,
    localize_frames,
    objects_in_template,
    predicted_objects,
    video_input,
)
from actattn.train import ActionRecognizer

NAMES = ["Pushing something from left to right", "Moving something and something closer to each other",
         "Lifting something up"]
FPS = 12.0


def recognizer(name: str = "dual_attention", class_names: list[str] = NAMES, **head_kwargs) -> ActionRecognizer:
    """An untrained small-CNN model (output stride 8) that reads 32 px short sides."""
    if name == "dual_attention":
        head_kwargs = {"num_objects": 5, "embed_dim": 16, "prior_hidden": 16, "trn_bottleneck": 16, **head_kwargs}
    torch.manual_seed(0)
    return ActionRecognizer(name, len(class_names), backbone="small_cnn", head_kwargs=head_kwargs,
                            class_names=class_names, pipeline={"size": 32}).eval()


def tsm_recognizer(name: str, **head_kwargs) -> ActionRecognizer:
    """An untrained TSM-4 resnet18 (output stride 32) that reads 64 px short sides."""
    if name == "dual_attention":
        head_kwargs = {"num_objects": 5, "embed_dim": 16, "prior_hidden": 16, "trn_bottleneck": 16, **head_kwargs}
    torch.manual_seed(0)
    return ActionRecognizer(name, len(NAMES), backbone="resnet18", backbone_kwargs={"tsm_segments": 4},
                            head_kwargs=head_kwargs, class_names=NAMES, pipeline={"size": 64}).eval()


def random_frames(num_frames: int, height: int = 48, width: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


# ---------------------------------------------------------------------------- maps of every frame
def test_input_keeps_the_aspect_ratio_without_cropping():
    video = video_input(random_frames(5, 60, 90), 32)
    assert video.shape == (3, 5, 32, 48) and video.dtype == torch.float32
    assert -3 < float(video.min()) < 0 < float(video.max()) < 3  # ImageNet-normalised


@pytest.mark.parametrize("name, kwargs", [("average_pooling", {}), ("attentional_pooling", {}),
                                          ("dual_attention", {"temporal": "tsn"})])
def test_tsn_heads_give_maps_for_all_frames_in_one_forward(name, kwargs):
    module = recognizer(name, **kwargs)
    video = video_input(random_frames(11), 32)  # 32 x 43 input -> 4 x 6 cells at stride 8
    attention = frame_attention(module, video)
    expected = module(video[None]).attention
    assert set(attention.maps) == set(expected)
    for key, maps in attention.maps.items():
        assert maps.shape == (11, 4, 6)
        torch.testing.assert_close(maps, expected[key][0])


def test_trn_dual_attention_gives_maps_for_all_frames():
    module = recognizer(temporal="trn", num_frames=4)
    attention = frame_attention(module, video_input(random_frames(10), 32))
    assert {k: tuple(v.shape) for k, v in attention.maps.items()} == {"action": (10, 4, 6), "object": (10, 4, 6)}
    assert attention.logits["action"].shape == (3,)
    torch.testing.assert_close(attention.maps["object"].sum((-2, -1)), torch.ones(10))


@pytest.mark.parametrize("mode", ["dual", "gt_priors", "self"])
def test_trn_maps_equal_the_heads_own_when_all_frames_fit(mode):
    """With T = num_frames the sampled frames are all frames: the attention module run alone with
    the forward's priors must give exactly the head's maps."""
    module = recognizer(temporal="trn", num_frames=4, mode=mode)
    video = video_input(random_frames(4), 32)
    labels = (2, (1, 4))
    attention = frame_attention(module, video, labels)
    own = module(video[None], action_labels=torch.tensor([2]), object_labels=torch.tensor([[1, 4]]))
    for key in ("action", "object"):
        torch.testing.assert_close(attention.maps[key], own.attention[key][0])
    torch.testing.assert_close(attention.logits["action"], own.logits["action"][0])


def test_tsm_dual_attention_maps_come_from_windows_of_the_trained_length():
    """TSM-4 on 10 frames: windows 0-3, 4-7 and 8, 9 padded with 9, 9; the prediction is that of
    the 4 test-sampled frames. gt_priors makes the maps independent of which frames predicted."""
    module = tsm_recognizer("dual_attention", mode="gt_priors")
    video = video_input(random_frames(10), 64)  # 64 x 85 input -> 2 x 3 cells at stride 32
    labels = (1, (2, 3))
    attention = frame_attention(module, video, labels)
    assert {k: tuple(v.shape) for k, v in attention.maps.items()} == {"action": (10, 2, 3), "object": (10, 2, 3)}
    gt = {"action_labels": torch.tensor([1]), "object_labels": torch.tensor([[2, 3]])}
    sampled = module(video[None, :, segment_indices(10, 4, train=False)], **gt)
    for task in ("action", "object", "object_2"):
        torch.testing.assert_close(attention.logits[task], sampled.logits[task][0])
    middle = module(video[None, :, 4:8], **gt).attention
    last = module(video[None, :, [8, 9, 9, 9]], **gt).attention
    for key in ("action", "object"):
        torch.testing.assert_close(attention.maps[key][4:8], middle[key][0])
        torch.testing.assert_close(attention.maps[key][8:], last[key][0, :2])


def test_tsm_average_pooling_maps_are_of_the_sampled_prediction():
    module = tsm_recognizer("average_pooling")
    video = video_input(random_frames(6), 64)
    attention = frame_attention(module, video)
    sampled = module(video[None, :, segment_indices(6, 4, train=False)])
    torch.testing.assert_close(attention.logits["action"], sampled.logits["action"][0])
    predicted = int(sampled.logits["action"].argmax())
    first = module(video[None, :, :4], class_maps=True).aux["top_down"][0, :, predicted]
    assert attention.maps["top_down"].shape == (6, 2, 3)
    torch.testing.assert_close(attention.maps["top_down"][:4], first)
    loc = localize_frames(module, random_frames(6), FPS).localization
    assert len(loc.boxes) == 6 and loc.affordance.shape == (6, 48, 64)


def test_ground_truth_priors_need_labels_and_baselines_have_no_maps():
    with pytest.raises(ValueError, match=r"reads \['label', 'objects'\] besides the video"):
        frame_attention(recognizer(mode="gt_priors"), video_input(random_frames(3), 32))
    with pytest.raises(ValueError, match="no attention maps"):
        frame_attention(recognizer(mode="multitask"), video_input(random_frames(3), 32))


def test_map_choice():
    assert choose_map(["action", "object"]) == "object"
    assert choose_map(["top_down", "combined", "bottom_up"]) == "combined"
    assert choose_map(["top_down"]) == "top_down"
    assert choose_map(["action", "object"], "action") == "action"
    with pytest.raises(ValueError, match="no 'combined' map"):
        choose_map(["action", "object"], "combined")


def test_distributions_pass_through_shares_are_divided_and_scores_are_softmaxed():
    softmaxed = torch.randn(3, 4, 5).flatten(1).softmax(-1).view(3, 4, 5)
    weights, how = attention_weights(softmaxed)
    assert how == "as returned" and torch.equal(weights, softmaxed)
    shares = torch.rand(3, 4, 5)
    shares[1] = 0.0
    weights, how = attention_weights(shares)
    assert how == "divided by each frame's sum"
    torch.testing.assert_close(weights[0], shares[0] / shares[0].sum())
    torch.testing.assert_close(weights[1], torch.full((4, 5), 1 / 20))  # an empty frame points nowhere
    scores = torch.randn(3, 4, 5)
    weights, how = attention_weights(scores)
    assert how == "softmax over each frame's positions"
    torch.testing.assert_close(weights.sum((-2, -1)), torch.ones(3))
    assert torch.equal(weights.flatten(1).argmax(-1), scores.flatten(1).argmax(-1))


def test_objects_come_from_the_templates_placeholders():
    assert [objects_in_template(name) for name in NAMES] == [1, 2, 1]
    assert objects_in_template("Putting number of something onto something") == 2
    assert objects_in_template("brush_hair") == 1


def test_the_second_object_head_sets_the_number_of_objects():
    two_objects = NAMES[1]
    null_second = {"action": torch.zeros(3), "object": torch.tensor([0.0, 0, 3]), "object_2": torch.tensor([5.0, 1])}
    assert predicted_objects(null_second, two_objects) == 1
    assert predicted_objects(null_second, two_objects, null_object=1) == 2
    assert predicted_objects({**null_second, "object_2": torch.tensor([1.0, 5])}, NAMES[0]) == 2
    assert predicted_objects({"action": torch.zeros(3)}, two_objects) == 2  # no object heads: the name


def test_a_null_second_object_keeps_one_box_per_frame():
    """The class name has two objects; the model predicts the null label second: one box a frame."""
    module = recognizer(temporal="tsn", mode="self")
    with torch.no_grad():
        module.model.head.action_head[-1].bias[1] = 100.0  # "Moving something and something closer ..."
        module.model.head.object_head[-1].bias[5] = 100.0  # object_2 = null (index 0 of the second half)
    video = localize_frames(module, random_frames(6), FPS, map_key="object")
    assert video.predicted == 1 and objects_in_template(NAMES[video.predicted]) == 2
    assert video.num_objects == 1 and all(len(boxes) == 1 for boxes in video.localization.boxes)
    with torch.no_grad():
        module.model.head.object_head[-1].bias[5] = 0.0
        module.model.head.object_head[-1].bias[7] = 100.0  # a real second object
    assert localize_frames(module, random_frames(6), FPS).num_objects == 2


# ------------------------------------------------------------------------------------ geometry
def test_a_feature_cell_maps_back_to_its_pixels_of_the_original_frame():
    """64 x 96 frames seen at 32 x 48 with stride 8: cell (1, 2) covers frame pixels x 32..48, y 16..32."""
    geometry = FrameGeometry((64, 96), (32, 48), 8)
    maps = torch.zeros(1, 4, 6)
    maps[0, 1, 2] = 1.0
    frame_map = geometry.to_frame(maps)
    assert frame_map.shape == (1, 64, 96)
    (x1, y1, x2, y2), = boxes_from_attention(frame_map[0])
    assert 32 <= x1 < x2 <= 48 and 16 <= y1 < y2 <= 32
    assert (x1 + x2) / 2 == pytest.approx(40, abs=1) and (y1 + y2) / 2 == pytest.approx(24, abs=1)


def test_a_grid_that_overhangs_the_input_is_cropped_not_stretched():
    """30 x 45 input at stride 8 has 4 x 6 cells covering 32 x 48 px; the last cell's centre is at
    input (44, 28), frame (88, 56) for 60 x 90 frames; its box is cut by the frame's edge."""
    geometry = FrameGeometry((60, 90), (30, 45), 8)
    maps = torch.zeros(1, 4, 6)
    maps[0, 3, 5] = 1.0
    (x1, y1, x2, y2), = boxes_from_attention(geometry.to_frame(maps)[0])
    assert (x2, y2) == (90, 60)
    assert x1 == pytest.approx(88 - 0.4 * 16, abs=1) and y1 == pytest.approx(56 - 0.4 * 16, abs=1)
    with pytest.raises(ValueError, match=r"expected a \(4, 6\) grid"):
        geometry.to_frame(torch.zeros(1, 4, 5))


def test_model_boxes_and_masks_lie_on_the_original_frames():
    frames = random_frames(9, 48, 80)
    video = localize_frames(recognizer("attentional_pooling"), frames, FPS)
    loc = video.localization
    assert len(loc.boxes) == len(loc.scores) == 9 and loc.affordance.shape == (9, 48, 80)
    boxes = np.array([box for frame in loc.boxes for box in frame])
    assert (boxes[:, [0, 1]] >= 0).all() and (boxes[:, 2] <= 80).all() and (boxes[:, 3] <= 48).all()
    assert video.map_key == "combined" and video.weighting == "softmax over each frame's positions"


def test_affordance_masks_follow_the_true_object_not_the_true_action():
    """Sec. 4.2: a gt_priors model's affordance mask segments alpha, which the ground-truth object
    steers (eq. 6); the ground-truth action steers only beta (eq. 7), the boxes' map."""
    module = recognizer(mode="gt_priors")
    attention = module.model.head.attention
    with torch.no_grad():  # peaked maps and strong priors, as a trained model's, not near-uniform ones
        attention.project.weight *= 300
        for layer in (attention.action_score, attention.object_score, attention.object_to_action,
                      attention.action_to_object):
            layer.weight *= 10
    frames = random_frames(3)

    def localized(action: int, objects: tuple[int, int]):
        return localize_frames(module, frames, FPS, labels=(action, objects))

    reference = localized(0, (1, 0))
    assert reference.affordance_key == "action" and reference.map_key == "object"
    other_action = localized(2, (1, 0))
    assert not torch.allclose(other_action.attention.maps["object"], reference.attention.maps["object"])
    np.testing.assert_array_equal(other_action.localization.affordance, reference.localization.affordance)
    other_object = localized(0, (3, 0))
    assert not np.array_equal(other_object.localization.affordance, reference.localization.affordance)


def test_models_without_an_action_map_segment_the_boxes_map():
    video = localize_frames(recognizer("attentional_pooling"), random_frames(3), FPS)
    assert video.affordance_key == video.map_key == "combined"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' own use of numpy
def test_masks_round_trip_through_coco_rle_and_json():
    mask = np.random.default_rng(0).random((7, 5)) > 0.5
    for mask in (mask, ~mask, np.ones((3, 4), bool), np.zeros((3, 4), bool)):
        rle = json.loads(json.dumps(encode_mask(mask)))
        assert rle["size"] == list(mask.shape) and isinstance(rle["counts"], str)
        np.testing.assert_array_equal(decode_mask(rle), mask)
        np.testing.assert_array_equal(coco_mask.decode({**rle, "counts": rle["counts"].encode()}), mask)
        assert coco_mask.area(coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))) == mask.sum()


def test_a_head_with_an_interval_map_takes_the_interval_from_it():
    module = recognizer("action_context")  # ActX: interval_map "s_act"
    frames = random_frames(12)
    frames[4:9, :24, :24] = 255  # something in frames 4..8 for S^act to see, in an untrained model at least
    localized = localize_frames(module, frames, FPS)
    s_act = localized.attention.maps["s_act"]
    assert localized.interval_key == "s_act" and s_act.shape == localized.attention.maps["action"].shape
    assert localized.localization.interval == presence_interval(s_act.mean(dim=(1, 2)))
    assert clip_record("c", localized, NAMES)["interval_map"] == "s_act"
    baseline = localize_frames(recognizer("average_pooling"), frames, FPS)
    assert baseline.interval_key == baseline.map_key == "top_down"


def test_the_true_boxes_coverage_map_gives_back_the_true_boxes():
    # two objects on 64 px frames at stride 8: a cell-aligned 16 x 24 box and a 16 x 16 box half a cell off the grid
    boxes = np.tile(np.array([[16.0, 16.0, 32.0, 40.0], [40.0, 44.0, 56.0, 60.0]], np.float32), (4, 1, 1))
    truth = GroundTruth(boxes, (0, 4), np.zeros((4, 64, 64), bool), np.zeros((4, 4), np.float32))
    for frame in coverage_boxes(truth, FrameGeometry((64, 64), (64, 64), 8), range(4))[0]:
        assert len(frame) == 2  # as many boxes as objects
        ious = box_iou(torch.tensor(frame), torch.from_numpy(boxes[0])).max(dim=0).values
        assert (ious > 0.6).all(), ious
    one = GroundTruth(boxes[:, :1], (0, 4), np.zeros((4, 64, 64), bool), np.zeros((4, 4), np.float32))
    assert all(len(frame) == 1 for frame in coverage_boxes(one, FrameGeometry((64, 64), (64, 64), 8), range(4))[0])
