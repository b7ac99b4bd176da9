"""Backbones: video (B, 3, T, H, W) -> feature maps (B, T, C, H', W').

Each exposes ``out_channels`` (C) and ``output_stride`` (H' = ceil(H / output_stride)).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from actattn.backbones.resnet import ResNet
from actattn.backbones.small_cnn import SmallCNN
from actattn.backbones.video import Precomputed, VideoTrunk

BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "resnet18": partial(ResNet, "resnet18"),
    "resnet34": partial(ResNet, "resnet34"),
    "resnet50": partial(ResNet, "resnet50"),
    "resnet101": partial(ResNet, "resnet101"),
    "small_cnn": SmallCNN,
    "s3d": partial(VideoTrunk, "s3d"),  # stands in for I3D (backbones/video.py)
    "r2plus1d_18": partial(VideoTrunk, "r2plus1d_18"),
    "r3d_18": partial(VideoTrunk, "r3d_18"),
    "mc3_18": partial(VideoTrunk, "mc3_18"),
    "precomputed": Precomputed,  # stored feature maps (actattn extract)
}


def create_backbone(name: str, **kwargs: object) -> nn.Module:
    """Build the backbone ``name`` with keyword overrides (e.g. ``stride1_last=True``)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    return BACKBONES[name](**kwargs)


__all__ = ["BACKBONES", "Precomputed", "ResNet", "SmallCNN", "VideoTrunk", "create_backbone"]
