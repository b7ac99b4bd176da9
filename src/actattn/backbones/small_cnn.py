"""A small from-scratch CNN for the CPU demo: video (B, 3, T, H, W) -> (B, T, 128, H/8, W/8).

Three conv3x3-BN-ReLU-maxpool stages (32, 64, 96 channels) bring a 64 px frame to an 8x8 grid;
two dilated conv3x3-BN-ReLU stages (128 channels, dilation 2 and 4) then widen each cell's
receptive field to 118 px without shrinking the grid. SynthHOI's action cue is where the hand is
relative to an object, so every cell must see both; the grid stays fine enough for the
attention maps to point at one of them (the role of the stride-1 last stage in the papers).

That whole-frame view costs localisation: any cell can then recognise the action, so weakly
supervised attention need not land on the object. ``dilations=(1, 1)`` keeps each cell to a
54 px window (the Dual Attention localisation demo); ``()`` stops at the 22 px of the pooled stages.
"""
from __future__ import annotations

import torch
from einops import rearrange
from collections.abc import Sequence

from torch import Tensor, nn

POOLED = (32, 64, 96)  # channels of the stages that halve the grid
WIDTH = 128  # channels of the stages that keep it


def conv_bn_relu(in_channels: int, out_channels: int, dilation: int = 1) -> list[nn.Module]:
    """3x3 conv (same padding, no bias) -> BatchNorm -> ReLU."""
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class SmallCNN(nn.Module):
    """Per-frame small CNN; ``dilations``: one 128-channel stage per entry after the pooled ones.

    Attributes:
        out_channels: 128 (96 without dilated stages).
        output_stride: 8.
    """

    def __init__(self, dilations: Sequence[int] = (2, 4)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width in POOLED:
            layers += [*conv_bn_relu(channels, width), nn.MaxPool2d(2, ceil_mode=True)]
            channels = width
        for dilation in dilations:
            layers += conv_bn_relu(channels, WIDTH, dilation)
            channels = WIDTH
        self.stages = nn.Sequential(*layers)
        self.out_channels: int = channels
        self.output_stride: int = 2 ** len(POOLED)

    def forward(self, video: Tensor) -> Tensor:
        """(B, 3, T, H, W) -> (B, T, C, ceil(H / 8), ceil(W / 8))."""
        if video.ndim != 5 or video.shape[1] != 3:
            raise ValueError(f"SmallCNN: expected video (B, 3, T, H, W), got {tuple(video.shape)}")
        # channels-last: oneDNN's convolutions and pooling run about 15% faster on CPU in this layout
        frames = rearrange(video, "b c t h w -> (b t) c h w").contiguous(memory_format=torch.channels_last)
        return rearrange(self.stages(frames), "(b t) c h w -> b t c h w", b=video.shape[0])
