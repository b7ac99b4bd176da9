"""Object instances per sampled frame, for the object-based heads (ORN): one layout for every source.

The sources that read them (detections, SynthHOI's ground truth, Something-Else's boxes) are in
:mod:`actattn.data.object_sources`; each is an :class:`ObjectSource`.

Layout through the transforms (:mod:`actattn.data.transforms`): :meth:`ObjectSource.read` gives,
for the ``T`` sampled frames, ``K`` slots (the most instances of any of them, at least 1):
``"object_boxes"`` (T, K, 4) float32 ``x1, y1, x2, y2`` in pixels of the frames;
``"object_box_masks"`` (T, K, 28, 28) float32, each mask inside its box (Mask R-CNN's layout);
``"object_classes"`` (T, K) int64, -1 for an empty slot. Resizes and crops move the boxes, a flip
mirrors boxes and box masks, and :func:`~actattn.data.object_slots.paste_objects` finally draws each box mask onto an
``object_mask_size`` square grid over the transformed frame (default 28; the head resizes to its
own feature grid): each cell holds the fraction of its area the mask covers (4 x 4 samples per
cell), so a sample carries ``"object_masks"`` (T, K, h, w) float32 in [0, 1] and
``"object_classes"`` (T, K) int64. A slot whose mask leaves the crop is emptied (-1, zeros).
:func:`~actattn.data.object_slots.pad_object_slots` pads a batch's clips to its largest K.

Simulated detector noise (:class:`ObjectNoise`, any source, also at evaluation) is drawn per
sampled frame from a generator of ``(seed, epoch, index)`` (:func:`~actattn.data.sampling.noise_rng`):
``miss`` drops each instance with that probability; ``false_positive`` adds a Poisson number of
that mean of box-shaped masks per frame, of a uniform class, with sides 10-50 % of the frame's;
``jitter`` moves a box's centre by up to that fraction of its width/height and scales each side
by a factor in ``[1 - jitter, 1 + jitter]``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

BOX_MASK_SIZE = 28


class ObjectSourceError(ValueError):
    """A video's objects cannot be read (missing or malformed file, unknown video); names the file."""


@dataclass(frozen=True)
class FrameObjects:
    """The instances of one frame: ``boxes`` (n, 4) in pixels, ``masks`` (n, 28, 28) in [0, 1] inside
    the boxes, ``classes`` (n,)."""

    boxes: np.ndarray
    masks: np.ndarray
    classes: np.ndarray

    @classmethod
    def empty(cls) -> FrameObjects:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0, BOX_MASK_SIZE, BOX_MASK_SIZE), np.float32),
                   np.zeros(0, np.int64))

    @classmethod
    def boxes_only(cls, boxes: np.ndarray, classes: np.ndarray) -> FrameObjects:
        """Box-shaped masks."""
        return cls(np.asarray(boxes, np.float32).reshape(-1, 4),
                   np.ones((len(classes), BOX_MASK_SIZE, BOX_MASK_SIZE), np.float32), np.asarray(classes, np.int64))

    def __len__(self) -> int:
        return len(self.classes)

    def take(self, keep: np.ndarray) -> FrameObjects:
        return FrameObjects(self.boxes[keep], self.masks[keep], self.classes[keep])


@dataclass(frozen=True)
class ObjectNoise:
    """Simulated detector errors (module docstring): miss probability, false positives per frame, box jitter."""

    miss: float = 0.0
    false_positive: float = 0.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.miss <= 1 or self.false_positive < 0 or not 0 <= self.jitter < 1:
            raise ValueError(f"object_noise needs miss in [0, 1], false_positive >= 0, jitter in [0, 1), got {self}")

    @classmethod
    def from_dict(cls, noise: dict | None) -> ObjectNoise:
        names = {field.name for field in fields(cls)}
        unknown = set(noise or {}) - names
        if unknown:
            raise ValueError(f"object_noise: unknown keys {sorted(unknown)} (known: {sorted(names)})")
        return cls(**(noise or {}))

    def __bool__(self) -> bool:
        return bool(self.miss or self.false_positive or self.jitter)

    def apply(self, frame: FrameObjects, size: tuple[int, int], num_classes: int,
              rng: np.random.Generator) -> FrameObjects:
        """``frame`` with misses dropped, boxes jittered and false positives appended."""
        frame = frame.take(rng.random(len(frame)) >= self.miss)
        boxes = frame.boxes.copy()
        if len(frame) and self.jitter:
            centre, side = (boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]
            centre += rng.uniform(-self.jitter, self.jitter, (len(frame), 2)) * side
            side *= rng.uniform(1 - self.jitter, 1 + self.jitter, (len(frame), 2))
            boxes = np.concatenate([centre - side / 2, centre + side / 2], 1).astype(np.float32)
        count = rng.poisson(self.false_positive)
        frame_size = np.array([size[1], size[0]], np.float32)  # (W, H)
        side = rng.uniform(0.1, 0.5, (count, 2)) * frame_size
        corner = rng.uniform(0, 1, (count, 2)) * (frame_size - side)
        classes = rng.integers(num_classes, size=count)
        extra = FrameObjects.boxes_only(np.concatenate([corner, corner + side], 1), classes)
        return FrameObjects(np.concatenate([boxes, extra.boxes]), np.concatenate([frame.masks, extra.masks]),
                            np.concatenate([frame.classes, extra.classes]))


class ObjectSource:
    """Objects of the sampled frames of a video (module docstring); ``classes`` names the class ids."""

    classes: tuple[str, ...] = ()

    def __init__(self, *, noise: ObjectNoise | dict | None = None, mask_size: int = 28):
        if mask_size < 1:
            raise ValueError(f"object_mask_size must be >= 1, got {mask_size}")
        self.noise = noise if isinstance(noise, ObjectNoise) else ObjectNoise.from_dict(noise)
        self.mask_size = mask_size

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def frames(self, video_id: str, indices: Sequence[int], size: tuple[int, int]) -> list[FrameObjects]:
        """The instances of frames ``indices`` of video ``video_id``, boxes in pixels of ``size`` (H, W) frames."""
        raise NotImplementedError

    def read(self, video_id: str, indices: Sequence[int], size: tuple[int, int],
             rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``object_boxes``, ``object_box_masks`` and ``object_classes`` of the sampled frames, noise applied."""
        frames = self.frames(video_id, indices, size)
        if self.noise:
            frames = [self.noise.apply(frame, size, self.num_classes, rng) for frame in frames]
        slots = max(1, *map(len, frames))
        boxes = np.zeros((len(frames), slots, 4), np.float32)
        masks = np.zeros((len(frames), slots, BOX_MASK_SIZE, BOX_MASK_SIZE), np.float32)
        classes = np.full((len(frames), slots), -1, np.int64)
        for t, frame in enumerate(frames):
            n = len(frame)
            boxes[t, :n], masks[t, :n], classes[t, :n] = frame.boxes, frame.masks, frame.classes
        return {"object_boxes": boxes, "object_box_masks": masks, "object_classes": classes}
