"""actattn.data.transforms: one crop/flip per clip, keypoints follow the pixels, label-aware flips."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from actattn.data.pose import JOINT_NAMES
from actattn.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CenterCrop,
    Compose,
    HorizontalFlip,
    MultiScaleCrop,
    Normalize,
    RandomCrop,
    Resize,
    eval_transform,
    flip_label_map,
    train_transform,
)

SSV2_LABELS = (Path(__file__).resolve().parents[3] / "shared" / "annotations" / "something-something-v2"
               / "something-something-v2-labels.json")

MEAN = torch.tensor(IMAGENET_MEAN).view(3, 1, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(3, 1, 1, 1)


def _pixels(video: torch.Tensor) -> torch.Tensor:
    """Undo Normalize: (3, T, H, W) -> (T, H, W) grey levels in [0, 255]."""
    return ((video * STD + MEAN) * 255).mean(dim=0)


def _square_clip(num_frames=3, top=40, left=70, side=8):
    """Dark frames (96x128) with a white square; its centre keypoint in continuous pixel coordinates."""
    frames = np.zeros((num_frames, 96, 128, 3), dtype=np.uint8)
    frames[:, top : top + side, left : left + side] = 255
    keypoints = np.tile(np.array([[left + side / 2, top + side / 2, 1.0]], dtype=np.float32), (num_frames, 1, 1))
    return frames, keypoints


def test_resize_short_side_scales_keypoints():
    frames, keypoints = _square_clip()
    out = Resize(48)({"frames": frames, "label": 0, "keypoints": keypoints})
    assert out["frames"].shape == (3, 48, 64, 3)
    np.testing.assert_allclose(out["keypoints"][0, 0], [37.0, 22.0, 1.0])
    np.testing.assert_array_equal(keypoints[0, 0], [74.0, 44.0, 1.0])  # input untouched


def test_keypoints_move_with_the_pixels_through_crop_resize_and_flip():
    frames, keypoints = _square_clip()
    pipeline = Compose([Resize(64), MultiScaleCrop(48), HorizontalFlip({0: 0}, p=1.0, joint_names=["centre"]),
                        Normalize()])
    checked = 0
    for seed in range(30):
        out = pipeline({"frames": frames, "label": 0, "keypoints": keypoints}, np.random.default_rng(seed))
        x, y, visible = out["keypoints"][0, 0].tolist()
        assert visible == 1.0
        if not (4 <= x <= 44 and 4 <= y <= 44):
            continue  # the crop cut the square off
        image = _pixels(out["video"])[0]
        weights = (image > 128).float()
        rows, cols = torch.meshgrid(torch.arange(48) + 0.5, torch.arange(48) + 0.5, indexing="ij")
        centre = ((weights * cols).sum() / weights.sum(), (weights * rows).sum() / weights.sum())
        assert abs(centre[0] - x) < 1.0 and abs(centre[1] - y) < 1.0
        checked += 1
    assert checked >= 10


def test_one_random_crop_for_all_frames():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (1, 72, 96, 3), dtype=np.uint8)
    clip = np.repeat(frame, 5, axis=0)
    for seed in range(5):
        video = train_transform(32)({"frames": clip, "label": 0}, np.random.default_rng(seed))["video"]
        assert video.shape == (3, 5, 32, 32)
        for t in range(1, 5):
            torch.testing.assert_close(video[:, t], video[:, 0])


def test_multiscale_crop_boxes_follow_tsn():
    crop = MultiScaleCrop(48)
    rng = np.random.default_rng(0)
    sides = {48, 56, 42}  # int(64 * s) for s in (1, .875, .75, .66), 48 snapped to the crop size
    boxes = {crop.crop_box(64, 100, rng) for _ in range(300)}
    for top, left, height, width in boxes:
        assert height in sides | {64} and width in sides | {64}
        assert top + height <= 64 and left + width <= 100
        step_h, step_w = (64 - height) // 4, (100 - width) // 4
        corners = {(0, 0), (0, 4 * step_w), (4 * step_h, 0), (4 * step_h, 4 * step_w)}
        assert (top, left) in corners | {(2 * step_h, 2 * step_w)}
    assert len({(h, w) for _, _, h, w in boxes}) >= 6  # several scale pairs drawn
    assert all(abs([64, 56, 48, 42].index(h) - [64, 56, 48, 42].index(w)) <= 1 for _, _, h, w in boxes)


def test_centre_crop_and_normalise_exact():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (2, 40, 50, 3), dtype=np.uint8)
    out = Compose([CenterCrop(32), Normalize()])({"frames": frames, "label": 3})
    expected = torch.from_numpy(frames[:, 4:36, 9:41]).float().permute(3, 0, 1, 2) / 255
    torch.testing.assert_close(out["video"], (expected - MEAN) / STD)
    assert out["label"] == 3 and "frames" not in out
    with pytest.raises(ValueError, match="64.*40x50"):
        CenterCrop(64)({"frames": frames, "label": 0})


def test_normalise_maps_the_imagenet_mean_to_zero():
    frames = np.broadcast_to(np.round(np.array(IMAGENET_MEAN) * 255).astype(np.uint8), (1, 4, 4, 3))
    video = Normalize()({"frames": frames, "label": 0})["video"]
    assert video.dtype == torch.float32 and video.shape == (3, 1, 4, 4)
    assert video.abs().max() < 0.01


def test_flip_label_map_pairs_left_and_right():
    names = [
        "Pushing something from left to right",
        "Pushing something from right to left",
        "Turning the camera Left",
        "Turning the camera Right",
        "Lifting something up",
        "Plugging something but pulling it right out",  # "right out" is no direction: it flips as it is
        "Moving something to the left",  # a direction without a partner: never flipped
        "Moving something from left to right through something",
        "Moving something from right to left through something",
    ]
    assert flip_label_map(names) == {0: 1, 1: 0, 2: 3, 3: 2, 4: 4, 5: 5, 7: 8, 8: 7}


def test_flip_label_map_on_the_real_something_something_v2_classes():
    if not SSV2_LABELS.is_file():
        pytest.skip(f"the shared SSv2 labels are not at {SSV2_LABELS}")
    labels = json.loads(SSV2_LABELS.read_text(encoding="utf-8"))
    names = sorted(labels, key=lambda name: int(labels[name]))
    label_map = flip_label_map(names)
    sided = {name for name in names if {"left", "right"} & set(name.lower().split())}
    partners = {names[i]: names[j] for i, j in label_map.items() if names[i] in sided}
    assert partners == {
        "Pulling something from left to right": "Pulling something from right to left",
        "Pulling something from right to left": "Pulling something from left to right",
        "Pushing something from left to right": "Pushing something from right to left",
        "Pushing something from right to left": "Pushing something from left to right",
        "Turning the camera left while filming something": "Turning the camera right while filming something",
        "Turning the camera right while filming something": "Turning the camera left while filming something",
        "Plugging something into something but pulling it right out as you remove your hand":
            "Plugging something into something but pulling it right out as you remove your hand",
    }
    assert len(label_map) == len(names) == 174  # every class may flip; the 6 directed ones change label
    assert all(label_map[i] == i for i, name in enumerate(names) if name not in sided)


def test_flip_remaps_labels_and_skips_non_flippable_classes():
    frames, keypoints = _square_clip(num_frames=1)
    flip = HorizontalFlip({0: 1, 1: 0, 2: 2}, p=1.0, joint_names=["centre"])
    out = flip({"frames": frames, "label": 0, "keypoints": keypoints}, np.random.default_rng(0))
    assert out["label"] == 1
    np.testing.assert_array_equal(out["frames"], frames[:, :, ::-1])
    assert out["keypoints"][0, 0, 0] == 128 - 74
    for label in (5, None):  # no partner / unlabelled: never flipped
        kept = flip({"frames": frames, "label": label}, np.random.default_rng(0))
        assert kept["label"] == label and kept["frames"] is frames


def test_flip_maps_each_class_of_a_multi_hot_label():
    """A multi-label sample (HICO: 1 positive, 0 negative, -1 ambiguous) flips; each value moves to
    the mirrored class, and a nonzero class without a partner keeps the sample unflipped."""
    frames, _ = _square_clip(num_frames=1)
    label = np.array([1.0, 0.0, -1.0, 0.0], dtype=np.float32)
    identity = HorizontalFlip({i: i for i in range(4)}, p=1.0)
    out = identity({"frames": frames, "label": label}, np.random.default_rng(0))
    np.testing.assert_array_equal(out["frames"], frames[:, :, ::-1])
    np.testing.assert_array_equal(out["label"], label)
    paired = HorizontalFlip({0: 1, 1: 0, 2: 2}, p=1.0)  # class 3 has no partner
    np.testing.assert_array_equal(paired({"frames": frames, "label": label}, np.random.default_rng(0))["label"],
                                  [0.0, 1.0, -1.0, 0.0])
    unpaired = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)
    kept = paired({"frames": frames, "label": unpaired}, np.random.default_rng(0))
    assert kept["frames"] is frames and kept["label"] is unpaired


@pytest.mark.parametrize("layout", ["coco", "mpii"])
def test_flip_swaps_left_and_right_joints(layout):
    """After a flip the "left_wrist" channel holds the mirrored right wrist, and so on; unpaired
    joints (nose, pelvis) keep their channel."""
    names = JOINT_NAMES[layout]
    frames = np.zeros((1, 20, 100, 3), dtype=np.uint8)
    keypoints = np.zeros((1, len(names), 3), dtype=np.float32)
    keypoints[0, :, 0] = np.arange(len(names)) + 10.0  # joint j at x = 10 + j
    keypoints[0, :, 2] = 1.0
    out = HorizontalFlip({0: 0}, p=1.0, joint_names=names)({"frames": frames, "label": 0, "keypoints": keypoints},
                                                            np.random.default_rng(0))
    for j, name in enumerate(names):
        source = name.replace("left", "@").replace("right", "left").replace("@", "right")
        assert out["keypoints"][0, j, 0] == 100 - keypoints[0, names.index(source), 0], name
    swapped = sum(out["keypoints"][0, j, 0] != 100 - keypoints[0, j, 0] for j in range(len(names)))
    assert swapped == {"coco": 16, "mpii": 12}[layout]


def test_flip_keeps_synthhoi_arm_keypoints_and_checks_joint_counts():
    names = JOINT_NAMES["synthhoi"]
    frames = np.zeros((1, 20, 100, 3), dtype=np.uint8)
    keypoints = np.tile(np.array([[30.0, 5.0, 1.0]], dtype=np.float32), (1, len(names), 1))
    keypoints[0, :, 0] += np.arange(len(names))
    out = HorizontalFlip({0: 0}, p=1.0, joint_names=names)({"frames": frames, "label": 0, "keypoints": keypoints},
                                                            np.random.default_rng(0))
    np.testing.assert_array_equal(out["keypoints"][..., 0], 100 - keypoints[..., 0])
    with pytest.raises(ValueError, match="17 joints, joint_names name 16"):
        HorizontalFlip({0: 0}, p=1.0, joint_names=JOINT_NAMES["mpii"])(
            {"frames": frames, "label": 0, "keypoints": np.zeros((1, 17, 3), np.float32)}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="no joint_names"):
        HorizontalFlip({0: 0}, p=1.0)({"frames": frames, "label": 0, "keypoints": keypoints}, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\['left_hand'\] have a side but no mirrored partner"):
        HorizontalFlip({0: 0}, joint_names=["nose", "left_hand"])


def test_random_crop_is_uniform_over_positions_and_the_chosen_recipe():
    """The Attentional Pooling recipe: a size x size crop anywhere in the resized frame."""
    frames = np.zeros((1, 12, 20, 3), dtype=np.uint8)
    frames[0] = np.arange(20, dtype=np.uint8)[None, :, None]  # column index as grey level
    frames[0, :, :, 1] = np.arange(12, dtype=np.uint8)[:, None]  # row index in green
    corners = set()
    for seed in range(200):
        out = RandomCrop(10)({"frames": frames, "label": 0}, np.random.default_rng(seed))["frames"]
        assert out.shape == (1, 10, 10, 3)
        corners.add((int(out[0, 0, 0, 1]), int(out[0, 0, 0, 0])))
    assert corners == {(top, left) for top in range(3) for left in range(11)}
    with pytest.raises(ValueError, match=r"RandomCrop\(16\).*12x20"):
        RandomCrop(16)({"frames": frames, "label": 0}, np.random.default_rng(0))
    steps = [type(step) for step in train_transform(10, short_side=12, crop="random").steps]
    assert steps == [Resize, RandomCrop, Normalize]
    assert [type(step) for step in train_transform(10).steps] == [Resize, MultiScaleCrop, Normalize]
    with pytest.raises(ValueError, match="crop must be one of"):
        train_transform(10, crop="corner")


def test_flip_is_off_unless_a_label_map_is_given():
    assert not any(isinstance(step, HorizontalFlip) for step in train_transform(32).steps)
    assert any(isinstance(step, HorizontalFlip) for step in train_transform(32, label_map={0: 0}).steps)
    frames = np.zeros((1, 64, 64, 3), dtype=np.uint8)
    frames[:, :, :8] = 255  # a bright left edge
    transform = train_transform(32, label_map={0: 0}, scales=(1.0,))
    videos = [transform({"frames": frames, "label": 0}, np.random.default_rng(s))["video"] for s in range(20)]
    flipped = [_pixels(video)[0, 16, 0] < 128 for video in videos]
    assert 0 < sum(flipped) < 20  # flipped about half the time


def test_random_steps_need_a_generator_and_eval_is_deterministic():
    frames = np.random.default_rng(2).integers(0, 256, (2, 60, 80, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="MultiScaleCrop.*Generator"):
        train_transform(32)({"frames": frames, "label": 0})
    first = eval_transform(32)({"frames": frames, "label": 0})["video"]
    torch.testing.assert_close(first, eval_transform(32)({"frames": frames, "label": 0})["video"])
    assert first.shape == (3, 2, 32, 32)


def test_test_crops_follow_tsn_and_tsm() -> None:
    from actattn.data.transforms import ViewCrops, view_offsets

    assert view_offsets(40, 60, 32, 1) == [(4, 14)]
    assert view_offsets(40, 60, 32, 3) == [(4, 0), (4, 14), (4, 28)]  # along the long side (TSM)
    assert view_offsets(60, 40, 32, 3) == [(0, 4), (14, 4), (28, 4)]
    assert view_offsets(40, 60, 32, 10) == [(0, 0), (0, 28), (8, 0), (8, 28), (4, 14)]  # corners + centre (TSN)
    frames = np.arange(2 * 40 * 60 * 3, dtype=np.uint8).reshape(2, 40, 60, 3)
    views = ViewCrops(32, 10, short_side=40)({"frames": frames, "label": 1})
    assert len(views) == 10 and all(view["label"] == 1 for view in views)
    assert torch.equal(views[7]["video"], views[2]["video"].flip(-1))  # the mirror images of the five
