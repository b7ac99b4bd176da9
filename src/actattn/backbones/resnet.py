"""torchvision ResNet trunks applied frame by frame: video (B, 3, T, H, W) -> (B, T, C, H', W').

The trunk is torchvision's ResNet up to ``layer4`` (no ``avgpool``/``fc``). Frames are folded
into the batch, so every frame is processed independently (a 2D backbone, as TSN and the
Attentional Pooling paper use). ``stride1_last=True`` sets the stride of ``layer4`` to 1, which
doubles the grid (14x14 at 224 px); the Attentional Pooling paper instead enlarged the input to
450 px to get 15x15 (images) or 14x14 (HMDB51) maps from ResNet-101.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import torch
from einops import rearrange
from torch import Tensor, nn
from torchvision import models
from torchvision.models import WeightsEnum

from actattn.backbones.inflate import inflate as inflate_stages
from actattn.backbones.inflate import set_frames
from actattn.temporal import add_temporal_shift

ARCHS: dict[str, tuple[Callable[..., models.ResNet], WeightsEnum]] = {
    "resnet18": (models.resnet18, models.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (models.resnet34, models.ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (models.resnet50, models.ResNet50_Weights.IMAGENET1K_V1),
    "resnet101": (models.resnet101, models.ResNet101_Weights.IMAGENET1K_V1),
}
TRUNK_LAYERS = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


class ResNet(nn.Module):
    """Per-frame ResNet trunk.

    Args:
        arch: one of ``ARCHS`` (resnet18, resnet34, resnet50, resnet101).
        pretrained: load torchvision's ImageNet weights (``IMAGENET1K_V1``) through its weight
            enum; this downloads them unless they are already in the torch hub cache.
        weights_path: a local torchvision ResNet state dict (``torch.save(model.state_dict())``);
            trunk keys must match exactly, ``fc.*`` keys are ignored. It loads before the
            temporal shift is added, so a plain ImageNet file initialises a TSM network too.
        stride1_last: stride 1 in ``layer4`` (output stride 16 instead of 32).
        tsm_segments: make it a Temporal Shift Module network for clips of this many frames
            (1/8 of the channels shifted each way inside every residual branch, every other
            block for ResNet-101; :func:`actattn.temporal.add_temporal_shift`).
        inflate: per stage ("conv1", "layer1" .. "layer4", the ORN paper's Conv1 .. Conv5),
            "2D", "2.5D" or "3D" kernels (:mod:`actattn.backbones.inflate`, Table 5), e.g. the
            paper's ``{"conv1": "2.5D", "layer4": "2.5D"}``; inflated after the weights load, so
            ImageNet weights initialise the 2D part and the network starts as the 2D one.

    Attributes:
        out_channels: C of the output (512 for resnet18/34, 2048 for resnet50/101).
        output_stride: input pixels per output cell (32, or 16 with ``stride1_last``).
    """

    def __init__(
        self,
        arch: str = "resnet50",
        *,
        pretrained: bool = False,
        weights_path: str | Path | None = None,
        stride1_last: bool = False,
        tsm_segments: int | None = None,
        inflate: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"ResNet: unknown arch {arch!r}; choose one of {sorted(ARCHS)}")
        if pretrained and weights_path is not None:
            raise ValueError("ResNet: pass either pretrained=True or weights_path, not both")
        net = _build(arch, pretrained)
        self.trunk = nn.Sequential(OrderedDict((name, getattr(net, name)) for name in TRUNK_LAYERS))
        if weights_path is not None:
            load_trunk_weights(self.trunk, Path(weights_path))
        if tsm_segments is not None and inflate:
            raise ValueError("ResNet: choose the temporal shift (tsm_segments) or kernel inflation (inflate), not both")
        if tsm_segments is not None:
            add_temporal_shift(net, tsm_segments)  # after loading: the shift renames conv1 to conv1.net
        self.inflated = inflate_stages(self.trunk, inflate or {})
        self.tsm_segments = tsm_segments
        if stride1_last:
            unstride(self.trunk.layer4[0])
        self.out_channels: int = net.fc.in_features
        self.output_stride: int = 16 if stride1_last else 32

    def forward(self, video: Tensor) -> Tensor:
        """(B, 3, T, H, W) -> (B, T, C, H', W')."""
        if video.ndim != 5 or video.shape[1] != 3:
            raise ValueError(f"ResNet: expected video (B, 3, T, H, W), got {tuple(video.shape)}")
        if self.tsm_segments is not None and video.shape[2] != self.tsm_segments:
            raise ValueError(f"ResNet: TSM built for {self.tsm_segments} frames, got {video.shape[2]}")
        set_frames(self.inflated, video.shape[2])
        frames = rearrange(video, "b c t h w -> (b t) c h w")
        return rearrange(self.trunk(frames), "(b t) c h w -> b t c h w", b=video.shape[0])


def _build(arch: str, pretrained: bool) -> models.ResNet:
    """The torchvision model, with ImageNet weights when ``pretrained``."""
    constructor, weights = ARCHS[arch]
    if not pretrained:
        return constructor(weights=None)
    try:
        return constructor(weights=weights)
    except OSError as err:
        raise RuntimeError(
            f"ResNet: could not fetch {weights} for {arch} ({err}); without internet, save a "
            "torchvision state dict elsewhere and pass weights_path=<file> instead of pretrained=True"
        ) from err


def load_trunk_weights(trunk: nn.Module, path: Path) -> None:
    """Load a torchvision ResNet state dict into ``trunk``: strict on trunk keys, ``fc.*`` dropped."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a torchvision ResNet state dict, got {type(state).__name__}")
    state = {key: value for key, value in state.items() if not key.startswith("fc.")}
    try:
        trunk.load_state_dict(state)
    except RuntimeError as err:
        raise RuntimeError(f"{path}: does not match this ResNet trunk: {err}") from err


def unstride(block: nn.Module) -> None:
    """Set the stride-2 convs of a residual block to stride 1.

    That is ``conv1`` of a BasicBlock or ``conv2`` of a Bottleneck, plus the ``downsample`` conv.
    """
    for module in block.modules():
        if isinstance(module, nn.Conv2d) and module.stride == (2, 2):
            module.stride = (1, 1)
