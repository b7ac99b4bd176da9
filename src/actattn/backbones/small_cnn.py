"""A small from-scratch CNN for the CPU demo: video (B, 3, T, H, W) -> (B, T, 128, H/8, W/8) (or H/4, W/4).

Three conv3x3-BN-ReLU-maxpool stages (32, 64, 96 channels) bring a 64 px frame to an 8x8 grid;
two dilated conv3x3-BN-ReLU stages (128 channels, dilation 2 and 4) then widen each cell's
receptive field to 118 px without shrinking the grid. SynthHOI's action cue is where the hand is
relative to an object, so every cell must see both; the grid stays fine enough for the
attention maps to point at one of them (the role of the stride-1 last stage in the papers).

That whole-frame view costs localisation: any cell can then recognise the action, so weakly
supervised attention need not land on the object. ``dilations=(1, 1)`` keeps each cell to a
54 px window; ``()`` stops at the 22 px of the pooled stages.

``pretrained=True`` loads :data:`WEIGHTS`: the ``(1, 1)`` network pretrained on SynthHOI's
per-cell object and hand shares (:mod:`actattn.pretrain`, ImageNet's part for the CPU demos).

``output_stride=4`` gives the same network a grid twice as fine (16x16 cells of 4 px on a 64 px
frame), the atrous way (DeepLab; Chen et al., 2017): the third max-pool runs at stride 1 and the
stride-1 stages after it are dilated twice as much, so every weight (the pretrained ones too) sees
what it saw at stride 8, at twice as many places. The pool's window grows from 2x2 to 3x3, centred
on its cell, so that cell j still stands for input pixels [4j, 4j + 4) (its window's centre is
4j + 2, where localisation puts it); a 2x2 window would reproduce the stride-8 features exactly at
the even cells but centre cell j 2 px off, at 4j + 4.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

WEIGHTS = Path(__file__).with_name("weights") / "small_cnn_synthhoi.pt"

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
    """Per-frame small CNN; ``dilations``: one 128-channel stage per entry after the pooled ones;
    ``pretrained``: start from :data:`WEIGHTS` (which need ``dilations=(1, 1)``);
    ``frozen_stages``: the first that many stages (of ``3 + len(dilations)``) do not learn and keep
    their BatchNorm statistics, as MMAction2's ``frozen_stages`` of a ResNet; ``output_stride``: 8,
    or 4 for the atrous grid (module docstring).

    Attributes:
        out_channels: 128 (96 without dilated stages).
        output_stride: 8 or 4.
    """

    def __init__(self, dilations: Sequence[int] = (2, 4), *, pretrained: bool = False, frozen_stages: int = 0,
                 output_stride: int = 8) -> None:
        super().__init__()
        if output_stride not in (4, 8):
            raise ValueError(f"SmallCNN: output_stride must be 8 or 4, got {output_stride}")
        atrous = 8 // output_stride  # 2: the last pool at stride 1, the later convs dilated twice as much
        stages: list[list[nn.Module]] = []
        channels = 3
        for i, width in enumerate(POOLED):
            last = i == len(POOLED) - 1
            pool = nn.MaxPool2d(3, stride=1, padding=1) if last and atrous == 2 else nn.MaxPool2d(2, ceil_mode=True)
            stages.append([*conv_bn_relu(channels, width), pool])
            channels = width
        for dilation in dilations:
            stages.append(conv_bn_relu(channels, WIDTH, dilation * atrous))
            channels = WIDTH
        if not 0 <= frozen_stages <= len(stages):
            raise ValueError(f"SmallCNN: frozen_stages must be in [0, {len(stages)}], got {frozen_stages}")
        self.stages = nn.Sequential(*(layer for stage in stages for layer in stage))
        self.frozen_layers = sum(len(stage) for stage in stages[:frozen_stages])
        self.stages[: self.frozen_layers].requires_grad_(False).eval()  # a Lightning fit need not call train()
        self.out_channels: int = channels
        self.output_stride = output_stride
        if pretrained:
            self._load_pretrained(tuple(dilations))

    def train(self, mode: bool = True) -> SmallCNN:
        """Train mode, except the frozen stages."""
        super().train(mode)
        self.stages[: self.frozen_layers].eval()
        return self

    def _load_pretrained(self, dilations: tuple[int, ...]) -> None:
        saved = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
        if tuple(saved["dilations"]) != dilations:
            raise ValueError(f"{WEIGHTS} holds a SmallCNN with dilations {tuple(saved['dilations'])}, "
                             f"not {dilations}: pass dilations={tuple(saved['dilations'])}")
        self.load_state_dict(saved["state_dict"])

    def forward(self, video: Tensor) -> Tensor:
        """(B, 3, T, H, W) -> (B, T, C, ceil(H / s), ceil(W / s)) for the output stride s."""
        if video.ndim != 5 or video.shape[1] != 3:
            raise ValueError(f"SmallCNN: expected video (B, 3, T, H, W), got {tuple(video.shape)}")
        # channels-last: oneDNN's convolutions and pooling run about 15% faster on CPU in this layout
        frames = rearrange(video, "b c t h w -> (b t) c h w").contiguous(memory_format=torch.channels_last)
        features = self.stages[self.frozen_layers :](self._frozen(frames))
        return rearrange(features, "(b t) c h w -> b t c h w", b=video.shape[0])

    def _frozen(self, frames: Tensor) -> Tensor:
        """The frozen stages, each BatchNorm folded into the convolution before it: the same function
        as the layers in eval mode, and faster (47 against 60 ms for 64 frames at 64 px through four
        frozen stages on 2 CPU cores, medians of 15 interleaved runs)."""
        layers = self.stages[: self.frozen_layers]
        for i, layer in enumerate(layers):
            if isinstance(layer, nn.Conv2d):
                norm = layers[i + 1]
                weight, bias = fuse_conv_bn_weights(layer.weight, layer.bias, norm.running_mean, norm.running_var,
                                                    norm.eps, norm.weight, norm.bias)
                frames = F.conv2d(frames, weight, bias, layer.stride, layer.padding, layer.dilation)
            elif not isinstance(layer, nn.BatchNorm2d):  # each BatchNorm is in the convolution before it
                frames = layer(frames)
        return frames
