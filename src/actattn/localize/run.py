"""Weakly-supervised localisation with a trained model (Dual Attention Network, Section 4).

A video -> the attention map of every frame -> per frame the object boxes and their scores, the
action's interval, per frame the affordance mask -> ``localization.json`` and pictures; where
SynthHOI ground truth exists, box AP at IoU 0.3/0.4/0.5 (Table 4), temporal IoU and mask IoU.

Choices (the paper's numbers where it gives them):
- Input: every decoded frame, resized so that its short side is the checkpoint's crop size,
  not cropped (ground-truth pixels map back by a scale factor), ImageNet-normalised.
- Maps of all T frames (Sec. 4.1). Heads with TSN consensus (average and attentional pooling,
  DualAttention with ``temporal="tsn"``) on a 2D backbone take any T: one forward on all frames
  gives the prediction and the maps. A model trained on exactly N frames per clip (DualAttention
  with ``temporal="trn"``, N = ``num_frames``; a TSM backbone, N = ``tsm_segments``) is
  predicted, as it was trained and tested, from N test-sampled frames (TSN segment centres).
  The features of all frames come from the backbone on consecutive windows of N frames for a
  TSM backbone (the last window padded by repeating the video's last frame, the padding's
  outputs dropped), in one pass otherwise. On them the head's ``frame_maps`` gives the maps for
  the sampled forward's prediction (:meth:`~actattn.heads.base.Head.frame_maps`; DualAttention
  runs its attention module alone with that forward's priors).
- Map: ``map_key=None`` takes ``"object"`` if the head returns it (DualAttention), else
  ``"combined"`` (attentional pooling), else ``"top_down"`` (average pooling), else the head's
  first map (ORN's ``"relation"``).
- Weights: a map that is a distribution over each frame's positions (DualAttention's softmax) is
  used as it is; any other map is made one (:func:`~actattn.localize.interpret.attention_weights`):
  divided by each frame's sum if it has no negative value (ORN's shares, ActX's maps), else by a
  softmax over each frame's positions, the form of eq. 8-9 (unnormalised scores), since eq. 12
  compares distributions and the 60%-of-maximum rule needs a positive maximum.
- Geometry: feature cell (i, j) covers input pixels [i s, (i + 1) s) x [j s, (j + 1) s) for the
  backbone's output stride s; maps are upsampled bilinearly over that extent at the original
  frame's scale and cropped to the frame, so boxes and masks are in original-frame pixels.
- Boxes: at 60% of each frame's maximum; at most as many per frame as the model predicts objects
  (:func:`predicted_objects`: 1 when the second object classifier predicts the null label, else
  2; for a head without object classifiers the ``something`` placeholders of the predicted
  class's name, 1..2). Interval: 1/3 s segments at the video's fps, KL threshold 0.06, 1 s
  minimum; for a head with an ``interval_map`` (ActX's S^act) the longest run of frames whose
  mean of that map reaches the midpoint of its range (:func:`presence_interval`).
- Affordance (Sec. 4.2): 60% of the maximum of the ``"action"`` map where the model returns one
  (:func:`affordance_key`), whatever map the boxes use. Of a ``gt_priors`` model given the true
  labels that is the paper's map: alpha, which the ground-truth object steers (eq. 6). Of a
  ``"dual"`` model it is alpha steered by the predicted object, of ``"self"`` alpha without
  priors; a model without an action map (the pooling heads) segments the boxes' map. The JSON
  says which map was used.
- Evaluation: see :mod:`actattn.localize.evaluate`.
- ``localization.json`` stores each frame's affordance mask as COCO compressed RLE made by
  ``pycocotools.mask.encode`` (``{"size": [H, W], "counts": "..."}``, the counts bytes as a
  string), which ``pycocotools.mask.decode`` reads, as does :func:`decode_mask`.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from pycocotools import mask as coco_mask
from torch import Tensor, nn

from actattn.data.sampling import segment_indices
from actattn.data.transforms import Compose, Normalize, Resize
from actattn.localize.affordance import affordance_mask
from actattn.localize.evaluate import EVALUATION_FRAMES, GroundTruth, LocalizationScores
from actattn.localize.interpret import attention_weights, cell_coverage
from actattn.localize.spatial import Box, FrameGeometry, box_scores, boxes_from_attention
from actattn.localize.temporal import (
    frames_per_segment,
    presence_interval,
    presence_threshold,
    segment_changes,
    trim_interval,
)
from actattn.train import ActionRecognizer
from actattn.viz.localization import affordance_figure, attention_strip, localization_figure

BOX_THRESHOLD = AFFORDANCE_THRESHOLD = 0.6
SEGMENT_SECONDS, KL_THRESHOLD, MIN_SECONDS = 1 / 3, 0.06, 1.0
MAP_PREFERENCE = ("object", "combined", "top_down")
AFFORDANCE_MAP = "action"
NULL_OBJECT = 0  # the id build_object_vocabulary gives the null label "<null>"


# ------------------------------------------------------------------------------ maps of every frame
@dataclass
class FrameAttention:
    """Every frame's attention: ``maps`` name -> (T, h, w) on the feature grid, as the head returns
    them; ``logits`` task -> (K,) of the forward whose prediction the maps go with."""

    maps: dict[str, Tensor]
    logits: dict[str, Tensor]


def video_input(frames: np.ndarray, image_size: int) -> Tensor:
    """(T, H, W, 3) uint8 -> (3, T, h, w) float32: short side ``image_size``, no crop, normalised."""
    return Compose([Resize(image_size), Normalize()])({"frames": frames})["video"]


def trained_frames(module: ActionRecognizer) -> int | None:
    """The N frames per clip a model needs, as it was trained: a TSM backbone's ``tsm_segments``,
    else the head's ``num_frames`` (None for a model that takes any number)."""
    tsm_segments = getattr(module.model.backbone, "tsm_segments", None)
    return tsm_segments if tsm_segments is not None else module.model.head.num_frames


