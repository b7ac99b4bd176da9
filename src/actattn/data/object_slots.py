"""Object instances in the batch layout: box masks pasted onto a grid over the transformed frame
(:func:`paste_objects`), and a batch's clips padded to its largest number of slots
(:func:`pad_object_slots`). The sources that read the instances are in :mod:`actattn.data.object_sources`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

SUPERSAMPLE = 4  # samples per cell side when a mask's coverage of a cell is measured


def paste_objects(boxes: np.ndarray, masks: np.ndarray, classes: np.ndarray, frame_size: tuple[int, int],
                  grid: int) -> tuple[Tensor, Tensor]:
    """Box masks onto a ``grid x grid`` map of each ``frame_size`` (H, W) frame (:mod:`actattn.data.objects`).

    boxes (T, K, 4) pixels, masks (T, K, M, M), classes (T, K) -> masks (T, K, grid, grid) float32
    in [0, 1] (the share of each cell the mask covers) and classes (T, K) int64, -1 where the
    slot is empty or its mask lies outside the frame.
    """
    lead = classes.shape
    boxes_t = torch.from_numpy(np.ascontiguousarray(boxes, np.float32)).reshape(-1, 4)
    masks_t = torch.from_numpy(np.ascontiguousarray(masks, np.float32)).reshape(-1, 1, *masks.shape[-2:])
    height, width = frame_size
    fine = grid * SUPERSAMPLE
    xs = (torch.arange(fine) + 0.5) * (width / fine)
    ys = (torch.arange(fine) + 0.5) * (height / fine)
    extent = (boxes_t[:, 2:] - boxes_t[:, :2]).clamp(min=1e-6)
    u = (xs[None] - boxes_t[:, :1]) / extent[:, :1]  # (N, fine): position within the box, 0..1 inside
    v = (ys[None] - boxes_t[:, 1:2]) / extent[:, 1:]
    where = torch.stack(torch.broadcast_tensors(u[:, None, :], v[:, :, None]), -1) * 2 - 1
    sampled = F.grid_sample(masks_t, where, mode="bilinear", padding_mode="border", align_corners=False)[:, 0]
    inside = ((u >= 0) & (u < 1))[:, None, :] & ((v >= 0) & (v < 1))[:, :, None]
    pasted = F.avg_pool2d((sampled * inside)[:, None], SUPERSAMPLE)[:, 0].reshape(*lead, grid, grid)
    out_classes = torch.from_numpy(np.asarray(classes, np.int64)).clone()
    out_classes[(pasted.flatten(-2).amax(-1) <= 0) | (out_classes < 0)] = -1
    return pasted * (out_classes >= 0)[..., None, None], out_classes


def pad_object_slots(samples: list[dict]) -> list[dict]:
    """Samples with ``object_masks`` (..., T, K, h, w) / ``object_classes`` (..., T, K) padded to the
    batch's largest K with empty slots (masks 0, class -1), so they stack (also views: (V, T, K))."""
    if not samples or "object_classes" not in samples[0]:
        return samples
    slots = max(sample["object_classes"].shape[-1] for sample in samples)

    def pad(sample: dict) -> dict:
        extra = slots - sample["object_classes"].shape[-1]
        return {**sample, "object_masks": F.pad(sample["object_masks"], (0, 0, 0, 0, 0, extra)),
                "object_classes": F.pad(sample["object_classes"], (0, extra), value=-1)}

    return [pad(sample) for sample in samples]
