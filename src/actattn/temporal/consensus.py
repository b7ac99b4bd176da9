"""TSN segment consensus: the video is the average of its segments (DAN paper, eq. 5).

Temporal Segment Networks (and TSM, whose head also averages logits over segments) score each
sampled segment independently and average the results.
"""
from __future__ import annotations

from torch import Tensor, nn


def average_consensus(x: Tensor) -> Tensor:
    """Average over segments: (B, T, ...) -> (B, ...)."""
    if x.ndim < 2:
        raise ValueError(f"average_consensus: expected (B, T, ...), got shape {tuple(x.shape)}")
    return x.mean(dim=1)  # eq. 5


class SegmentConsensus(nn.Module):
    """`average_consensus` as a module, for building models from parts."""

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, ...) -> (B, ...)."""
        return average_consensus(x)
