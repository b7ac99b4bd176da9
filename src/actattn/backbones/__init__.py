"""Backbones: video (B, 3, T, H, W) -> feature maps (B, T, C, H', W').

Each exposes ``out_channels`` (C) and ``output_stride`` (H' = ceil(H / output_stride)).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from actattn.backbones.resnet import ResNet
from actattn.backbones.small_cnn import SmallCNN

BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "resnet18": partial(ResNet, "resnet18"),
    "resnet34": partial(ResNet, "resnet34"),
    "resnet50": partial(ResNet, "resnet50"),
    "resnet101": partial(ResNet, "resnet101"),
    "small_cnn": SmallCNN,
}


def create_backbone(name: str, **kwargs: object) -> nn.Module:
    """Build the backbone ``name`` with keyword overrides (e.g. ``stride1_last=True``)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    return BACKBONES[name](**kwargs)


__all__ = ["BACKBONES", "ResNet", "SmallCNN", "create_backbone"]
