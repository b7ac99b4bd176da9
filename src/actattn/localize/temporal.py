"""The "when": an action's interval from the change of attention over time (DAN, Section 4.1), or
from a per-frame confidence that the action happens (ActX's S^act, :func:`presence_interval`).

The video is cut into segments of 1/3 second (four frames at Something-Something's 12 fps); the
object attention maps are averaged within each segment and normalised to a distribution over
positions; consecutive segments are compared with the Kullback-Leibler divergence (eq. 12).
Leading segments whose difference to the preceding segment is below 0.06, and trailing segments
whose difference to the succeeding segment is below 0.06, are filtered out; what remains is the
action. When it is shorter than one second the action is taken to span the whole video.

Eq. 12 is the usual D_KL(P || Q) = sum_i P(i) log(P(i) / Q(i)) in nats; the paper does not say
which of two consecutive segments is P. Here P is the earlier segment k and Q the later k + 1.
"""
from __future__ import annotations

import numpy as np
import torch
from einops import rearrange
from torch import Tensor

from actattn.localize.spatial import as_map


def frames_per_segment(fps: float, segment_seconds: float = 1 / 3) -> int:
    """Frames in one segment: `segment_seconds` at `fps`, rounded, at least one frame."""
    if fps <= 0 or segment_seconds <= 0:
        raise ValueError(f"fps and segment_seconds must be positive, got {fps} and {segment_seconds}")
    return max(1, round(fps * segment_seconds))


def segment_distributions(maps: Tensor | np.ndarray, segment_frames: int) -> Tensor:
    """Average maps (T, H, W) over segments of `segment_frames` frames -> (S, H*W) distributions.

    The last segment holds the leftover frames when T is not a multiple of `segment_frames`.
    Maps must be non-negative (attention weights) and no segment may be all zero.
    """
    array = as_map(maps, ndim=3)
    if (array < 0).any():
        raise ValueError(f"attention maps of shape {array.shape} hold negative values (min {array.min():g}); "
                         "eq. 12 compares probability distributions")
    frames = rearrange(torch.from_numpy(array), "t h w -> t (h w)")
    segments = torch.stack([chunk.mean(dim=0) for chunk in frames.split(segment_frames)])
    totals = segments.sum(dim=1, keepdim=True)
    empty = (totals[:, 0] == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"segments {empty} (of {segment_frames} frames each) have all-zero attention")
    return segments / totals


def kl_divergence(p: Tensor, q: Tensor) -> Tensor:
    """D_KL(P || Q) over the last dim, in nats; 0 log 0 = 0, and P > 0 where Q = 0 gives inf."""
    return (torch.special.xlogy(p, p) - torch.special.xlogy(p, q)).sum(dim=-1)  # eq. 12


def segment_changes(maps: Tensor | np.ndarray, fps: float, segment_seconds: float = 1 / 3) -> Tensor:
    """KL divergence between consecutive segments: entry k is D_KL(segment k || segment k + 1).

    Returns a float64 tensor of length S - 1 for S segments (empty for a single segment).
    """
    segments = segment_distributions(maps, frames_per_segment(fps, segment_seconds))
    return kl_divergence(segments[:-1], segments[1:])  # eq. 12


def trim_interval(
    maps: Tensor | np.ndarray,
    fps: float,
    segment_seconds: float = 1 / 3,
    threshold: float = 0.06,
    min_seconds: float = 1.0,
) -> tuple[int, int]:
    """Frames (start, end), end exclusive, in which the action happens, from maps (T, H, W).

    With changes c_k = D_KL(segment k || segment k + 1), the interval starts at the first segment
    whose change from its predecessor reaches `threshold` (c_{k-1} >= threshold) and ends after
    the last segment whose change to its successor reaches it (c_k >= threshold); the segments
    outside are the leading and trailing ones filtered out (the first segment, having no
    predecessor, and the last, having no successor, are always among them). Changes below the
    threshold between those two segments are kept. The whole video (0, T) is returned when no change reaches the
    threshold or the remaining interval is shorter than `min_seconds`.
    """
    segment_frames = frames_per_segment(fps, segment_seconds)
    segments = segment_distributions(maps, segment_frames)
    num_frames = len(maps)
    changes = kl_divergence(segments[:-1], segments[1:])  # eq. 12
    changed = (changes >= threshold).nonzero().flatten().tolist()
    if not changed:
        return 0, num_frames
    start = (changed[0] + 1) * segment_frames
    end = (changed[-1] + 1) * segment_frames
    if end <= start or (end - start) / fps < min_seconds:
        return 0, num_frames
    return start, end


def presence_threshold(levels: Tensor | np.ndarray) -> float:
    """The level a frame's presence must reach in :func:`presence_interval`: the midpoint between
    the clip's lowest and highest level."""
    values = torch.as_tensor(levels, dtype=torch.float64)
    return float((values.min() + values.max()) / 2)


def presence_interval(levels: Tensor | np.ndarray) -> tuple[int, int]:
    """Frames (start, end), end exclusive, of the longest run of frames whose ``levels`` (T,), a
    confidence that the action happens in each frame (ActX: the frame's mean S^act), reach the
    midpoint between the clip's lowest and highest level; the first such run on a tie, the whole
    video when every level is the same."""
    values = torch.as_tensor(levels, dtype=torch.float64).flatten()
    if not len(values) or not torch.isfinite(values).all():
        raise ValueError(f"presence levels must be finite values, one per frame; got {values.tolist()}")
    if values.min() == values.max():
        return 0, len(values)
    above = torch.cat([torch.tensor([False]), values >= presence_threshold(values), torch.tensor([False])])
    edges = (above[1:].int() - above[:-1].int()).nonzero().flatten().view(-1, 2)  # (start, end) of each run
    longest = int((edges[:, 1] - edges[:, 0]).argmax())
    return int(edges[longest, 0]), int(edges[longest, 1])
