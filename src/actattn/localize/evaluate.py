"""Scoring weakly-supervised localisation against ground truth (DAN, Section 4 and Table 4).

- Boxes: average precision at IoU 0.3, 0.4 and 0.5 (Table 4), class-agnostic, computed by
  pycocotools' `COCOeval` with one category (the COCO protocol: 101-point interpolated precision,
  up to 100 boxes per frame). Not torchmetrics' `MeanAveragePrecision`: it hands COCOeval recall
  thresholds rounded to float32, so a recall that equals a threshold exactly (4 of 5 boxes found:
  0.8) falls below it and AP drops by up to 1/101; it also rounds boxes and results to float32.
  Box confidences come from `actattn.localize.spatial.box_scores` (mean attention inside the box).
- Intervals: temporal IoU of (start, end) frame intervals, end exclusive.
- Masks: IoU of boolean masks (affordance segmentation), torchmetrics' binary Jaccard index.

Against SynthHOI ground truth (:class:`GroundTruth`, :func:`evaluate_clip`, :func:`summarize`):
the manipulated objects' boxes on 2 frames per video (the paper annotated 2 random frames), drawn
without replacement from the action interval's frames that show one, by
``np.random.default_rng([seed, position in the split file])``; AP pooled over all evaluated frames;
temporal IoU averaged over videos; mask IoU against the contact region on every frame with
contact, averaged over frames.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import Tensor
from torchmetrics.functional.classification import binary_jaccard_index

from actattn.localize.spatial import Box

if TYPE_CHECKING:
    from actattn.localize.interpret import InterpretabilityScores
    from actattn.localize.run import Localization

TABLE4_IOU_THRESHOLDS = (0.3, 0.4, 0.5)
EVALUATION_FRAMES = 2


def _box_array(boxes: Sequence[Box], where: str) -> np.ndarray:
    """Boxes as a float64 (N, 4) array, checking x1 <= x2 and y1 <= y2."""
    array = np.asarray(list(boxes), dtype=np.float64).reshape(-1, 4)
    if (array[:, 2] < array[:, 0]).any() or (array[:, 3] < array[:, 1]).any():
        raise ValueError(f"{where}: boxes must be (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2, "
                         f"got {array.tolist()}")
    return array


def _coco_index(frames: Sequence[np.ndarray], scores: Sequence[Sequence[float]] | None = None) -> COCO:
    """A one-category pycocotools index: frame f is image f, its boxes (N, 4) xyxy its annotations."""
    annotations = []
    for frame, boxes in enumerate(frames):
        for k, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
            annotation = {"id": len(annotations) + 1, "image_id": frame, "category_id": 1, "iscrowd": 0,
                          "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1)}
            if scores is not None:
                annotation["score"] = float(scores[frame][k])
            annotations.append(annotation)
    index = COCO()  # annotation ids start at 1: COCOeval reads id 0 as "unmatched"
    index.dataset = {"images": [{"id": f} for f in range(len(frames))], "annotations": annotations,
                     "categories": [{"id": 1}]}
    with contextlib.redirect_stdout(io.StringIO()):
        index.createIndex()
    return index


def box_average_precision(
    pred_boxes: Sequence[Sequence[Box]],
    pred_scores: Sequence[Sequence[float]],
    gt_boxes: Sequence[Sequence[Box]],
    iou_thresholds: Sequence[float] = TABLE4_IOU_THRESHOLDS,
) -> dict[float, float]:
    """Class-agnostic box AP at each IoU threshold, over frames (Table 4), as COCOeval computes it.

    Entry f of each list belongs to frame f: its predicted boxes (x1, y1, x2, y2), their scores,
    and the ground-truth boxes, all in one coordinate frame (e.g. frame pixels). Tied scores keep
    COCOeval's order: frame by frame, boxes in the order given.
    """
    if not len(pred_boxes) == len(pred_scores) == len(gt_boxes):
        raise ValueError(f"need one entry per frame: got {len(pred_boxes)} box lists, "
                         f"{len(pred_scores)} score lists and {len(gt_boxes)} ground-truth lists")
    for frame, (boxes, scores) in enumerate(zip(pred_boxes, pred_scores)):
        if len(boxes) != len(scores):
            raise ValueError(f"frame {frame}: {len(boxes)} predicted boxes but {len(scores)} scores")
    predicted = [_box_array(boxes, f"frame {f} predictions") for f, boxes in enumerate(pred_boxes)]
    truth = [_box_array(boxes, f"frame {f} ground truth") for f, boxes in enumerate(gt_boxes)]
    if not any(len(boxes) for boxes in truth):
        raise ValueError(f"no ground-truth boxes in {len(truth)} frames; average precision is undefined")
    evaluator = COCOeval(_coco_index(truth), _coco_index(predicted, pred_scores), iouType="bbox")
    evaluator.params.iouThrs = np.asarray(iou_thresholds, dtype=np.float64)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, 0, 0, -1]  # (IoU, recall): the one category, all areas, 100 boxes
    return {float(iou): float(curve.mean()) for iou, curve in zip(iou_thresholds, precision)}


def temporal_iou(
    predictions: Sequence[tuple[int, int]], ground_truths: Sequence[tuple[int, int]]
) -> Tensor:
    """IoU of each predicted (start, end) interval with its ground truth, end exclusive -> (N,)."""
    if len(predictions) != len(ground_truths):
        raise ValueError(f"{len(predictions)} predicted intervals but {len(ground_truths)} ground truths")
    ious = []
    for index, ((start, end), (true_start, true_end)) in enumerate(zip(predictions, ground_truths)):
        if end <= start or true_end <= true_start:
            raise ValueError(f"pair {index}: intervals must have end > start, "
                             f"got {(start, end)} and {(true_start, true_end)}")
        overlap = max(0, min(end, true_end) - max(start, true_start))
        union = (end - start) + (true_end - true_start) - overlap
        ious.append(overlap / union)
    return torch.tensor(ious, dtype=torch.float64)


def mask_iou(
    predictions: Sequence[Tensor | np.ndarray], ground_truths: Sequence[Tensor | np.ndarray]
) -> Tensor:
    """IoU of each predicted boolean mask with its ground truth of the same shape -> (N,).

    Two empty masks agree perfectly and score 1.
    """
    if len(predictions) != len(ground_truths):
        raise ValueError(f"{len(predictions)} predicted masks but {len(ground_truths)} ground truths")
    ious = []
    for index, (predicted, truth) in enumerate(zip(predictions, ground_truths)):
        predicted, truth = torch.as_tensor(predicted), torch.as_tensor(truth)
        if predicted.shape != truth.shape:
            raise ValueError(f"pair {index}: mask shapes differ, {tuple(predicted.shape)} vs {tuple(truth.shape)}")
        ious.append(binary_jaccard_index(predicted.long(), truth.long(), zero_division=1.0))
    return torch.stack(ious).double()


@dataclass
class LocalizationScores:
    """Summary of one evaluation; a field left at its default was not evaluated.

    box_ap: AP per IoU threshold (Table 4), from `box_average_precision`.
    temporal_iou: mean temporal IoU over videos; mask_iou: mean mask IoU over images.
    interpretability: per map name, its pointing game and mass in box (:mod:`actattn.localize.interpret`).
    box_ap_coverage: box AP of a reference map, each frame's cell coverage by the true boxes
    (:func:`~actattn.localize.run.coverage_boxes`): what the box rule makes of the grid.
    """

    box_ap: dict[float, float] = field(default_factory=dict)
    temporal_iou: float | None = None
    mask_iou: float | None = None
    interpretability: dict[str, InterpretabilityScores] = field(default_factory=dict)
    box_ap_coverage: dict[float, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        """Flat names for loggers and tables: "box_ap@0.3", ..., "box_ap_coverage@0.3", ...,
        "temporal_iou", "mask_iou", and per map "<map>/pointing_game", "<map>/mass_in_box",
        "<map>/pointing_game_uniform", ..."""
        scores = {f"box_ap@{iou:g}": value for iou, value in self.box_ap.items()}
        scores |= {f"box_ap_coverage@{iou:g}": value for iou, value in self.box_ap_coverage.items()}
        if self.temporal_iou is not None:
            scores["temporal_iou"] = self.temporal_iou
        if self.mask_iou is not None:
            scores["mask_iou"] = self.mask_iou
        for name, map_scores in self.interpretability.items():
            scores |= {f"{name}/{key}": value for key, value in map_scores.as_dict().items()}
        return scores


def _shown(boxes: np.ndarray) -> list[Box]:
    """The (N, 4) boxes that are not empty (an object or hand out of view has an all-zero box)."""
    return [tuple(map(float, box)) for box in boxes if box[2] > box[0] and box[3] > box[1]]


@dataclass
class GroundTruth:
    """SynthHOI ground truth of one video: ``boxes`` (T, M, 4) of the M manipulated objects, the
    action ``interval``, ``contact`` (T, H, W) bool, where the hand touches the object, and
    ``hand_boxes`` (T, 4); boxes are (x1, y1, x2, y2) in frame pixels, all zeros out of view."""

    boxes: np.ndarray
    interval: tuple[int, int]
    contact: np.ndarray
    hand_boxes: np.ndarray

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any], where: str) -> GroundTruth:
        """From ``load_groundtruth``'s dict or a Scene's fields (``vars(scene)``)."""
        missing = [k for k in ("boxes", "manipulated", "interval", "contact", "hand_boxes") if k not in arrays]
        if missing:
            raise ValueError(f"{where}: the ground truth lacks {missing}")
        start, end = (int(v) for v in arrays["interval"])
        boxes = np.asarray(arrays["boxes"])[:, np.asarray(arrays["manipulated"], bool)]
        return cls(boxes, (start, end), np.asarray(arrays["contact"], bool), np.asarray(arrays["hand_boxes"]))

    def frame_boxes(self, t: int) -> list[Box]:
        """The manipulated objects' boxes in frame t that are not empty (out of view)."""
        return _shown(self.boxes[t])

    def interaction_boxes(self, t: int) -> list[Box]:
        """The hand's box, then the manipulated objects' boxes, in frame t; those in view."""
        return _shown(self.hand_boxes[t][None]) + self.frame_boxes(t)


