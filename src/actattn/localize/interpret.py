"""How well attention maps point at the interaction: pointing game and mass in box.

Scores of one clip's maps (T, h, w) on the feature grid against the boxes of the hand and the
manipulated objects (SynthHOI ground truth, :class:`~actattn.localize.evaluate.GroundTruth`),
over the frames of the action interval [start, end) that show at least one box:

- pointing game: the share of frames whose map maximum lies in a box. A frame whose maximum is
  shared by several cells scores the share of those cells that lie in a box (the expected hit
  when one of them is picked at random), so a constant map scores the uniform baseline.
- mass in box: the share of each frame's map mass on cells in a box, averaged over frames.
- uniform baseline of both: the share of cells in a box, averaged over frames; it is what a
  uniform map scores on either.

A cell lies in a box when its centre, in original-frame pixels, lies in the box grown by half a
feature cell on each side, edges included: a coarse grid can then hit a box smaller than a cell.
Cell (i, j) covers input pixels [i s, (i + 1) s) x [j s, (j + 1) s) at the backbone's output
stride s, and the input is the original frame resized, so its centre is
((j + 1/2) s W / w_in, (i + 1/2) s H / h_in) in (x, y) frame pixels (see ``FrameGeometry``).
Maps that are not per-frame distributions are made ones (:func:`attention_weights`): a map with
no negative value (a share, a [0, 1] confidence, a per-clip distribution) is divided by each
frame's sum; unnormalised scores get a softmax over each frame's positions, the form of DAN's
eq. 8-9.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from einops import rearrange
from torch import Tensor

from actattn.localize.spatial import Box, FrameGeometry

if TYPE_CHECKING:
    from actattn.localize.evaluate import GroundTruth


AS_RETURNED, FRAME_SUM, SOFTMAX = "as returned", "divided by each frame's sum", "softmax over each frame's positions"


def attention_weights(maps: Tensor) -> tuple[Tensor, str]:
    """Maps (T, h, w) -> per-frame distributions over positions, and how they were made: "as
    returned" (already distributions), "divided by each frame's sum" (no negative value; an
    all-zero frame becomes uniform) or "softmax over each frame's positions" (scores)."""
    flat = rearrange(maps.detach().float().cpu(), "t h w -> t (h w)")
    sums = flat.sum(-1, keepdim=True)
    if bool((flat >= 0).all()):
        if torch.allclose(sums, torch.ones_like(sums), atol=1e-3):
            how, weights = AS_RETURNED, flat
        else:
            how = FRAME_SUM
            weights = torch.where(sums > 0, flat / sums.clamp_min(torch.finfo(flat.dtype).tiny), 1 / flat.shape[-1])
    else:
        how, weights = SOFTMAX, flat.softmax(dim=-1)
    return rearrange(weights, "t (h w) -> t h w", h=maps.shape[-2]), how


def cells_in_boxes(boxes: Sequence[Box], geometry: FrameGeometry) -> np.ndarray:
    """Bool (h, w): the cells whose centre lies in one of the boxes (frame pixels) grown by half a cell."""
    (height, width), (in_h, in_w), s = geometry.frame_size, geometry.input_size, geometry.stride
    cell_h, cell_w = s * height / in_h, s * width / in_w
    grid_h, grid_w = geometry.grid
    ys, xs = (np.arange(grid_h)[:, None] + 0.5) * cell_h, (np.arange(grid_w)[None, :] + 0.5) * cell_w
    inside = np.zeros((grid_h, grid_w), dtype=bool)
    for x1, y1, x2, y2 in boxes:
        inside |= ((x1 - cell_w / 2 <= xs) & (xs <= x2 + cell_w / 2)
                   & (y1 - cell_h / 2 <= ys) & (ys <= y2 + cell_h / 2))
    return inside


def cell_coverage(boxes: Sequence[Box], geometry: FrameGeometry) -> np.ndarray:
    """Float (h, w): the share of each cell's pixels inside one of the boxes (frame pixels), the
    most that any one box covers. Cell (i, j) covers frame pixels [i c_h, (i + 1) c_h) x
    [j c_w, (j + 1) c_w), c = the stride in frame pixels."""
    (height, width), (in_h, in_w), s = geometry.frame_size, geometry.input_size, geometry.stride
    grid_h, grid_w = geometry.grid
    rows, cols = np.arange(grid_h + 1) * s * height / in_h, np.arange(grid_w + 1) * s * width / in_w

    def share(lo: float, hi: float, edges: np.ndarray) -> np.ndarray:
        return np.clip(np.minimum(hi, edges[1:]) - np.maximum(lo, edges[:-1]), 0, None) / np.diff(edges)

    coverage = np.zeros((grid_h, grid_w))
    for x1, y1, x2, y2 in boxes:
        coverage = np.maximum(coverage, np.outer(share(y1, y2, rows), share(x1, x2, cols)))
    return coverage


@dataclass(frozen=True)
class InterpretabilityScores:
    """One clip's (or pooled clips') scores over ``frames`` frames; see the module docstring.

    ``uniform`` is the uniform map's pointing game and mass in box alike.
    """

    pointing_game: float
    mass_in_box: float
    uniform: float
    frames: int

    def as_dict(self) -> dict[str, float]:
        """Flat names for loggers and tables."""
        return {"pointing_game": self.pointing_game, "mass_in_box": self.mass_in_box,
                "pointing_game_uniform": self.uniform, "mass_in_box_uniform": self.uniform}


def interpretability(
    maps: Tensor, geometry: FrameGeometry, boxes: Sequence[Sequence[Box]], interval: tuple[int, int]
) -> InterpretabilityScores:
    """Score maps (T, h, w) against ``boxes[t]`` (frame pixels) on the frames of ``interval`` showing one."""
    grid = geometry.grid
    if maps.ndim != 3 or tuple(maps.shape[-2:]) != grid:
        raise ValueError(f"maps {tuple(maps.shape)}: expected (T, {grid[0]}, {grid[1]}) for "
                         f"{geometry.input_size} input at stride {geometry.stride}")
    if len(boxes) != len(maps):
        raise ValueError(f"{len(maps)} maps but boxes of {len(boxes)} frames")
    start, end = interval
    if not 0 <= start < end <= len(maps):
        raise ValueError(f"interval {interval} is not a non-empty range of the {len(maps)} frames")
    frames = [t for t in range(start, end) if boxes[t]]
    if not frames:
        raise ValueError(f"no frame of the interval {interval} shows a box")
    weights = attention_weights(maps)[0].double().numpy()
    hits, masses, shares = [], [], []
    for t in frames:
        inside, weight = cells_in_boxes(boxes[t], geometry), weights[t]
        peaks = weight == weight.max()
        hits.append((peaks & inside).sum() / peaks.sum())
        masses.append(weight[inside].sum() / weight.sum())
        shares.append(inside.mean())
    return InterpretabilityScores(float(np.mean(hits)), float(np.mean(masses)), float(np.mean(shares)), len(frames))


def clip_interpretability(maps: Tensor, geometry: FrameGeometry, truth: GroundTruth) -> InterpretabilityScores:
    """Score maps (T, h, w) against the hand's and the manipulated objects' boxes of SynthHOI ground truth."""
    boxes = [truth.interaction_boxes(t) for t in range(len(truth.boxes))]
    return interpretability(maps, geometry, boxes, truth.interval)


def pool_scores(scores: Sequence[InterpretabilityScores]) -> InterpretabilityScores:
    """Clips' scores pooled: each a mean over the clips weighted by their frames."""
    if not scores:
        raise ValueError("no clip scores to pool")
    frames = [s.frames for s in scores]
    values = [[s.pointing_game, s.mass_in_box, s.uniform] for s in scores]
    pointing_game, mass_in_box, uniform = np.average(values, axis=0, weights=frames).tolist()
    return InterpretabilityScores(pointing_game, mass_in_box, uniform, sum(frames))
