"""A small from-scratch CNN for the CPU demo: video (B, 3, T, H, W) -> (B, T, 128, H/8, W/8).

Five conv3x3-BN-ReLU stages with 16-32-64-64-128 channels and strides 2-2-2-1-1, so a 96 px
frame gives a 12x12 map. The two stride-1 stages at the end keep the last features local
enough for spatial attention to matter (the paper's "Base Network" paragraph, Sec. 4).
"""
from __future__ import annotations

from einops import rearrange
from torch import Tensor, nn

STAGES = ((16, 2), (32, 2), (64, 2), (64, 1), (128, 1))


def conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """3x3 conv (padding 1, no bias) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Per-frame small CNN.

    Attributes:
        out_channels: 128.
        output_stride: 8.
    """

    def __init__(self) -> None:
        super().__init__()
        channels = [3] + [width for width, _ in STAGES]
        self.stages = nn.Sequential(
            *(conv_bn_relu(c_in, c_out, stride) for c_in, c_out, (_, stride) in zip(channels, channels[1:], STAGES))
        )
        self.out_channels: int = channels[-1]
        self.output_stride: int = 8

    def forward(self, video: Tensor) -> Tensor:
        """(B, 3, T, H, W) -> (B, T, C, H', W')."""
        if video.ndim != 5 or video.shape[1] != 3:
            raise ValueError(f"SmallCNN: expected video (B, 3, T, H, W), got {tuple(video.shape)}")
        frames = rearrange(video, "b c t h w -> (b t) c h w")
        return rearrange(self.stages(frames), "(b t) c h w -> b t c h w", b=video.shape[0])
