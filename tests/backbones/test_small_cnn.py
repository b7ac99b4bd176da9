"""SmallCNN: output stride 8 per frame, trainable end to end."""
from __future__ import annotations

import pytest
import torch

from actattn.backbones import SmallCNN, create_backbone


def test_96px_gives_12x12() -> None:
    backbone = create_backbone("small_cnn")
    feats = backbone(torch.randn(2, 3, 4, 96, 96))
    assert feats.shape == (2, 4, backbone.out_channels, 12, 12)
    assert backbone.out_channels == 128 and backbone.output_stride == 8


def test_odd_size_rounds_up() -> None:
    assert SmallCNN()(torch.randn(1, 3, 1, 100, 90)).shape[-2:] == (13, 12)


def test_frames_are_processed_independently() -> None:
    torch.manual_seed(0)
    backbone = SmallCNN().eval()
    video = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        feats = backbone(video)
        for b in range(2):
            for t in range(3):
                torch.testing.assert_close(feats[b, t], backbone(video[b : b + 1, :, t : t + 1])[0, 0])


def test_backward_reaches_every_parameter() -> None:
    backbone = SmallCNN()
    backbone(torch.randn(2, 3, 2, 32, 32)).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


def test_wrong_input_raises() -> None:
    with pytest.raises(ValueError, match=r"SmallCNN: expected video \(B, 3, T, H, W\), got \(1, 1, 2, 8, 8\)"):
        SmallCNN()(torch.zeros(1, 1, 2, 8, 8))