def backbone_features(backbone: nn.Module, video: Tensor) -> Tensor:
    """Video (B, 3, T, H, W) -> features (B, T, C, H', W') of every frame.

    A TSM backbone built for N frames runs on consecutive windows of N frames, the last window
    padded by repeating the video's last frame; the padding's features are dropped.
    """
    window = getattr(backbone, "tsm_segments", None)
    if window is None:
        return backbone(video)
    num_frames = video.shape[2]
    padded = F.pad(video, (0, 0, 0, 0, 0, -num_frames % window), mode="replicate")
    feats = backbone(rearrange(padded, "b c (n t) h w -> (b n) c t h w", t=window))
    return rearrange(feats, "(b n) t c h w -> b (n t) c h w", b=video.shape[0])[:, :num_frames]


@torch.no_grad()
def frame_attention(
    module: ActionRecognizer,
    video: Tensor,
    labels: tuple[int, tuple[int, int]] | None = None,
    frame_inputs: Mapping[str, Tensor] | None = None,
) -> FrameAttention:
    """The maps of all T frames of ``video`` (3, T, h, w); see the module docstring.

    ``labels`` = (action, (object, object_2)) ground truth, for a model that reads them;
    ``frame_inputs`` batch entries with one value per frame, (T, ...), such as ``object_masks``
    and ``object_classes``, for a model that reads them.
    """
    module.eval()
    head = module.model.head
    if not head.makes_maps:
        raise ValueError(f"this {type(head).__name__} ({module.hparams.head_kwargs or {}}) makes no attention maps "
                         "to localise with")
    batch = {"video": video[None].to(module.device)}
    batch |= {key: value[None].to(module.device) for key, value in (frame_inputs or {}).items()}
    if labels is not None:
        batch["label"] = torch.tensor([labels[0]], device=module.device)
        batch["objects"] = torch.tensor([labels[1]], device=module.device)
    missing = sorted(set(head.reads.values()) - set(batch))
    if missing:
        raise ValueError(f"this {type(head).__name__} reads {missing} besides the video: localise clips of a "
                         "dataset that provides them (actattn localize --data, with the training run's objects "
                         "or object source)")
    num_frames = trained_frames(module)
    if num_frames is None:
        out = module.run(batch)
        maps = dict(out.attention) | head.interval_maps(out)
        return FrameAttention({k: v[0] for k, v in maps.items()}, {k: v[0] for k, v in out.logits.items()})
    indices = segment_indices(video.shape[1], num_frames, train=False)
    sampled = {**batch, "video": batch["video"][:, :, indices],
               **{key: batch[key][:, indices] for key in frame_inputs or {}}}
    out = module.run(sampled)
    maps = head.frame_maps(backbone_features(module.model.backbone, batch["video"]), out, head.inputs(batch))
    return FrameAttention({k: v[0] for k, v in maps.items()}, {k: v[0] for k, v in out.logits.items()})


