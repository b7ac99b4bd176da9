"""The sources of object instances (:mod:`actattn.data.objects` has their layout and noise).

Sources (``object_source`` of :class:`~actattn.data.datamodule.VideoDataModule`), all keyed by the
video's file stem (its SSv2 id):
- :class:`DetectionObjects` ("detections"): the cache of ``actattn detect``
  (:mod:`actattn.detect`), ``detections_dir/{id}.npz``. Its classes are COCO's 80
  (:data:`COCO_CLASSES`, "person" = 0), mapped from torchvision's 91 indices with their
  "__background__" and "N/A" gaps (:data:`COCO_INDEX`; an instance labelled with a gap, which
  only an untrained detector gives, is dropped). Box-format masks are thresholded at 0.5
  (Mask R-CNN's own rule) so that both cache formats give the same binary instance masks.
- :class:`SynthHOIObjects` ("synthhoi"): SynthHOI's ground truth, ``groundtruth_dir/{id}.npz``,
  an oracle detector: the arm (class "hand", first, as a detector's people are) and every object
  (its category) of each frame, amodal masks as rendered (:data:`SYNTHHOI_CLASSES`).
- :class:`SomethingElseObjects` ("something_else"): Something-Else's per-frame boxes
  (``bounding_box_smthsmth_part*.json`` or the repo's ``annotations.json``) as box-shaped masks.
  Classes are the box's role, as the Something-Else models use it: ``standard_category``
  ``"hand"`` -> "hand" (0), ``"0000"`` .. ``"0003"`` -> "object 0" .. "object 3" (1 .. 4), the
  video's placeholders in order (:data:`SOMETHING_ELSE_CLASSES`); the free-text ``category``
  nouns are not a closed vocabulary and are not used. JPEG ``<id>/0001.jpg`` is decoded frame 0
  (the boxes assume the 12 fps of SSv2's videos); boxes are pixels of 240-px-high frames and
  are scaled to the decoded frames' height.

Frames: a sampled frame that the cache or the annotations lack (``actattn detect --every N``,
Something-Else's gaps and early stops) takes the nearest frame that has an entry (the earlier
on a tie); a video with no entry at all has no objects. Slots are ordered within a frame
(people/hands first) but not tracked across frames, except SynthHOI's (slot k = track k of
the frames where it is visible, after the hand).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from actattn.data.objects import BOX_MASK_SIZE, FrameObjects, ObjectSource, ObjectSourceError
from actattn.data.synthetic import OBJECTS
from actattn.data.synthetic.write import load_groundtruth
from actattn.detect import COCO_CATEGORIES, Detections

OBJECT_SOURCES = ("detections", "synthhoi", "something_else")
_NOT_CLASSES = ("__background__", "N/A")
COCO_CLASSES: tuple[str, ...] = tuple(name for name in COCO_CATEGORIES if name not in _NOT_CLASSES)
# torchvision's COCO index -> contiguous class (-1: background / N/A)
COCO_INDEX = np.full(len(COCO_CATEGORIES), -1, np.int64)
COCO_INDEX[[i for i, name in enumerate(COCO_CATEGORIES) if name not in _NOT_CLASSES]] = np.arange(len(COCO_CLASSES))
SYNTHHOI_CLASSES: tuple[str, ...] = (*(category.name for category in OBJECTS), "hand")
SOMETHING_ELSE_CLASSES: tuple[str, ...] = ("hand", "object 0", "object 1", "object 2", "object 3")
_SOMETHING_ELSE_ROLES = {"hand": 0, "0000": 1, "0001": 2, "0002": 3, "0003": 4}
SOMETHING_ELSE_HEIGHT = 240  # the frame height Something-Else's boxes are given in


def nearest_frames(available: np.ndarray, indices: Sequence[int]) -> np.ndarray:
    """Positions in sorted ``available`` of the frame nearest each index (the earlier on a tie)."""
    indices = np.asarray(indices, np.int64)
    right = np.clip(np.searchsorted(available, indices), 0, len(available) - 1)
    left = np.clip(right - 1, 0, len(available) - 1)
    return np.where(np.abs(available[right] - indices) < np.abs(indices - available[left]), right, left)


def box_masks(full: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``(n, H, W)`` full-frame masks -> ``(n, 28, 28)`` inside ``boxes`` (n, 4), by RoIAlign (as Mask
    R-CNN makes its mask targets)."""
    if not len(boxes):
        return np.zeros((0, BOX_MASK_SIZE, BOX_MASK_SIZE), np.float32)
    rois = torch.cat([torch.arange(len(boxes), dtype=torch.float32)[:, None], torch.from_numpy(boxes).float()], 1)
    masks = roi_align(torch.from_numpy(full).float()[:, None], rois, BOX_MASK_SIZE, aligned=True)
    return masks[:, 0].numpy()


def tight_boxes(masks: np.ndarray) -> np.ndarray:
    """Pixel-edge ``x1, y1, x2, y2`` of ``(n, H, W)`` non-empty masks."""
    rows, cols = masks.any(2), masks.any(1)
    height, width = masks.shape[1:]
    return np.stack([cols.argmax(1), rows.argmax(1), width - cols[:, ::-1].argmax(1),
                     height - rows[:, ::-1].argmax(1)], 1).astype(np.float32)


