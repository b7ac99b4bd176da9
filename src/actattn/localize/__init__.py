"""Weakly-supervised localisation from attention maps (Dual Attention Network, Section 4).

Spatial boxes, temporal trimming, affordance masks, and their evaluation against ground truth;
how well a map points at the hand and the manipulated objects (pointing game, mass in box).
"""
from actattn.localize.affordance import affordance_mask
from actattn.localize.evaluate import LocalizationScores, box_average_precision, mask_iou, temporal_iou
from actattn.localize.interpret import InterpretabilityScores, clip_interpretability, interpretability, pool_scores
from actattn.localize.spatial import (
    Box,
    box_scores,
    boxes_from_attention,
    scale_boxes,
    threshold_map,
    upsample_map,
)
from actattn.localize.temporal import frames_per_segment, kl_divergence, segment_changes, trim_interval

__all__ = [
    "Box",
    "InterpretabilityScores",
    "LocalizationScores",
    "affordance_mask",
    "box_average_precision",
    "box_scores",
    "boxes_from_attention",
    "clip_interpretability",
    "frames_per_segment",
    "interpretability",
    "kl_divergence",
    "mask_iou",
    "pool_scores",
    "scale_boxes",
    "segment_changes",
    "temporal_iou",
    "threshold_map",
    "trim_interval",
    "upsample_map",
]