def choose_map(names: Sequence[str], map_key: str | None = None) -> str:
    """``map_key`` if the model returns it; for None the first of "object", "combined", "top_down"
    that it returns, else its first map (a head returns its maps in the order it prefers them)."""
    if map_key is not None and map_key not in names:
        raise ValueError(f"the model returns no {map_key!r} map; it returns {sorted(names)}")
    if not names:
        raise ValueError("the model returns no attention map")
    return map_key or next((name for name in MAP_PREFERENCE if name in names), names[0])


def affordance_key(names: Sequence[str], map_key: str) -> str:
    """The map the affordance masks come from: "action" (DualAttention's alpha, steered by the
    object prior, eq. 6) where the model returns it, else the boxes' map ``map_key``."""
    return AFFORDANCE_MAP if AFFORDANCE_MAP in names else map_key


def objects_in_template(class_name: str) -> int:
    """Objects an action involves: its ``something`` placeholders, at least 1, at most 2."""
    return min(2, max(1, len(re.findall(r"\bsomething\b", class_name, re.IGNORECASE))))


def predicted_objects(logits: Mapping[str, Tensor], class_name: str, null_object: int = NULL_OBJECT) -> int:
    """Objects the model predicts (Sec. 4.1, "the number of predicted objects"), the most boxes per
    frame: 1 when the second object classifier (``logits["object_2"]``, (K,)) predicts the null
    label ``null_object``, else 2. A head without object classifiers falls back on the predicted
    class's name, ``class_name`` (:func:`objects_in_template`)."""
    if "object_2" not in logits:
        return objects_in_template(class_name)
    return 1 if int(logits["object_2"].argmax()) == null_object else 2


# ------------------------------------------------------------------------------------ localisation
@dataclass
class Localization:
    """One video's localisation in original-frame pixels: per frame the ``boxes`` (x1, y1, x2, y2)
    and their ``scores``; the action ``interval`` (start, end), end exclusive; ``changes``, the KL
    divergence between consecutive segments of ``segment_frames`` frames (eq. 12); ``affordance``
    (T, H, W) bool; ``presence``, the per-frame level the interval came from (a head's interval
    map), or None (the interval came from the changes); ``threshold``, what the interval's changes
    or presence were held against (the KL threshold, or the presence's midpoint)."""

    boxes: list[list[Box]]
    scores: list[list[float]]
    interval: tuple[int, int]
    changes: list[float]
    segment_frames: int
    affordance: np.ndarray
    threshold: float
    presence: list[float] | None = None


def map_boxes(frame_maps: Tensor, num_objects: int) -> tuple[list[list[Box]], list[list[float]]]:
    """Per frame of ``frame_maps`` (T, H, W), its boxes (at most ``num_objects``) and their scores."""
    boxes = [boxes_from_attention(m, BOX_THRESHOLD, num_objects=num_objects) for m in frame_maps]
    return boxes, [box_scores(m, b) for m, b in zip(frame_maps, boxes)]


