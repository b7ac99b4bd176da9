"""torchvision's video networks as trunks, and the identity on precomputed feature maps.

Both map their input to feature maps ``(B, T', C, H', W')`` like every backbone.

:class:`VideoTrunk`: torchvision's Kinetics-400 video classifiers without their pooling and
classifier, video ``(B, 3, T, H, W)`` -> ``(B, T', C, H', W')``:

========== ======================= ====== ============== ============ ==================
name       torchvision model       C      temporal_stride output_stride grid at 256 x 352
========== ======================= ====== ============== ============ ==================
s3d        ``s3d`` (features)      1024   8              32           8 x 11
r2plus1d_18 ``r2plus1d_18``        512    8              16           16 x 22
r3d_18     ``r3d_18``              512    8              16           16 x 22
mc3_18     ``mc3_18``              512    1              16           16 x 22
========== ======================= ====== ============== ============ ==================

with ``T' = ceil(T / temporal_stride)`` and ``H' = ceil(H / output_stride)`` (``W'`` alike) for
any input of at least one frame and one pixel (tested).

I3D is not in torchvision. S3D stands in for it (the paper's backbone, supplement Sec. 2.1): it is
the separable-3D Inception network that Xie et al. built from I3D (each 3D conv factored into a
spatial and a temporal one), and its last map (``Mixed_5c``) has I3D's 1024 channels and strides
8, 32, 32, so at the paper's 256 x 352 input it gives I3D's 8 x 11 grid and 128 frames give 16
steps. One change to torchvision's S3D: its last max-pool (2 x 2 x 2, stride 2) works in ceil mode
(:class:`CeilMaxPool3d`), so
the strides hold for every length and size; torchvision's floor mode gives ``floor((T + 3) / 8)``
steps and ``floor((H + 15) / 32)`` rows, so it refuses fewer than 5 frames or 17 pixels and drops
a tail. Both agree (the same numbers, pretrained weights unchanged) whenever ``T`` is a multiple of
8 and ``H``, ``W`` of 32, as at 256 x 352. The ResNet-18 family keeps its stride-2 stem without
max-pool, so its grid is twice as fine (a 128 x 176 input gives 8 x 11).

Inputs are normalised with Kinetics' ``mean`` and ``std`` (attributes, for the extractor), not
ImageNet's. Weights: ``pretrained=True`` loads torchvision's ``KINETICS400_V1`` through its weight
enum (downloaded unless in the torch hub cache); ``weights_path`` a local torchvision state dict
of the whole classifier (``fc.*`` / ``classifier.*`` are dropped, the trunk's keys must match).

:class:`Precomputed`: the identity on feature maps that ``actattn extract`` stored
(:mod:`actattn.extract`, read by :mod:`actattn.data.features`), so that a head trains on them:
the batch's ``"video"`` entry is the map itself.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torchvision.models import WeightsEnum
from torchvision.models import video as tv_video

# name -> (constructor, Kinetics weights, C, temporal stride, spatial stride)
ARCHS: dict[str, tuple[Callable[..., nn.Module], WeightsEnum, int, int, int]] = {
    "s3d": (tv_video.s3d, tv_video.S3D_Weights.KINETICS400_V1, 1024, 8, 32),
    "r2plus1d_18": (tv_video.r2plus1d_18, tv_video.R2Plus1D_18_Weights.KINETICS400_V1, 512, 8, 16),
    "r3d_18": (tv_video.r3d_18, tv_video.R3D_18_Weights.KINETICS400_V1, 512, 8, 16),
    "mc3_18": (tv_video.mc3_18, tv_video.MC3_18_Weights.KINETICS400_V1, 512, 1, 16),
}
RESNET_TRUNK = ("stem", "layer1", "layer2", "layer3", "layer4")
HEAD_PREFIXES = ("fc.", "classifier.")  # torchvision's classifier keys, not part of a trunk


class VideoTrunk(nn.Module):
    """A torchvision video network up to its last feature map (module docstring).

    Args:
        arch: one of ``ARCHS`` (s3d, r2plus1d_18, r3d_18, mc3_18).
        pretrained: torchvision's ``KINETICS400_V1`` weights through the weight enum.
        weights_path: a local state dict of the torchvision model (``torch.save(model.state_dict())``).

    Attributes:
        out_channels: C (1024 for s3d, 512 for the others).
        output_stride: input pixels per output cell (32 for s3d, 16 for the others).
        temporal_stride: input frames per output step (8; 1 for mc3_18): ``T' = ceil(T / temporal_stride)``.
        mean, std: the RGB normalisation the weights expect (Kinetics').
    """

    def __init__(self, arch: str = "s3d", *, pretrained: bool = False, weights_path: str | Path | None = None) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"VideoTrunk: unknown arch {arch!r}; choose one of {sorted(ARCHS)}")
        if pretrained and weights_path is not None:
            raise ValueError("VideoTrunk: pass either pretrained=True or weights_path, not both")
        build, weights, channels, temporal, spatial = ARCHS[arch]
        net = _build(arch, build, weights if pretrained else None)
        if weights_path is not None:
            _load(net, Path(weights_path), arch)
        if arch == "s3d":
            self.trunk = net.features
            last = max(i for i, module in enumerate(self.trunk) if isinstance(module, nn.MaxPool3d))
            self.trunk[last] = CeilMaxPool3d(self.trunk[last])  # T' = ceil(T / 8), H' = ceil(H / 32)
        else:
            self.trunk = nn.Sequential(*(getattr(net, name) for name in RESNET_TRUNK))
        self.arch = arch
        self.out_channels: int = channels
        self.output_stride: int = spatial
        self.temporal_stride: int = temporal
        transforms = weights.transforms()
        self.mean: tuple[float, ...] = tuple(transforms.mean)
        self.std: tuple[float, ...] = tuple(transforms.std)

    def forward(self, video: Tensor) -> Tensor:
        """(B, 3, T, H, W) -> (B, ceil(T / temporal_stride), C, ceil(H / output_stride), ceil(W / output_stride))."""
        if video.ndim != 5 or video.shape[1] != 3:
            raise ValueError(f"VideoTrunk({self.arch}): expected video (B, 3, T, H, W), got {tuple(video.shape)}")
        return rearrange(self.trunk(video), "b c t h w -> b t c h w")


class CeilMaxPool3d(nn.Module):
    """A max-pool whose kernel equals its stride, in ceil mode for every size: the input is padded
    with -inf at the end of each dimension to a multiple of the stride (torch's own ceil mode still
    refuses an input smaller than the kernel). Parameter-free, so state dicts are unchanged."""

    def __init__(self, pool: nn.MaxPool3d) -> None:
        super().__init__()
        kernel, stride = nn.modules.utils._triple(pool.kernel_size), nn.modules.utils._triple(pool.stride)
        if kernel != stride or pool.padding not in (0, (0, 0, 0)):
            raise ValueError(f"CeilMaxPool3d: needs kernel == stride and no padding, got {pool}")
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        pad = [(-size) % step for size, step in zip(x.shape[-3:], self.stride)]
        x = F.pad(x, (0, pad[2], 0, pad[1], 0, pad[0]), value=float("-inf"))
        return F.max_pool3d(x, self.stride, self.stride)


def _build(arch: str, build: Callable[..., nn.Module], weights: WeightsEnum | None) -> nn.Module:
    try:
        return build(weights=weights)
    except OSError as err:
        raise RuntimeError(
            f"VideoTrunk: could not fetch {weights} for {arch} ({err}); without internet, save a torchvision "
            "state dict elsewhere and pass weights_path=<file> instead of pretrained=True"
        ) from err


def _load(net: nn.Module, path: Path, arch: str) -> None:
    """A torchvision state dict of ``arch`` into ``net``; the classifier's keys may be missing or anything."""
    if not path.is_file():
        raise ValueError(f"VideoTrunk: weights_path {path}: no such file")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a torchvision {arch} state dict, got {type(state).__name__}")
    trunk_state = {key: value for key, value in state.items() if not key.startswith(HEAD_PREFIXES)}
    try:
        missing, unexpected = net.load_state_dict(trunk_state, strict=False)
    except RuntimeError as err:  # a shape mismatch
        raise ValueError(f"{path}: does not match torchvision's {arch}: {err}") from err
    missing = [key for key in missing if not key.startswith(HEAD_PREFIXES)]
    if missing or unexpected:
        raise ValueError(f"{path}: does not match torchvision's {arch}: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]} ({len(missing)} and {len(unexpected)} keys)")


class Precomputed(nn.Module):
    """The identity on stored feature maps ``(B, T', C, H', W')``: the backbone of a head trained on
    the maps of ``actattn extract`` (:class:`~actattn.data.features.FeatureDataModule`, whose
    ``backbone_kwargs`` gives these arguments from the feature files).

    Args:
        out_channels: C of the stored maps (checked on every input).
        output_stride: the stored maps' input pixels per cell (the extracting backbone's), so that
            targets and boxes on the feature grid keep their geometry.
        temporal_stride: input frames per stored step (informational, like the other backbones').
        pretrained: must be False: stored maps have no weights to load.

    It has no parameters; the maps must be float (the features dataset reads them as float32).
    """

    def __init__(self, *, out_channels: int, output_stride: int, temporal_stride: int = 1,
                 pretrained: bool = False) -> None:
        super().__init__()
        if pretrained:
            raise ValueError("Precomputed: stored feature maps have no weights; drop pretrained=True "
                             "(the extracting backbone's weights are recorded in the feature files)")
        if out_channels < 1 or output_stride < 1 or temporal_stride < 1:
            raise ValueError(f"Precomputed: out_channels, output_stride and temporal_stride must be >= 1, got "
                             f"{out_channels}, {output_stride}, {temporal_stride}")
        self.out_channels: int = out_channels
        self.output_stride: int = output_stride
        self.temporal_stride: int = temporal_stride

    def forward(self, feats: Tensor) -> Tensor:
        """(B, T', C, H', W') -> the same tensor."""
        if feats.ndim != 5 or feats.shape[2] != self.out_channels:
            raise ValueError(f"Precomputed: expected stored feature maps (B, T', {self.out_channels}, H', W'), got "
                             f"{tuple(feats.shape)}; a video (B, 3, T, H, W) needs a real backbone, or features "
                             "from actattn extract")
        return feats
