"""The one output type every model returns (ARCHITECTURE.md, "Conventions")."""
from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor


@dataclass
class ModelOutput:
    """What a head (and so a model) returns.

    logits: per task, ``(B, K)``; the key ``"action"`` is always present.
    attention: named maps ``(B, T, H, W)`` on the feature grid; each head's docstring says
        whether a map sums to 1 per frame, per clip, or is unnormalised.
    aux: whatever the loss or the pictures need beyond that (e.g. per-class maps
        ``(B, T, K, H, W)``, predicted pose heatmaps ``(B, T, J, H, W)``).
    """

    logits: dict[str, Tensor]
    attention: dict[str, Tensor] = field(default_factory=dict)
    aux: dict[str, Tensor] = field(default_factory=dict)