def _scale_boxes(boxes: np.ndarray, source: tuple[float, float], target: tuple[int, int]) -> np.ndarray:
    """Boxes in pixels of ``source`` (H, W) frames -> pixels of ``target`` frames."""
    scale = np.array([target[1] / source[1], target[0] / source[0]] * 2, np.float32)
    return np.asarray(boxes, np.float32) * scale


class DetectionObjects(ObjectSource):
    """The instances ``actattn detect`` cached in ``cache_dir/{id}.npz`` (module docstring)."""

    classes = COCO_CLASSES

    def __init__(self, cache_dir: str | Path, **kwargs):
        super().__init__(**kwargs)
        self.cache_dir = Path(cache_dir)

    def frames(self, video_id: str, indices: Sequence[int], size: tuple[int, int]) -> list[FrameObjects]:
        path = self.cache_dir / f"{video_id}.npz"
        if not path.is_file():
            raise ObjectSourceError(f"{path}: no detection cache for video {video_id} "
                                    f"(run `actattn detect --out {self.cache_dir}` over its videos)")
        try:
            cache = Detections.load(path)
        except ValueError as err:
            raise ObjectSourceError(str(err)) from err
        starts = np.concatenate([[0], np.cumsum(cache.counts)])
        if not len(cache.frames):
            return [FrameObjects.empty() for _ in indices]
        return [self._frame(cache, slice(starts[i], starts[i + 1]), size)
                for i in nearest_frames(cache.frames, indices)]

    @staticmethod
    def _frame(cache: Detections, span: slice, size: tuple[int, int]) -> FrameObjects:
        if span.start == span.stop:
            return FrameObjects.empty()
        boxes = cache.boxes[span]
        if cache.masks is not None:
            masks = torch.from_numpy(cache.masks[span]).float()[:, None] / 255
            if masks.shape[-1] != BOX_MASK_SIZE:
                masks = F.interpolate(masks, size=BOX_MASK_SIZE, mode="bilinear", align_corners=False)
            masks = (masks[:, 0] >= 0.5).float().numpy()
        else:
            height, width = cache.image_size
            rles = [{"size": [height, width], "counts": bytes(counts)} for counts in cache.rle[span]]
            masks = box_masks(np.moveaxis(mask_util.decode(rles), -1, 0), boxes)
        frame = FrameObjects(_scale_boxes(boxes, cache.image_size, size), masks, COCO_INDEX[cache.labels[span]])
        return frame.take(frame.classes >= 0)  # a random detector's "N/A" or background labels


class SynthHOIObjects(ObjectSource):
    """SynthHOI's ground truth ``groundtruth_dir/{id}.npz`` as an oracle detector (module docstring)."""

    classes = SYNTHHOI_CLASSES

    def __init__(self, groundtruth_dir: str | Path, **kwargs):
        super().__init__(**kwargs)
        self.groundtruth_dir = Path(groundtruth_dir)

    def frames(self, video_id: str, indices: Sequence[int], size: tuple[int, int]) -> list[FrameObjects]:
        path = self.groundtruth_dir / f"{video_id}.npz"
        if not path.is_file():
            raise ObjectSourceError(f"{path}: no SynthHOI ground truth for video {video_id}")
        try:
            truth = load_groundtruth(path)
        except ValueError as err:
            raise ObjectSourceError(str(err)) from err
        masks, arms = truth["masks"], truth["arm_masks"]
        hand = len(SYNTHHOI_CLASSES) - 1
        frames = []
        for t in np.minimum(indices, len(masks) - 1):
            full = np.concatenate([arms[t][None], masks[t]])
            classes = np.concatenate([[hand], truth["categories"]])
            visible = full.any((1, 2))
            full, classes = full[visible], classes[visible]
            boxes = tight_boxes(full)
            frames.append(FrameObjects(_scale_boxes(boxes, full.shape[1:], size), box_masks(full, boxes), classes))
        return frames


@dataclass(frozen=True)
class VideoBoxes:
    """One video's Something-Else boxes, flat: ``frames`` (F,) sorted 0-based indices, frame ``i``'s
    boxes ``boxes[starts[i]:starts[i + 1]]`` (pixels of 240-px-high frames) and their ``classes``
    (hand first, then object 0, 1, ...). Masks are made when a frame is read, not kept."""

    frames: np.ndarray
    starts: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray

    def frame(self, i: int, scale: float = 1.0) -> FrameObjects:
        """Frame ``i`` (a position in ``frames``) with box-shaped masks, boxes multiplied by ``scale``."""
        span = slice(self.starts[i], self.starts[i + 1])
        return FrameObjects.boxes_only(self.boxes[span] * np.float32(scale), self.classes[span])


