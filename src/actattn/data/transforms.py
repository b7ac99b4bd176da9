"""Clip transforms: one random crop and flip for all frames of a clip, keypoints moved with the pixels.

A step maps a sample dict to a sample dict, drawing any randomness from the numpy ``Generator``
passed beside it (the dataset passes a per-sample generator, so augmentation is reproducible):

- ``"frames"``: ``(T, H, W, 3)`` uint8 numpy;
- ``"label"`` (optional): ``int``, or ``None`` / absent when unlabelled;
- ``"keypoints"`` (optional): ``(T, J, 3)`` float ``(x, y, visible)`` in pixels of the frames, in
  continuous coordinates (pixel ``i`` spans ``[i, i + 1)``), so a resize scales them and a flip
  maps ``x`` to ``W - x``. Joints that leave the frame keep their coordinates;
  :func:`actattn.data.pose.keypoint_heatmaps` treats them as invalid.

:class:`Normalize` ends a pipeline: it replaces ``"frames"`` by ``"video"``, a float32 tensor
``(3, T, H, W)`` normalised with the ImageNet mean and std, and makes ``"keypoints"`` a float32
tensor. The recipe is TSN's (REFERENCE_NOTES sections 5 and 6): resize the short side,
multi-scale corner/centre crop for training, centre crop for evaluation; horizontal flip only where
the labels allow it (:func:`flip_label_map`).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from einops import rearrange

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TSN_SCALES = (1.0, 0.875, 0.75, 0.66)

_SIDE = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def _need_rng(step: object, rng: np.random.Generator | None) -> np.random.Generator:
    if rng is None:
        raise ValueError(f"{type(step).__name__} is random and needs a numpy Generator, got None")
    return rng


def _resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear, antialiased resize of ``(T, H, W, 3)`` uint8 frames."""
    clip = rearrange(torch.from_numpy(np.ascontiguousarray(frames)), "t h w c -> t c h w")
    clip = TF.resize(clip, [height, width], antialias=True)
    return rearrange(clip, "t c h w -> t h w c").numpy()


def _resize(sample: dict, height: int, width: int) -> dict:
    frames = sample["frames"]
    old_h, old_w = frames.shape[1:3]
    out = {**sample, "frames": _resize_frames(frames, height, width)}
    if "keypoints" in sample:
        keypoints = np.array(sample["keypoints"], dtype=np.float32)
        keypoints[..., 0] *= width / old_w
        keypoints[..., 1] *= height / old_h
        out["keypoints"] = keypoints
    return out


def _crop(sample: dict, top: int, left: int, height: int, width: int) -> dict:
    out = {**sample, "frames": sample["frames"][:, top : top + height, left : left + width]}
    if "keypoints" in sample:
        keypoints = np.array(sample["keypoints"], dtype=np.float32)
        keypoints[..., 0] -= left
        keypoints[..., 1] -= top
        out["keypoints"] = keypoints
    return out


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
    """Mirror the clip with probability ``p`` and relabel it through ``label_map``.

    Only labels that are keys of ``label_map`` are flipped (see :func:`flip_label_map`); a clip
    whose label is missing from it (a direction-sensitive class without a mirrored partner, or an
    unknown label) is left unflipped. Keypoint channels are not swapped left/right, as in the
    Attentional Pooling code (REFERENCE_NOTES section 1).
    """

    def __init__(self, label_map: dict[int, int], p: float = 0.5):
        self.label_map = label_map
        self.p = p

    def __call__(self, sample: dict, rng: np.random.Generator | None = None) -> dict:
        flip = _need_rng(self, rng).random() < self.p
        if not flip or sample.get("label") not in self.label_map:
            return sample
        frames = sample["frames"]
        out = {**sample, "frames": frames[:, :, ::-1], "label": self.label_map[sample["label"]]}
        if "keypoints" in sample:
            keypoints = np.array(sample["keypoints"], dtype=np.float32)
            keypoints[..., 0] = frames.shape[2] - keypoints[..., 0]
            out["keypoints"] = keypoints
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
    def swap(match: re.Match) -> str:
        word = match.group(0)
        other = "right" if word.lower() == "left" else "left"
        return other.capitalize() if word[0].isupper() else other

    return _SIDE.sub(swap, name)


def flip_label_map(class_names: Sequence[str]) -> dict[int, int]:
    """Class id -> class id after a horizontal flip, for the classes that can be flipped.

    A name without the words "left"/"right" maps to itself; a name with them maps to the class
    whose name differs only by left <-> right ("from left to right" <-> "from right to left").
    A class with "left"/"right" and no such partner is left out, so it is never flipped.
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
    scales: Sequence[float] = TSN_SCALES,
    label_map: dict[int, int] | None = None,
) -> Compose:
    """Resize (short side ``size * 256/224`` unless given), multi-scale crop, optional flip, normalise.

    Flipping is off unless ``label_map`` (from :func:`flip_label_map`) is given: on
    Something-Something a flip changes "left to right" into "right to left" (TSM disables it).
    """
    steps = [Resize(short_side_of(size, short_side)), MultiScaleCrop(size, scales)]
    if label_map is not None:
        steps.append(HorizontalFlip(label_map))
    return Compose([*steps, Normalize()])


def eval_transform(size: int, *, short_side: int | None = None, mean: Sequence[float] = IMAGENET_MEAN,
                   std: Sequence[float] = IMAGENET_STD) -> Compose:
    """Resize (short side ``size * 256/224`` unless given), centre crop, normalise."""
    return Compose([Resize(short_side_of(size, short_side)), CenterCrop(size), Normalize(mean, std)])
