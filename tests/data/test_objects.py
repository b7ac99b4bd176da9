"""actattn.data.objects: simulated detector noise, and the layout through collation and the transforms."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from actattn.data.loaders import collate_drop_none
from actattn.data.object_slots import paste_objects
from actattn.data.objects import FrameObjects, ObjectNoise
from actattn.data.sampling import noise_rng
from actattn.data.transforms import CenterCrop, HorizontalFlip, Resize

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------------------------- noise
def _crowd(n: int = 400) -> FrameObjects:
    corners = RNG.uniform(0, 40, (n, 2))
    return FrameObjects.boxes_only(np.concatenate([corners, corners + 20], 1), np.arange(n) % 5)


def test_noise_is_deterministic_per_seed_epoch_and_clip():
    noise, frame = ObjectNoise(miss=0.3, false_positive=2.0, jitter=0.1), _crowd()
    draw = [noise.apply(frame, (64, 64), 5, noise_rng(*key)) for key in ((0, 0, 1), (0, 0, 1), (0, 1, 1), (0, 0, 2))]
    np.testing.assert_array_equal(draw[0].boxes, draw[1].boxes)
    assert all(not np.array_equal(draw[0].classes, other.classes) or not np.array_equal(draw[0].boxes, other.boxes)
               for other in draw[2:])


def test_misses_drop_about_p_false_positives_add_about_the_rate_and_jitter_moves_boxes():
    frame, rng = _crowd(), np.random.default_rng(1)
    kept = [len(ObjectNoise(miss=0.25).apply(frame, (64, 64), 5, rng)) for _ in range(20)]
    assert abs(1 - np.mean(kept) / len(frame) - 0.25) < 0.02
    empty = FrameObjects.empty()
    added = [ObjectNoise(false_positive=3.0).apply(empty, (48, 64), 5, rng) for _ in range(300)]
    assert abs(np.mean([len(x) for x in added]) - 3.0) < 0.3
    boxes = np.concatenate([x.boxes for x in added])
    assert boxes.min() >= 0 and bool((boxes[:, 2] <= 64).all() and (boxes[:, 3] <= 48).all())
    assert set(np.concatenate([x.classes for x in added]).tolist()) == set(range(5))
    jittered = ObjectNoise(jitter=0.1).apply(frame, (64, 64), 5, rng)
    shift = np.abs(jittered.boxes - frame.boxes)
    assert len(jittered) == len(frame) and shift.max() > 0.5 and shift.max() <= 0.1 * 20 + 0.1 * 20 / 2 + 1e-4
    with pytest.raises(ValueError, match="unknown keys"):
        ObjectNoise.from_dict({"misses": 0.1})


# ------------------------------------------------------------------------------- layout and transforms
def test_collate_pads_slots_to_the_batch_maximum():
    def sample(slots: int) -> dict:
        return {"video": torch.zeros(3, 2, 8, 8), "object_masks": torch.ones(2, slots, 4, 4),
                "object_classes": torch.arange(2 * slots).reshape(2, slots)}

    batch = collate_drop_none([sample(1), None, sample(3)])
    assert batch["object_masks"].shape == (2, 2, 3, 4, 4) and batch["skipped"] == 1
    assert batch["object_classes"][0, :, 1:].eq(-1).all() and batch["object_masks"][0, :, 1:].eq(0).all()
    assert batch["object_classes"][1].tolist() == [[0, 1, 2], [3, 4, 5]]


def _one_box_sample() -> tuple[dict, np.ndarray]:
    """A 40x40 frame with one box (x 5-25, y 10-30) whose mask is its left half; the same mask at full resolution."""
    box_mask = np.zeros((28, 28), np.float32)
    box_mask[:, :14] = 1
    full = np.zeros((40, 40), np.float32)
    full[10:30, 5:15] = 1
    sample = {"frames": np.zeros((1, 40, 40, 3), np.uint8), "label": 0,
              "object_boxes": np.array([[[5, 10, 25, 30]]], np.float32), "object_box_masks": box_mask[None, None],
              "object_classes": np.array([[7]])}
    return sample, full


def _paste_sample(sample: dict, grid: int) -> tuple[torch.Tensor, torch.Tensor]:
    return paste_objects(sample["object_boxes"], sample["object_box_masks"], sample["object_classes"],
                         sample["frames"].shape[1:3], grid)


def test_masks_follow_a_horizontal_flip():
    sample, full = _one_box_sample()
    flipped = HorizontalFlip({0: 0}, p=1.0)(sample, np.random.default_rng(0))
    masks, classes = _paste_sample(flipped, 40)
    assert classes.tolist() == [[7]]
    assert (masks[0, 0] - torch.from_numpy(full[:, ::-1].copy())).abs().mean() < 0.02


def test_masks_follow_a_resize_and_a_crop_and_leave_with_it():
    sample, full = _one_box_sample()
    resized = Resize(80)(sample)
    cropped = CenterCrop(40)(resized)  # pixels 20..60 of the 80x80 frame
    masks, classes = _paste_sample(cropped, 20)
    big = F.interpolate(torch.from_numpy(full)[None, None], size=80)[0, 0][20:60, 20:60]
    want = F.avg_pool2d(big[None, None], 2)[0, 0]
    assert classes.tolist() == [[7]] and (masks[0, 0] - want).abs().mean() < 0.03
    gone = {**sample, "object_boxes": np.array([[[0, 0, 8, 8]]], np.float32)}
    masks, classes = _paste_sample(CenterCrop(20)(gone), 10)  # the crop is pixels 10..30
    assert classes.tolist() == [[-1]] and masks.eq(0).all()