def localize_maps(weights: Tensor, geometry: FrameGeometry, fps: float, num_objects: int,
                  affordance_weights: Tensor | None = None, presence: Tensor | None = None) -> Localization:
    """Boxes (at most ``num_objects`` per frame) and interval from per-frame distributions
    (T, h', w') (Sec. 4.1); affordance masks from ``affordance_weights`` (T, h', w'), or from
    ``weights`` where None (Sec. 4.2); the interval from the frames' mean ``presence`` (T, h', w')
    where given (the head's ``interval_map``), else from the change of ``weights``."""
    frame_maps = geometry.to_frame(weights)
    affordance_maps = frame_maps if affordance_weights is None else geometry.to_frame(affordance_weights)
    boxes, scores = map_boxes(frame_maps, num_objects)
    levels = None if presence is None else presence.mean(dim=(1, 2))
    return Localization(
        boxes=boxes,
        scores=scores,
        interval=(trim_interval(weights, fps, SEGMENT_SECONDS, KL_THRESHOLD, MIN_SECONDS) if levels is None
                  else presence_interval(levels)),
        changes=segment_changes(weights, fps, SEGMENT_SECONDS).tolist(),
        segment_frames=frames_per_segment(fps, SEGMENT_SECONDS),
        affordance=np.stack([affordance_mask(m, AFFORDANCE_THRESHOLD).numpy() for m in affordance_maps]),
        threshold=KL_THRESHOLD if levels is None else presence_threshold(levels),
        presence=None if levels is None else levels.tolist(),
    )


def coverage_boxes(truth: GroundTruth, geometry: FrameGeometry, frames: Sequence[int]) -> tuple[list[list[Box]], list[list[float]]]:
    """The boxes and scores, on ``frames``, of a reference map: the share of every feature cell that
    the manipulated objects' true boxes cover (:func:`cell_coverage`), made a distribution, with as
    many boxes as objects. Its box AP is what the 60% rule makes of a map that is exactly the
    objects, at this grid's resolution: how far a model's maps are from the best the grid allows."""
    coverage = np.stack([cell_coverage(truth.frame_boxes(t), geometry) for t in frames])
    frame_maps = geometry.to_frame(attention_weights(torch.from_numpy(coverage))[0])
    return map_boxes(frame_maps, max(1, truth.boxes.shape[1]))


@dataclass
class LocalizedVideo:
    """A video, the attention of all its frames, the map of the boxes and interval (``map_key``;
    and how its ``weighting`` made it a distribution), that of the affordance masks
    (``affordance_key``), that of the interval (``interval_key``), the predicted class, the objects
    predicted (``num_objects``, the most boxes per frame) and the localisation."""

    frames: np.ndarray
    fps: float
    attention: FrameAttention
    map_key: str
    weighting: str
    affordance_key: str
    interval_key: str
    predicted: int
    num_objects: int
    localization: Localization
    geometry: FrameGeometry


def localize_frames(
    module: ActionRecognizer,
    frames: np.ndarray,
    fps: float,
    *,
    map_key: str | None = None,
    labels: tuple[int, tuple[int, int]] | None = None,
    frame_inputs: Mapping[str, Tensor] | None = None,
    null_object: int = NULL_OBJECT,
) -> LocalizedVideo:
    """Localise in decoded frames (T, H, W, 3) uint8 played at ``fps``; ``labels`` and
    ``frame_inputs`` as in frame_attention; ``null_object`` is the object vocabulary's null label."""
    hp = module.hparams
    video = video_input(frames, hp.pipeline["size"])
    attention = frame_attention(module, video, labels, frame_inputs)
    key = choose_map(list(attention.maps), map_key)
    weights, weighting = attention_weights(attention.maps[key])
    mask_key = affordance_key(list(attention.maps), key)
    mask_weights = None if mask_key == key else attention_weights(attention.maps[mask_key])[0]
    geometry = FrameGeometry(frames.shape[1:3], tuple(video.shape[-2:]), module.model.backbone.output_stride)
    predicted = int(attention.logits["action"].argmax())
    num_objects = predicted_objects(attention.logits, hp.class_names[predicted], null_object)
    interval_key = module.model.head.interval_map
    presence = None if interval_key is None else attention.maps[interval_key]
    localization = localize_maps(weights, geometry, fps, num_objects, mask_weights, presence)
    return LocalizedVideo(frames, fps, attention, key, weighting, mask_key, interval_key or key, predicted,
                          num_objects, localization, geometry)


# ------------------------------------------------------------------------------------- files
def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """A bool (H, W) mask as COCO compressed RLE (``pycocotools.mask.encode``), counts as a string."""
    rle = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(n) for n in rle["size"]], "counts": rle["counts"].decode("ascii")}


