"""Temporal Shift Module (TSM; Lin, Gan and Han, ICCV 2019), the DAN paper's video-based model.

A 2D network becomes a video network by moving a few channels one frame along time before a
convolution: channels [0, C/fold_div) of frame t take frame t+1's values, channels
[C/fold_div, 2C/fold_div) take frame t-1's, the rest stay; frames past either end are zeros.
The shift sits in the residual branch, before each block's first convolution ("blockres",
mit-han-lab/temporal-shift-module, REFERENCE_NOTES.md 6).
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn
from torchvision.models import ResNet


def temporal_shift(x: Tensor, fold_div: int = 8) -> Tensor:
    """Shift 2 * C // fold_div channels of (B, T, C, H, W) by one frame; returns a new tensor."""
    if x.ndim != 5:
        raise ValueError(f"temporal_shift: expected (B, T, C, H, W), got shape {tuple(x.shape)}")
    fold = x.shape[2] // fold_div
    if fold == 0:
        raise ValueError(f"temporal_shift: {x.shape[2]} channels with fold_div={fold_div} shift no channel")
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold: 2 * fold] = x[:, :-1, fold: 2 * fold]
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out


class TemporalShift(nn.Module):
    """Shift in time, then apply `net` (a block's first conv), on frames stacked as (B*T, C, H, W)."""

    def __init__(self, net: nn.Module, num_segments: int, fold_div: int = 8) -> None:
        super().__init__()
        self.net = net
        self.num_segments = num_segments
        self.fold_div = fold_div

    def forward(self, x: Tensor) -> Tensor:
        """(B*T, C, H, W) with T = num_segments -> net's output for the shifted frames."""
        if x.ndim != 4 or x.shape[0] % self.num_segments:
            raise ValueError(f"TemporalShift: expected (B*{self.num_segments}, C, H, W), "
                             f"got shape {tuple(x.shape)}")
        clips = rearrange(x, "(b t) c h w -> b t c h w", t=self.num_segments)
        shifted = rearrange(temporal_shift(clips, self.fold_div), "b t c h w -> (b t) c h w")
        return self.net(shifted)


def add_temporal_shift(resnet: ResNet, num_segments: int, fold_div: int = 8) -> ResNet:
    """Wrap conv1 of the residual blocks of a torchvision ResNet in `TemporalShift`, in place.

    Every block of layer1..layer4 is wrapped; when layer3 has 23 or more blocks (ResNet-101 and
    deeper) every other block of every stage is (blocks 0, 2, 4, ...), as the reference code
    does. The network then takes frames stacked as (B*num_segments, 3, H, W). Returns `resnet`.
    """
    step = 2 if len(resnet.layer3) >= 23 else 1
    for stage_name in ("layer1", "layer2", "layer3", "layer4"):
        for index, block in enumerate(getattr(resnet, stage_name)):
            if isinstance(block.conv1, TemporalShift):
                raise ValueError(f"add_temporal_shift: {stage_name}[{index}].conv1 is already shifted")
            if index % step == 0:
                block.conv1 = TemporalShift(block.conv1, num_segments, fold_div)
    return resnet