class SomethingElseObjects(ObjectSource):
    """Something-Else's per-frame boxes from the annotation ``files`` (module docstring), read once."""

    classes = SOMETHING_ELSE_CLASSES

    def __init__(self, files: Sequence[str | Path], **kwargs):
        super().__init__(**kwargs)
        if isinstance(files, (str, Path)) or not files:
            raise ValueError(f"something_else_files must be a non-empty list of annotation files, got {files!r}")
        self.files = [Path(file) for file in files]
        self.videos: dict[str, VideoBoxes] = {}
        origin: dict[str, Path] = {}
        for path in self.files:
            for video_id, boxes in read_something_else_boxes(path).items():
                if video_id in origin:
                    raise ValueError(f"video {video_id} is in both {origin[video_id]} and {path}")
                origin[video_id] = path
                self.videos[video_id] = boxes

    def frames(self, video_id: str, indices: Sequence[int], size: tuple[int, int]) -> list[FrameObjects]:
        if video_id not in self.videos:
            raise ObjectSourceError(f"video {video_id}: no Something-Else boxes in {[str(f) for f in self.files]}")
        video = self.videos[video_id]
        if not len(video.frames):
            return [FrameObjects.empty() for _ in indices]
        scale = size[0] / SOMETHING_ELSE_HEIGHT
        return [video.frame(i, scale) for i in nearest_frames(video.frames, indices)]


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    return float(value)


def _something_else_frame(video_id: str, frame: object) -> tuple[int, np.ndarray, np.ndarray]:
    """One frame entry -> (0-based frame index, boxes (n, 4), classes (n,)), hand first, then object 0, 1, ..."""
    if not (isinstance(frame, dict) and isinstance(frame.get("name"), str) and isinstance(frame.get("labels"), list)):
        raise ValueError(f"a frame must be an object with 'name' and 'labels', got {str(frame)[:120]!r}")
    folder, _, file = frame["name"].partition("/")
    stem = file.rsplit(".", 1)[0]
    if folder != video_id or not stem.isdigit() or int(stem) < 1:
        raise ValueError(f"frame name {frame['name']!r} is not '{video_id}/NNNN.jpg' (1-based)")
    boxes, classes = [], []
    for j, label in enumerate(frame["labels"]):
        where = f"frame {frame['name']!r}, label {j}"
        box, role = (label.get("box2d"), label.get("standard_category")) if isinstance(label, dict) else (None, None)
        if not isinstance(box, dict) or role not in _SOMETHING_ELSE_ROLES:
            raise ValueError(f"{where}: needs 'box2d' and a 'standard_category' in {list(_SOMETHING_ELSE_ROLES)}, "
                             f"got {str(label)[:160]!r}")
        x1, x2, y1, y2 = (_number(box.get(key), f"{where}: box2d {key}") for key in ("x1", "x2", "y1", "y2"))
        boxes.append([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)])
        classes.append(_SOMETHING_ELSE_ROLES[role])
    order = np.argsort(classes, kind="stable")
    return int(stem) - 1, np.array(boxes, np.float32).reshape(-1, 4)[order], np.array(classes, np.int64)[order]


def _video_boxes(video_id: str, frames: object) -> VideoBoxes:
    if not isinstance(frames, list):
        raise ValueError(f"expected a list of frames, got {type(frames).__name__}")
    parsed = sorted((_something_else_frame(video_id, frame) for frame in frames), key=lambda item: item[0])
    indices = [index for index, _, _ in parsed]
    if len(set(indices)) != len(indices):
        raise ValueError("a frame name repeats")
    counts = [len(classes) for _, _, classes in parsed]
    return VideoBoxes(np.array(indices, np.int64), np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]),
                      np.concatenate([boxes for _, boxes, _ in parsed] or [np.zeros((0, 4), np.float32)]),
                      np.concatenate([classes for _, _, classes in parsed] or [np.zeros(0, np.int64)]).astype(np.int8))


def read_something_else_boxes(path: str | Path) -> dict[str, VideoBoxes]:
    """Something-Else boxes ``{video id: [frame, ...]}`` -> video id -> its :class:`VideoBoxes`; a
    malformed entry raises ValueError naming the file, the video and the frame."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable Something-Else box file ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object mapping video id to its frames, got {type(data).__name__}")
    videos = {}
    for video_id, frames in data.items():
        try:
            videos[video_id] = _video_boxes(video_id, frames)
        except ValueError as err:
            raise ValueError(f"{path}: video {video_id}: {err}") from None
    return videos


def build_object_source(source: str, *, detections_dir: str | Path | None = None,
                        groundtruth_dir: str | Path | None = None,
                        something_else_files: Sequence[str | Path] | None = None,
                        noise: dict | None = None, mask_size: int = 28) -> ObjectSource:
    """The source named ``source`` (one of :data:`OBJECT_SOURCES`) with the file arguments it needs."""
    needs = {"detections": ("detections_dir", detections_dir), "synthhoi": ("groundtruth_dir", groundtruth_dir),
             "something_else": ("something_else_files", something_else_files)}
    if source not in needs:
        raise ValueError(f"object_source must be one of {OBJECT_SOURCES}, got {source!r}")
    name, value = needs[source]
    if value is None:
        raise ValueError(f"object_source {source!r} needs {name}")
    kind = {"detections": DetectionObjects, "synthhoi": SynthHOIObjects, "something_else": SomethingElseObjects}
    return kind[source](value, noise=noise, mask_size=mask_size)
