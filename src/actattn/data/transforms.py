"""Clip transforms: one random crop and flip for all frames of a clip, keypoints and object boxes moved with the pixels.

A step maps a sample dict to a sample dict, drawing any randomness from the numpy ``Generator``
passed beside it (the dataset passes a per-sample generator, so augmentation is reproducible):

- ``"frames"``: ``(T, H, W, 3)`` uint8 numpy;
- ``"label"`` (optional): ``int``, a ``(K,)`` multi-hot numpy array (1 positive, 0 negative,
  -1 ambiguous), or ``None`` / absent when unlabelled;
- ``"keypoints"`` (optional): ``(T, J, 3)`` float ``(x, y, visible)`` in pixels of the frames, in
  continuous coordinates (pixel ``i`` spans ``[i, i + 1)``), so a resize scales them and a flip
  maps ``x`` to ``W - x``. Joints that leave the frame keep their coordinates;
  :func:`actattn.data.pose.keypoint_heatmaps` treats them as invalid;
- ``"object_boxes"`` (optional): ``(T, K, 4)`` float ``x1, y1, x2, y2`` in the same continuous
  pixel coordinates, moved like the keypoints (a flip maps ``x1, x2`` to ``W - x2, W - x1``), with
  ``"object_box_masks"`` ``(T, K, M, M)``, each mask inside its box, mirrored by a flip (see
  :mod:`actattn.data.objects`, which pastes them onto the final frame afterwards).

:class:`Normalize` ends a pipeline: it replaces ``"frames"`` by ``"video"``, a float32 tensor
``(3, T, H, W)`` normalised with the ImageNet mean and std, and makes ``"keypoints"`` a float32
tensor. Two training recipes: TSN's (REFERENCE_NOTES sections 5 and 6: resize the short side,
multi-scale corner/centre crop) and the Attentional Pooling code's (section 1: resize the short
side to 480, a uniformly random 450 crop); both evaluate on a centre crop. A horizontal flip is
applied only where the labels allow it (:func:`flip_label_map`) and swaps left and right joints.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from einops import rearrange

from actattn.data.pose import flip_permutation

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TSN_SCALES = (1.0, 0.875, 0.75, 0.66)

CROPS = ("multiscale", "random")

_SIDE = re.compile(r"\b(left|right)\b", re.IGNORECASE)
# "right" as an intensifier ("pulling it right out", "right away"): not a side. After "the", "to"
# or "from" it is one ("from left to right through something").
_INTENSIFIER = re.compile(
    r"(?<!the )(?<!to )(?<!from )right (?:out|away|back|now|here|there|through)\b", re.IGNORECASE
)


def _need_rng(step: object, rng: np.random.Generator | None) -> np.random.Generator:
    if rng is None:
        raise ValueError(f"{type(step).__name__} is random and needs a numpy Generator, got None")
    return rng


def _resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear, antialiased resize of ``(T, H, W, 3)`` uint8 frames."""
    clip = rearrange(torch.from_numpy(np.ascontiguousarray(frames)), "t h w c -> t c h w")
    clip = TF.resize(clip, [height, width], antialias=True)
    return rearrange(clip, "t c h w -> t h w c").numpy()


def _move_points(sample: dict, scale: tuple[float, float], shift: tuple[float, float]) -> dict:
    """``sample``'s keypoints and object boxes mapped by ``x * scale[0] - shift[0]``, ``y * scale[1] - shift[1]``."""
    out = dict(sample)
    if "keypoints" in sample:
        keypoints = np.array(sample["keypoints"], dtype=np.float32)
        keypoints[..., :2] = keypoints[..., :2] * np.float32(scale) - np.float32(shift)
        out["keypoints"] = keypoints
    if "object_boxes" in sample:
        boxes = np.array(sample["object_boxes"], dtype=np.float32)
        out["object_boxes"] = boxes * np.float32(scale * 2) - np.float32(shift * 2)
    return out


def _resize(sample: dict, height: int, width: int) -> dict:
    frames = sample["frames"]
    old_h, old_w = frames.shape[1:3]
    out = _move_points(sample, (width / old_w, height / old_h), (0.0, 0.0))
    return {**out, "frames": _resize_frames(frames, height, width)}


def _crop(sample: dict, top: int, left: int, height: int, width: int) -> dict:
    out = _move_points(sample, (1.0, 1.0), (left, top))
    return {**out, "frames": sample["frames"][:, top : top + height, left : left + width]}


