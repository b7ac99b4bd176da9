"""The "where": object boxes from an attention map (Dual Attention Network, Section 4.1).

The paper thresholds the object attention map at 60% of its maximum weight, finds the connected
regions by flood fill, and makes a box from each region's minimum and maximum coordinates. It
always keeps the largest box and "optionally" the second largest "based on its size and the
number of predicted objects"; `boxes_from_attention` states that rule exactly (see there).

Boxes are ``(x1, y1, x2, y2)`` in pixel-edge coordinates of the map's own grid: the pixel in
row ``i``, column ``j`` covers the box ``(j, i, j + 1, i + 1)``. Those coordinates scale exactly
to another grid (`scale_boxes`); the paper upsamples the map to the frame first and thresholds
there (`upsample_map`, then `boxes_from_attention`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from scipy import ndimage
from torch import Tensor

Box = tuple[float, float, float, float]

# 8-connectivity: pixels touching at a corner belong to one region, so a diagonal ridge of a
# smooth upsampled map is not cut into pieces.
CONNECTIVITY = np.ones((3, 3), dtype=bool)


def as_map(attention: Tensor | np.ndarray, ndim: int = 2) -> np.ndarray:
    """Return the map as a float64 array after checking its shape and that it is finite."""
    if isinstance(attention, Tensor):
        attention = attention.detach().cpu().double().numpy()
    array = np.asarray(attention, dtype=np.float64)
    if array.ndim != ndim:
        raise ValueError(f"attention map: expected {ndim} dims, got shape {tuple(array.shape)}")
    bad = int((~np.isfinite(array)).sum())
    if bad:
        raise ValueError(f"attention map of shape {tuple(array.shape)} holds {bad} NaN/inf values")
    return array


def threshold_map(attention: Tensor | np.ndarray, threshold: float = 0.6) -> np.ndarray:
    """Pixels whose weight is at least `threshold` times the map's maximum, as a bool (H, W) mask.

    A constant map (all zeros included) selects every pixel: no position is preferred, and every
    pixel is at the maximum. A map that is not constant needs a positive maximum for the rule to
    mean anything.
    """
    array = as_map(attention)
    peak = array.max()
    if peak == array.min():
        return np.ones(array.shape, dtype=bool)
    if peak <= 0:
        raise ValueError(f"attention map of shape {array.shape}: maximum {peak:g} is not positive, "
                         f"so {threshold:g} x maximum selects nothing meaningful")
    return array >= threshold * peak


def boxes_from_attention(
    attention: Tensor | np.ndarray,
    threshold: float = 0.6,
    max_boxes: int = 2,
    *,
    num_objects: int = 2,
    min_relative_size: float = 0.25,
) -> list[Box]:
    """Boxes around the connected regions of a thresholded attention map (H, W), largest first.

    Pixels at or above ``threshold * max`` are grouped into 8-connected regions
    (`scipy.ndimage.label`); each region gives the box spanned by its extreme rows and columns,
    in pixel-edge coordinates. Boxes are ranked by area (ties: more region pixels first, then
    raster order). The largest box is always returned. Each further box, up to `max_boxes`, is
    returned only while fewer than `num_objects` boxes have been kept (the number of objects the
    model predicted: 1 when DAN's second object head predicts the null label, else 2) and its
    area is at least `min_relative_size` times the largest box's area. The paper states the rule
    without numbers; 0.25 is this library's choice.

    A constant map gives one box over the whole map; NaN or inf values raise ValueError.
    """
    if max_boxes < 1 or num_objects < 1:
        raise ValueError(f"max_boxes and num_objects must be >= 1, got {max_boxes} and {num_objects}")
    mask = threshold_map(attention, threshold)
    labels, _ = ndimage.label(mask, structure=CONNECTIVITY)
    pixel_counts = np.bincount(labels.ravel())
    regions = []
    for index, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        box = (float(cols.start), float(rows.start), float(cols.stop), float(rows.stop))
        area = (cols.stop - cols.start) * (rows.stop - rows.start)
        regions.append((-area, -int(pixel_counts[index]), index, box))
    regions.sort()
    largest_area = -regions[0][0]
    kept = [regions[0][3]]
    for neg_area, _, _, box in regions[1:max_boxes]:
        if len(kept) >= num_objects or -neg_area < min_relative_size * largest_area:
            break
        kept.append(box)
    return kept


def box_scores(attention: Tensor | np.ndarray, boxes: list[Box]) -> list[float]:
    """Confidence of each box: the mean attention weight inside it.

    Boxes must lie on the map's grid (pixel edges, as `boxes_from_attention` returns them). A
    box in a sharply peaked map scores high and a box in a diffuse map low, so the boxes of many
    frames rank sensibly for average precision provided their maps share one scale (e.g. all
    softmax maps of one model on one feature grid; bilinear upsampling keeps that scale, so
    scoring on the upsampled map gives about the same value).
    """
    array = as_map(attention)
    height, width = array.shape
    scores = []
    for x1, y1, x2, y2 in boxes:
        if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
            raise ValueError(f"box {(x1, y1, x2, y2)} is empty or outside the {height}x{width} map")
        inside = array[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))]
        scores.append(float(inside.mean()))
    return scores


def upsample_map(attention: Tensor | np.ndarray, size: tuple[int, int]) -> Tensor:
    """Bilinearly resize a map (H, W) or maps (T, H, W) to `size` = (height, width) of the frame.

    Returns a float tensor of shape (height, width) or (T, height, width). Bilinear weights are
    convex, so the maximum never grows and the 60%-of-maximum rule stays meaningful.
    """
    maps = torch.as_tensor(attention)
    if maps.ndim not in (2, 3):
        raise ValueError(f"upsample_map: expected (H, W) or (T, H, W), got shape {tuple(maps.shape)}")
    frames = maps if maps.ndim == 3 else maps[None]
    frames = rearrange(frames.float(), "t h w -> t 1 h w")
    resized = rearrange(F.interpolate(frames, size=size, mode="bilinear", align_corners=False), "t 1 h w -> t h w")
    return resized if maps.ndim == 3 else resized[0]


def scale_boxes(boxes: list[Box], from_grid: tuple[int, int], to_size: tuple[int, int]) -> list[Box]:
    """Map pixel-edge boxes from a (height, width) grid onto another (height, width) grid."""
    scale_y = to_size[0] / from_grid[0]
    scale_x = to_size[1] / from_grid[1]
    return [(x1 * scale_x, y1 * scale_y, x2 * scale_x, y2 * scale_y) for x1, y1, x2, y2 in boxes]


@dataclass(frozen=True)
class FrameGeometry:
    """Where the feature grid lies on the original frame: ``frame_size`` (H, W) decoded,
    ``input_size`` (h, w) the model saw, ``stride`` input pixels per feature cell."""

    frame_size: tuple[int, int]
    input_size: tuple[int, int]
    stride: int

    @property
    def grid(self) -> tuple[int, int]:
        """The (h', w') cells of the feature grid: the input size over the stride, rounded up."""
        (in_h, in_w), s = self.input_size, self.stride
        return -(-in_h // s), -(-in_w // s)

    def to_frame(self, maps: Tensor) -> Tensor:
        """Maps (T, h', w') on the feature grid -> (T, H, W) on the frame, bilinearly."""
        (height, width), (in_h, in_w), s = self.frame_size, self.input_size, self.stride
        grid = self.grid
        if tuple(maps.shape[-2:]) != grid:
            raise ValueError(f"maps {tuple(maps.shape)}: expected a {grid} grid for {in_h}x{in_w} input at stride {s}")
        extent = (round(grid[0] * s * height / in_h), round(grid[1] * s * width / in_w))
        return upsample_map(maps, extent)[:, :height, :width]