@dataclass
class ClipEvaluation:
    """One video against its ground truth: the evaluated ``frames`` with the predicted and true
    boxes on each (pooled over videos for AP), ``temporal_iou``, and ``mask_ious`` per contact frame."""

    frames: list[int]
    pred_boxes: list[list[Box]]
    pred_scores: list[list[float]]
    true_boxes: list[list[Box]]
    temporal_iou: float
    mask_ious: list[float]


def evaluation_frames(truth: GroundTruth, rng: np.random.Generator, count: int = EVALUATION_FRAMES) -> list[int]:
    """``count`` frames drawn without replacement from the action interval's frames with a true box."""
    shown = [t for t in range(*truth.interval) if truth.frame_boxes(t)]
    if not shown:
        raise ValueError(f"no frame of the action interval {truth.interval} shows a manipulated object")
    return sorted(int(t) for t in rng.choice(shown, size=min(count, len(shown)), replace=False))


def evaluate_clip(localization: Localization, truth: GroundTruth, rng: np.random.Generator) -> ClipEvaluation:
    """Score one video's localisation (see the module docstring)."""
    if len(localization.boxes) != len(truth.boxes) or localization.affordance.shape != truth.contact.shape:
        raise ValueError(f"localisation of {len(localization.boxes)} frames {localization.affordance.shape[1:]} vs "
                         f"ground truth of {len(truth.boxes)} frames {truth.contact.shape[1:]}")
    frames = evaluation_frames(truth, rng)
    touched = [t for t in range(len(truth.contact)) if truth.contact[t].any()]
    pairs = [(localization.affordance[t], truth.contact[t]) for t in touched]
    ious = mask_iou(*zip(*pairs)).tolist() if pairs else []
    return ClipEvaluation(
        frames=frames,
        pred_boxes=[localization.boxes[t] for t in frames],
        pred_scores=[localization.scores[t] for t in frames],
        true_boxes=[truth.frame_boxes(t) for t in frames],
        temporal_iou=float(temporal_iou([localization.interval], [truth.interval])[0]),
        mask_ious=ious,
    )


def summarize(evaluations: Sequence[ClipEvaluation]) -> LocalizationScores:
    """Box AP over all evaluated frames, mean temporal IoU over videos, mean mask IoU over contact frames."""
    box_ap = box_average_precision([b for e in evaluations for b in e.pred_boxes],
                                   [s for e in evaluations for s in e.pred_scores],
                                   [b for e in evaluations for b in e.true_boxes])
    ious = [iou for e in evaluations for iou in e.mask_ious]
    return LocalizationScores(box_ap, float(np.mean([e.temporal_iou for e in evaluations])),
                              float(np.mean(ious)) if ious else None)