def decode_mask(rle: Mapping[str, Any]) -> np.ndarray:
    """COCO compressed RLE (counts a string or bytes) -> bool (H, W) mask (``pycocotools.mask.decode``)."""
    return coco_mask.decode(dict(rle)).astype(bool)


def clip_record(clip_id: str, localized: LocalizedVideo, class_names: Sequence[str], **extra: Any) -> dict[str, Any]:
    """One clip's entry of ``localization.json``."""
    loc = localized.localization
    return {
        "id": clip_id, **extra, "fps": localized.fps, "frame_size": list(localized.frames.shape[1:3]),
        "predicted": {"label": localized.predicted, "name": class_names[localized.predicted]},
        "map": localized.map_key,
        "map_weights": localized.weighting,
        "affordance_map": localized.affordance_key, "interval_map": localized.interval_key,
        "num_objects": localized.num_objects,
        "interval": list(loc.interval), "presence": loc.presence, "segment_frames": loc.segment_frames,
        "segment_changes": [c if np.isfinite(c) else None for c in loc.changes],
        "frames": [{"boxes": [list(b) for b in boxes], "scores": scores, "affordance": encode_mask(mask)}
                   for boxes, scores, mask in zip(loc.boxes, loc.scores, loc.affordance)],
    }


def affordance_source(module: ActionRecognizer, map_key: str) -> str:
    """Which map the affordance masks come from (``map_key``, see :func:`affordance_key`), for the JSON."""
    if "label" in module.model.head.reads.values():
        paper = ", steered by the true object (eq. 6), as the paper's Sec. 4.2" if map_key == AFFORDANCE_MAP else ""
        return f"the {map_key} map guided by the ground-truth labels (gt_priors){paper}"
    return (f"the {map_key} map with the model's own predictions; the paper uses the action map of a gt_priors "
            f"model, steered by the ground-truth object (eq. 6)")


def write_report(path: Path, module: ActionRecognizer, clips: list[dict], scores: LocalizationScores | None) -> Path:
    """Write ``localization.json`` (compact: one line; strict JSON, an infinite KL change is null)."""
    report = {
        "settings": {"box_threshold": BOX_THRESHOLD, "affordance_threshold": AFFORDANCE_THRESHOLD,
                     "segment_seconds": SEGMENT_SECONDS, "kl_threshold": KL_THRESHOLD, "min_seconds": MIN_SECONDS,
                     "evaluation_frames_per_video": EVALUATION_FRAMES},
        "affordance_map": affordance_source(module, clips[0]["affordance_map"]) if clips else None,
        "mask_encoding": "COCO compressed RLE (pycocotools.mask.encode), counts as a string: "
                         "pycocotools.mask.decode reads it",
        "scores": None if scores is None else scores.as_dict(),
        "clips": clips,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, allow_nan=False) + "\n", encoding="utf-8")
    return path


def write_pictures(clip_id: str, video: LocalizedVideo, class_names: Sequence[str], out: Path,
                   truth: GroundTruth | None = None) -> list[Path]:
    """The paper's Fig. 4 (maps), Fig. 6 (boxes, interval, KL changes) and Fig. 7 (affordance) for one clip."""
    loc, frames = video.localization, video.frames
    title = f"{clip_id}: predicted '{class_names[video.predicted]}'"
    maps = {name: m.float().cpu().numpy() for name, m in video.attention.maps.items()}
    true_boxes = None if truth is None else [truth.frame_boxes(t) for t in range(len(frames))]
    return [
        attention_strip(frames, maps, out / f"{clip_id}-attention.png", title),
        localization_figure(frames, loc.boxes, loc.interval, loc.changes, loc.segment_frames,
                            out / f"{clip_id}-localization.png", true_boxes=true_boxes, presence=loc.presence,
                            threshold=loc.threshold,
                            title=f"{title}; {video.map_key} map, interval from {video.interval_key}"),
        affordance_figure(frames, loc.affordance, out / f"{clip_id}-affordance.png", interval=loc.interval,
                          contact=None if truth is None else truth.contact,
                          title=f"{title}; {video.affordance_key} map"),
    ]
