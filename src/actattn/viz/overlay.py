"""Attention maps drawn over frames."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def denormalize(video: Tensor) -> np.ndarray:
    """A normalised clip ``(3, T, H, W)`` back to ``(T, H, W, 3)`` uint8 frames."""
    mean = torch.tensor(IMAGENET_MEAN, device=video.device).view(3, 1, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=video.device).view(3, 1, 1, 1)
    frames = (video.float() * std + mean).clamp(0, 1).mul(255).round().byte()
    return frames.permute(1, 2, 3, 0).cpu().numpy()


def upsample(attention: Tensor | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of ``(h, w)`` or ``(T, h, w)`` maps to ``size`` (H, W)."""
    maps = torch.as_tensor(np.asarray(attention, dtype=np.float32))
    squeeze = maps.ndim == 2
    maps = maps.reshape(-1, 1, *maps.shape[-2:])
    up = F.interpolate(maps, size=size, mode="bilinear", align_corners=False)[:, 0].numpy()
    return up[0] if squeeze else up


def normalize_map(attention: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Min-max scale to [0, 1] (a constant map becomes zeros); non-finite values are an error."""
    if not np.isfinite(attention).all():
        raise ValueError("attention map contains NaN or infinite values")
    lo = attention.min() if vmin is None else vmin
    hi = attention.max() if vmax is None else vmax
    if hi - lo <= 1e-12:
        return np.zeros_like(attention, dtype=np.float32)
    return np.clip((attention - lo) / (hi - lo), 0, 1).astype(np.float32)


def overlay(
    frame: np.ndarray,
    attention: Tensor | np.ndarray,
    alpha: float = 0.5,
    cmap: str = "jet",
    vmin: float | None = None,
    vmax: float | None = None,
) -> np.ndarray:
    """Blend a heat map of ``attention`` (any grid) over an ``(H, W, 3)`` uint8 frame."""
    heat = normalize_map(upsample(attention, frame.shape[:2]), vmin, vmax)
    colour = colormaps[cmap](heat)[..., :3] * 255
    return (alpha * colour + (1 - alpha) * frame).round().astype(np.uint8)
