"""Kernel inflation of a 2D ResNet per stage: 2D, 2.5D or 3D (the ORN paper's Table 5).

Baradel et al., ECCV 2018, Sec. 4 and Table 5: each of ResNet's five blocks (Conv1 = the stem,
Conv2..Conv5 = ``layer1``..``layer4``) keeps its 2D kernels, or has them inflated to 3D, or to
2.5D ("separable kernels: 2D followed by a 1D temporal"); the paper's choice is 2.5D for Conv1 and
Conv5, 2D elsewhere. Every spatial conv of an inflated stage (kernel larger than 1x1) is replaced:

- ``"3D"``: a (3, k, k) conv whose weights are the 2D ones divided by 3 at every temporal tap
  (I3D's inflation), time padded by repeating the end frames, so a clip of identical frames gives
  the 2D output, ImageNet weights included;
- ``"2.5D"``: the 2D conv followed by a (3, 1, 1) temporal conv initialised as the identity (centre
  tap 1 on the channel diagonal, as the authors' code initialises theirs), so it too starts as the
  2D network.

Choices: the temporal kernel is 3 frames, stride 1 (the number of frames is kept); the
temporal conv of 2.5D sits right after the spatial conv, before its batch norm (the authors' code
puts a ReLU between them and no BN after: with the identity start both give the 2D network).
Frames stay folded into the batch, (B*T, C, H, W), so the inflated convs are told T before each
forward (:func:`set_frames`).
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn

INFLATIONS = ("2D", "2.5D", "3D")
STAGES = ("conv1", "layer1", "layer2", "layer3", "layer4")  # the paper's Conv1 .. Conv5
TEMPORAL_KERNEL = 3


class InflatedConv(nn.Module):
    """A 2D conv inflated to 3D or 2.5D (module docstring), on frames folded as (B*T, C, H, W)."""

    def __init__(self, conv: nn.Conv2d, inflation: str) -> None:
        super().__init__()
        if inflation not in ("2.5D", "3D"):
            raise ValueError(f"InflatedConv: inflation must be '2.5D' or '3D', got {inflation!r}")
        self.inflation = inflation
        self.num_frames: int | None = None
        if inflation == "3D":
            self.conv = nn.Conv3d(conv.in_channels, conv.out_channels, (TEMPORAL_KERNEL, *conv.kernel_size),
                                  stride=(1, *conv.stride), padding=(0, *conv.padding),
                                  dilation=(1, *conv.dilation), groups=conv.groups, bias=conv.bias is not None)
            with torch.no_grad():
                self.conv.weight.copy_(conv.weight[:, :, None].expand_as(self.conv.weight) / TEMPORAL_KERNEL)
                if conv.bias is not None:
                    self.conv.bias.copy_(conv.bias)
            self.temporal = None
        else:
            self.conv = conv
            self.temporal = nn.Conv3d(conv.out_channels, conv.out_channels, (TEMPORAL_KERNEL, 1, 1),
                                      padding=(TEMPORAL_KERNEL // 2, 0, 0), bias=False)
            with torch.no_grad():  # identity: centre tap 1 on the channel diagonal
                self.temporal.weight.zero_()
                self.temporal.weight[:, :, TEMPORAL_KERNEL // 2, 0, 0] = torch.eye(conv.out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """(B*T, C, H, W) with T = ``num_frames`` -> (B*T, C', H', W')."""
        t = self.num_frames
        if t is None or x.shape[0] % t:
            raise ValueError(f"InflatedConv: {x.shape[0]} folded frames do not split into clips of {t} frames")
        if self.temporal is None:
            clips = rearrange(x, "(b t) c h w -> b c t h w", t=t)
            half = TEMPORAL_KERNEL // 2
            clips = torch.cat([clips[:, :, :1].expand(-1, -1, half, -1, -1), clips,
                               clips[:, :, -1:].expand(-1, -1, half, -1, -1)], dim=2)  # end frames repeated
            return rearrange(self.conv(clips), "b c t h w -> (b t) c h w")
        clips = rearrange(self.conv(x), "(b t) c h w -> b c t h w", t=t)
        return rearrange(self.temporal(clips), "b c t h w -> (b t) c h w")


def inflate(trunk: nn.Module, inflations: dict[str, str]) -> list[InflatedConv]:
    """Inflate the spatial convs of the stages named in ``inflations`` (stage -> "2D", "2.5D" or "3D")
    of a ResNet trunk in place; returns the inflated convs."""
    unknown = set(inflations) - set(STAGES)
    if unknown:
        raise ValueError(f"inflate: unknown stages {sorted(unknown)}; the stages are {STAGES}")
    inflated = []
    for stage, inflation in inflations.items():
        if inflation not in INFLATIONS:
            raise ValueError(f"inflate: {stage} must be one of {INFLATIONS}, got {inflation!r}")
        if inflation == "2D":
            continue
        module = getattr(trunk, stage)
        parents = [(trunk, "conv1")] if stage == "conv1" else [
            (parent, name) for parent in module.modules() for name, child in parent.named_children()
            if isinstance(child, nn.Conv2d) and child.kernel_size != (1, 1)]
        for parent, name in parents:
            wrapped = InflatedConv(getattr(parent, name), inflation)
            setattr(parent, name, wrapped)
            inflated.append(wrapped)
    return inflated


def set_frames(convs: list[InflatedConv], num_frames: int) -> None:
    """Tell the inflated convs how many frames each clip of the next forward has."""
    for conv in convs:
        conv.num_frames = num_frames