class Resize:
    """Resize so that the shorter side is ``short_side`` pixels, keeping the aspect ratio."""

    def __init__(self, short_side: int):
        self.short_side = short_side

    def __call__(self, sample: dict, rng: np.random.Generator | None = None) -> dict:
        height, width = sample["frames"].shape[1:3]
        scale = self.short_side / min(height, width)
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        return sample if size == (height, width) else _resize(sample, *size)


class MultiScaleCrop:
    """TSN's multi-scale crop: a crop of side ``scale * min(H, W)`` per axis, at a corner or the centre.

    Width and height scales are drawn from ``scales`` at most ``max_distort`` steps apart; sizes
    within 3 px of ``size`` snap to it (as TSN does); the crop is then resized to ``size x size``.
    """

    def __init__(self, size: int, scales: Sequence[float] = TSN_SCALES, max_distort: int = 1):
        self.size = size
        self.scales = tuple(scales)
        self.max_distort = max_distort

    def crop_box(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """``(top, left, crop_height, crop_width)`` drawn from ``rng``."""
        base = min(height, width)
        sides = [self.size if abs(int(base * s) - self.size) < 3 else int(base * s) for s in self.scales]
        pairs = [
            (crop_h, crop_w)
            for i, crop_h in enumerate(sides)
            for j, crop_w in enumerate(sides)
            if abs(i - j) <= self.max_distort
        ]
        crop_h, crop_w = pairs[rng.integers(len(pairs))]
        crop_h, crop_w = min(crop_h, height), min(crop_w, width)
        step_h, step_w = (height - crop_h) // 4, (width - crop_w) // 4
        offsets = [(0, 0), (0, 4 * step_w), (4 * step_h, 0), (4 * step_h, 4 * step_w), (2 * step_h, 2 * step_w)]
        top, left = offsets[rng.integers(len(offsets))]
        return top, left, crop_h, crop_w

    def __call__(self, sample: dict, rng: np.random.Generator | None = None) -> dict:
        height, width = sample["frames"].shape[1:3]
        box = self.crop_box(height, width, _need_rng(self, rng))
        return _resize(_crop(sample, *box), self.size, self.size)


class RandomCrop:
    """A ``size x size`` crop at a uniformly random position (the Attentional Pooling code's
    ``vgg_preprocessing``: 450 out of frames resized to a 480 short side)."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, sample: dict, rng: np.random.Generator | None = None) -> dict:
        rng = _need_rng(self, rng)
        height, width = sample["frames"].shape[1:3]
        if height < self.size or width < self.size:
            raise ValueError(f"RandomCrop({self.size}) needs frames at least that large, got {height}x{width}")
        top, left = int(rng.integers(height - self.size + 1)), int(rng.integers(width - self.size + 1))
        return _crop(sample, top, left, self.size, self.size)


class CenterCrop:
    """Crop the central ``size x size`` square."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, sample: dict, rng: np.random.Generator | None = None) -> dict:
        height, width = sample["frames"].shape[1:3]
        if height < self.size or width < self.size:
            raise ValueError(f"CenterCrop({self.size}) needs frames at least that large, got {height}x{width}")
        return _crop(sample, (height - self.size) // 2, (width - self.size) // 2, self.size, self.size)


class HorizontalFlip:
    """Mirror the clip with probability ``p``, relabel it through ``label_map`` and swap left and
    right joints.

    ``label_map`` comes from :func:`flip_label_map`. A class id label is flipped only if it is a
    key of the map. A multi-hot label (a multi-label set) maps each class through it, the value
    (1 positive, -1 ambiguous) moving to the mirrored class; it is flipped only if every class with
    a nonzero value is a key (no HICO class name has a side, so every HICO image may flip). A clip
    whose label cannot be flipped (a direction-sensitive class without a mirrored partner, an
    unknown label) or that is unlabelled is left unflipped.

    ``joint_names`` (e.g. :data:`actattn.data.pose.JOINT_NAMES` ``["coco"]``) name the keypoint
    channels: a flip moves each joint's ``x`` to ``W - x`` and swaps the channels of "left_*" and
    "right_*" joints (:func:`~actattn.data.pose.flip_permutation`), as the paper intends; the
    Attentional Pooling code forgets the swap (REFERENCE_NOTES section 1). A sample with keypoints
    needs them. Object boxes are mirrored, and their box masks with them.
    """

    def __init__(self, label_map: dict[int, int], p: float = 0.5, joint_names: Sequence[str] | None = None):
        self.label_map = label_map
        self.p = p
        self.joint_names = None if joint_names is None else list(joint_names)
        self.joint_order = None if joint_names is None else flip_permutation(joint_names)

    def flipped_label(self, label: int | np.ndarray | None) -> int | np.ndarray | None:
        """The label of the mirrored clip, or ``None`` if this label cannot be flipped."""
        if label is None:
            return None
        if np.ndim(label) == 0:
            return self.label_map.get(label)
        positions = np.flatnonzero(label)
        if any(int(i) not in self.label_map for i in positions):
            return None
        flipped = np.zeros_like(label)
        flipped[[self.label_map[int(i)] for i in positions]] = label[positions]
        return flipped

    def __call__(self, sample: dict, rng: np.random.Generator | None = None) -> dict:
        flip = _need_rng(self, rng).random() < self.p
        label = self.flipped_label(sample.get("label")) if flip else None
        if label is None:
            return sample
        return {**mirror(sample, self.joint_names), "label": label}


def mirror(sample: dict, joint_names: Sequence[str] | None = None) -> dict:
    """``sample`` mirrored left-right: frames, object boxes and box masks, keypoints (``x -> W - x``,
    left and right joint channels swapped by ``joint_names``); the label is left as it is."""
    frames = sample["frames"]
    out = {**sample, "frames": frames[:, :, ::-1]}
    if "keypoints" in sample:
        joints = np.shape(sample["keypoints"])[-2]
        if joint_names is None:
            raise ValueError(f"HorizontalFlip: the sample has keypoints ({joints} joints) but no joint_names, "
                             "so left and right joints cannot be swapped")
        if joints != len(joint_names):
            raise ValueError(f"HorizontalFlip: the sample has {joints} joints, joint_names name "
                             f"{len(joint_names)}: {list(joint_names)}")
        flipped = np.array(sample["keypoints"], dtype=np.float32)[..., flip_permutation(joint_names), :]
        flipped[..., 0] = frames.shape[2] - flipped[..., 0]
        out["keypoints"] = flipped
    if "object_boxes" in sample:
        boxes = np.asarray(sample["object_boxes"], dtype=np.float32)
        out["object_boxes"] = np.stack([frames.shape[2] - boxes[..., 2], boxes[..., 1],
                                        frames.shape[2] - boxes[..., 0], boxes[..., 3]], -1)
        out["object_box_masks"] = np.asarray(sample["object_box_masks"])[..., ::-1]
    return out


class Normalize:
    """``"frames"`` (T, H, W, 3) uint8 -> ``"video"`` (3, T, H, W) float32, ``(x / 255 - mean) / std``."""

    def __init__(self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1, 1)

    def __call__(self, sample: dict, rng: np.random.Generator | None = None) -> dict:
        out = {key: value for key, value in sample.items() if key != "frames"}
        video = torch.from_numpy(np.ascontiguousarray(sample["frames"])).float() / 255.0
        out["video"] = (rearrange(video, "t h w c -> c t h w") - self.mean) / self.std
        if "keypoints" in sample:
            out["keypoints"] = torch.as_tensor(np.asarray(sample["keypoints"]), dtype=torch.float32)
        return out


class Compose:
    """Apply ``steps`` in order, each with the same generator."""

    def __init__(self, steps: Sequence):
        self.steps = list(steps)

    def __call__(self, sample: dict, rng: np.random.Generator | None = None) -> dict:
        for step in self.steps:
            sample = step(sample, rng)
        return sample

    def __repr__(self) -> str:
        return f"Compose({[type(step).__name__ for step in self.steps]})"


def _mirror_name(name: str) -> str:
    """``name`` with every "left"/"right" that is a side or a direction swapped (case kept)."""

    def swap(match: re.Match) -> str:
        word = match.group(0)
        if _INTENSIFIER.match(name, match.start()):
            return word
        other = "right" if word.lower() == "left" else "left"
        return other.capitalize() if word[0].isupper() else other

    return _SIDE.sub(swap, name)


def flip_label_map(class_names: Sequence[str]) -> dict[int, int]:
    """Class id -> class id after a horizontal flip, for the classes that can be flipped.

    A "left"/"right" in a name is a side or a direction ("from left to right", "to the left",
    "turning the camera left", "left hand") unless it is "right" as an intensifier before out,
    away, back, now, here, there or through ("pulling it right out"; after "the", "to" or "from"
    it stays a direction). A name without a side or direction maps to itself; a name with one
    maps to the class whose name differs only by left <-> right ("from left to right" <-> "from
    right to left"). A class with a side and no such partner is left out, so it is never flipped:
    a phrasing not recognised as an intensifier costs that class its flips, never its label.
    """
    index = {name: i for i, name in enumerate(class_names)}
    label_map = {}
    for i, name in enumerate(class_names):
        mirrored = _mirror_name(name)
        if mirrored == name:
            label_map[i] = i
        elif mirrored in index:
            label_map[i] = index[mirrored]
    return label_map


def short_side_of(size: int, short_side: int | None) -> int:
    """The side frames are resized to before a ``size`` crop: ``short_side``, else ``size * 256/224``."""
    return short_side if short_side is not None else round(size * 256 / 224)


def train_transform(
    size: int,
    *,
    short_side: int | None = None,
    crop: str = "multiscale",
    scales: Sequence[float] = TSN_SCALES,
    label_map: dict[int, int] | None = None,
    joint_names: Sequence[str] | None = None,
) -> Compose:
    """Resize (short side ``size * 256/224`` unless given), crop, optional flip, normalise.

    ``crop``: ``"multiscale"`` (TSN's :class:`MultiScaleCrop` over ``scales``, resized to ``size``)
    or ``"random"`` (:class:`RandomCrop`, the Attentional Pooling code's; ``scales`` unused).
    Flipping is off unless ``label_map`` (from :func:`flip_label_map`) is given: on
    Something-Something a flip changes "left to right" into "right to left" (TSM disables it).
    ``joint_names`` name the keypoint channels that a flip swaps (see :class:`HorizontalFlip`).
    """
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
    cropper = MultiScaleCrop(size, scales) if crop == "multiscale" else RandomCrop(size)
    steps = [Resize(short_side_of(size, short_side)), cropper]
    if label_map is not None:
        steps.append(HorizontalFlip(label_map, joint_names=joint_names))
    return Compose([*steps, Normalize()])


def eval_transform(size: int, *, short_side: int | None = None, mean: Sequence[float] = IMAGENET_MEAN,
                   std: Sequence[float] = IMAGENET_STD) -> Compose:
    """Resize (short side ``size * 256/224`` unless given), centre crop, normalise."""
    return Compose([Resize(short_side_of(size, short_side)), CenterCrop(size), Normalize(mean, std)])


TEST_CROPS = (1, 3, 10)


def view_offsets(height: int, width: int, size: int, crops: int) -> list[tuple[int, int]]:
    """``(top, left)`` of the ``size`` crops of a test protocol: 1 the centre; 3 the start, centre
    and end of the long side, centred on the short one (TSM's three crops); 10 (or 5) the four
    corners and the centre (TSN's ``GroupOverSample``; the 10 add their mirror images)."""
    if height < size or width < size:
        raise ValueError(f"a {size} px test crop needs frames at least that large, got {height}x{width}")
    bottom, right = height - size, width - size
    if crops == 1:
        return [(bottom // 2, right // 2)]
    if crops == 3:
        if width >= height:
            return [(bottom // 2, 0), (bottom // 2, right // 2), (bottom // 2, right)]
        return [(0, right // 2), (bottom // 2, right // 2), (bottom, right // 2)]
    if crops in (5, 10):
        return [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]
    raise ValueError(f"test_crops must be one of {TEST_CROPS}, got {crops}")


class ViewCrops:
    """The test views of one clip: resize the short side, take :func:`view_offsets`' crops (10:
    the five and their mirror images), normalise each; returns the list of samples. Deterministic."""

    def __init__(self, size: int, crops: int, *, short_side: int | None = None,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 joint_names: Sequence[str] | None = None):
        if crops not in TEST_CROPS:
            raise ValueError(f"test_crops must be one of {TEST_CROPS}, got {crops}")
        self.size, self.crops, self.joint_names = size, crops, joint_names
        self.resize, self.normalize = Resize(short_side_of(size, short_side)), Normalize(mean, std)

    def __call__(self, sample: dict, rng: np.random.Generator | None = None) -> list[dict]:
        sample = self.resize(sample)
        height, width = sample["frames"].shape[1:3]
        views = [_crop(sample, top, left, self.size, self.size)
                 for top, left in view_offsets(height, width, self.size, self.crops)]
        if self.crops == 10:
            views += [mirror(view, self.joint_names) for view in views]
        return [self.normalize(view) for view in views]


def eval_views(size: int, crops: int = 1, *, short_side: int | None = None,
               joint_names: Sequence[str] | None = None) -> Compose | ViewCrops:
    """The evaluation transform of a test protocol: :func:`eval_transform` (one centre crop, one
    sample) for ``crops`` 1, else :class:`ViewCrops` (a list of samples)."""
    if crops == 1:
        return eval_transform(size, short_side=short_side)
    return ViewCrops(size, crops, short_side=short_side, joint_names=joint_names)
