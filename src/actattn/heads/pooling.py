"""Average pooling baseline head, read as "top-down-only" attention.

Girdhar & Ramanan, "Attentional Pooling for Action Recognition", NIPS 2017, Sec. 3.1:
average pooling followed by a linear classifier (eq. 1, with the mean instead of the sum) scores
class k as the spatial mean of the top-down map t_k = X w_k (eq. 12). The head is the TSN one:
per-frame dropout + linear, logits averaged over frames.
"""
from __future__ import annotations

import torch
from einops import repeat
from torch import Tensor, nn

from actattn.heads.base import Head, check_feats, select_class
from actattn.output import ModelOutput


class AveragePooling(Head):
    """Global average pooling + dropout + linear per frame; logits averaged over T (TSN).

    Args:
        in_channels: C of the feature maps.
        num_classes: K.
        dropout: drop probability on the pooled feature (TSM's 0.5).

    The classifier is initialised N(0, 0.001) with zero bias, as TSN/TSM's ``new_fc``.

    forward(feats (B, T, C, H, W), class_maps=False) returns ModelOutput with
        logits["action"]: (B, K) raw scores.
        attention["top_down"]: (B, T, H, W) t_k = X w_k for the predicted (argmax) class, from
            w_k alone.
        aux["top_down"]: (B, T, K, H, W) t_k for every class, only with ``class_maps=True``.
    Maps are unnormalised and use the features without dropout, so in eval mode
    ``logits == aux["top_down"].mean((-2, -1)).mean(1) + bias`` (eq. 12).
    """

    def __init__(self, in_channels: int, num_classes: int, *, dropout: float = 0.5) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)
        nn.init.normal_(self.fc.weight, std=0.001)
        nn.init.zeros_(self.fc.bias)

    def forward(self, feats: Tensor, *, class_maps: bool = False) -> ModelOutput:
        """feats (B, T, C, H, W) -> ModelOutput; the per-class maps only for ``class_maps``
        (see class docstring)."""
        check_feats(feats, self.in_channels, "AveragePooling")
        pooled = feats.mean(dim=(-2, -1))  # eq. 1 (mean over the n locations)
        logits = self.fc(self.dropout(pooled)).mean(dim=1)  # TSN consensus over T
        predicted = logits.argmax(dim=1)
        if not class_maps:  # eq. 12 for the predicted class only, from its weights w_k
            w = repeat(self.fc.weight[predicted], "b c -> b t c", t=feats.shape[1])
            top_down = torch.einsum("btchw,btc->bthw", feats, w)
            return ModelOutput(logits={"action": logits}, attention={"top_down": top_down})
        top_down = torch.einsum("btchw,kc->btkhw", feats, self.fc.weight)  # eq. 12: t_k = X w_k
        return ModelOutput(
            logits={"action": logits},
            attention={"top_down": select_class(top_down, predicted)},
            aux={"top_down": top_down},
        )
