"""Kernel inflation (ORN Table 5): 2.5D and 3D stages start as the 2D network and mix frames."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision import models

from actattn.backbones import ResNet
from actattn.backbones.inflate import InflatedConv

PAPER = {"conv1": "2.5D", "layer4": "2.5D"}  # the paper's choice (Sec. 4)


def features(net: ResNet, video: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net.eval()(video)


@pytest.mark.parametrize("inflation", ["2.5D", "3D"])
def test_an_inflated_network_starts_as_the_2d_one(inflation: str) -> None:
    torch.manual_seed(0)
    flat = ResNet("resnet18")
    torch.manual_seed(0)
    inflated = ResNet("resnet18", inflate={"conv1": inflation, "layer2": inflation, "layer4": inflation})
    frame = torch.randn(1, 3, 1, 64, 64)
    static = frame.expand(1, 3, 4, 64, 64)  # four identical frames: 3D kernels see no motion
    video = static if inflation == "3D" else torch.randn(1, 3, 4, 64, 64)
    torch.testing.assert_close(features(inflated, video), features(flat, video), rtol=1e-4, atol=1e-5)
    assert sum(isinstance(m, InflatedConv) for m in inflated.modules()) == 1 + 2 * 2 + 2 * 2  # stem, 2 blocks x 2 convs each


@pytest.mark.parametrize(("inflate", "mixes"), [({}, False), ({"layer3": "3D"}, True)])
def test_3d_kernels_mix_frames_and_2d_ones_do_not(inflate: dict, mixes: bool) -> None:
    torch.manual_seed(0)
    net = ResNet("resnet18", inflate=inflate)
    video = torch.randn(1, 3, 3, 64, 64)
    changed = video.clone()
    changed[:, :, 0] += 1.0
    later = (features(net, changed) - features(net, video))[:, 1:].abs().max()
    assert (later > 1e-4) == mixes


def test_2_5d_temporal_convs_learn_to_mix_frames() -> None:
    torch.manual_seed(0)
    net = ResNet("resnet18", inflate=PAPER)
    for conv in (m for m in net.modules() if isinstance(m, InflatedConv)):
        with torch.no_grad():
            conv.temporal.weight[:, :, 0] += 0.01  # as after some training
    video = torch.randn(1, 3, 3, 64, 64)
    changed = video.clone()
    changed[:, :, 0] += 1.0
    assert (features(net, changed) - features(net, video))[:, 1:].abs().max() > 1e-4


def test_imagenet_weights_fill_the_2d_part(tmp_path: Path) -> None:
    torch.manual_seed(1)
    reference = models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    net = ResNet("resnet18", weights_path=path, inflate={"conv1": "3D", "layer1": "2.5D"})
    torch.testing.assert_close(net.trunk.conv1.conv.weight.sum(dim=2), reference.conv1.weight)
    torch.testing.assert_close(net.trunk.layer1[0].conv1.conv.weight, reference.layer1[0].conv1.weight)


def test_bad_inflations_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown stages \\['conv6'\\]"):
        ResNet("resnet18", inflate={"conv6": "3D"})
    with pytest.raises(ValueError, match="layer1 must be one of"):
        ResNet("resnet18", inflate={"layer1": "4D"})
    with pytest.raises(ValueError, match="not both"):
        ResNet("resnet18", inflate=PAPER, tsm_segments=4)
