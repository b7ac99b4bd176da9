"""ResNet trunks: per-frame feature maps, stride-1 layer4, local weight loading."""
from __future__ import annotations

import math

import pytest
import torch
from torchvision import models

from actattn.backbones import ResNet, create_backbone
from actattn.temporal.shift import TemporalShift


@pytest.fixture(scope="module")
def resnet18() -> ResNet:
    torch.manual_seed(0)
    return create_backbone("resnet18").eval()


@pytest.mark.parametrize(("size", "grid"), [(112, 4), (128, 4), (100, 4)])
def test_resnet18_output_shape(resnet18: ResNet, size: int, grid: int) -> None:
    with torch.no_grad():
        feats = resnet18(torch.randn(2, 3, 3, size, size))
    assert feats.shape == (2, 3, 512, grid, grid)
    assert resnet18.out_channels == 512 and grid == math.ceil(size / resnet18.output_stride)


@pytest.mark.parametrize(
    ("arch", "size", "grid", "channels"),
    [("resnet18", 112, 7, 512), ("resnet18", 128, 8, 512), ("resnet50", 64, 4, 2048)],
)
def test_stride1_last_doubles_the_grid(arch: str, size: int, grid: int, channels: int) -> None:
    backbone = create_backbone(arch, stride1_last=True).eval()
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, 2, size, size))
    assert feats.shape == (1, 2, channels, grid, grid)
    assert backbone.output_stride == 16 and grid == math.ceil(size / 16)
    assert all(m.stride == (1, 1) for m in backbone.trunk.layer4.modules() if isinstance(m, torch.nn.Conv2d))


def test_frames_are_processed_independently(resnet18: ResNet) -> None:
    video = torch.randn(2, 3, 2, 64, 64)
    with torch.no_grad():
        feats = resnet18(video)
        for b in range(2):
            for t in range(2):
                torch.testing.assert_close(feats[b, t], resnet18(video[b : b + 1, :, t : t + 1])[0, 0])


def test_weights_path_round_trip(tmp_path) -> None:
    torch.manual_seed(3)
    source = models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    loaded = ResNet("resnet18", weights_path=path)
    torch.testing.assert_close(loaded.trunk.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    torch.testing.assert_close(loaded.trunk.bn1.running_var, source.bn1.running_var)
    assert not torch.equal(ResNet("resnet18").trunk.conv1.weight, source.conv1.weight)


def test_weights_path_initialises_a_tsm_network(tmp_path) -> None:
    """A plain torchvision file loads into the TSM trunk: weights equal, every block's conv1 shifted."""
    torch.manual_seed(4)
    source = models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    loaded = ResNet("resnet18", weights_path=path, tsm_segments=4)
    blocks = [(name, index) for name in ("layer1", "layer2", "layer3", "layer4") for index in range(2)]
    for name, index in blocks:
        conv1 = getattr(loaded.trunk, name)[index].conv1
        assert isinstance(conv1, TemporalShift) and conv1.num_segments == 4
        torch.testing.assert_close(conv1.net.weight, getattr(source, name)[index].conv1.weight)
    torch.testing.assert_close(loaded.trunk.layer2[0].downsample[0].weight, source.layer2[0].downsample[0].weight)
    torch.testing.assert_close(loaded.trunk.conv1.weight, source.conv1.weight)
    assert loaded.eval()(torch.randn(1, 3, 4, 32, 32)).shape == (1, 4, 512, 1, 1)


def test_weights_path_is_strict_on_trunk_keys(tmp_path) -> None:
    state = models.resnet18().state_dict()
    del state["layer3.0.conv1.weight"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(RuntimeError, match=r"(?s)broken\.pth.*layer3\.0\.conv1\.weight"):
        ResNet("resnet18", weights_path=path)


def test_bad_arguments_raise(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown backbone 'resnet7'.*resnet101.*small_cnn"):
        create_backbone("resnet7")
    with pytest.raises(ValueError, match="not both"):
        ResNet("resnet18", pretrained=True, weights_path=tmp_path / "x.pth")
    with pytest.raises(ValueError, match=r"expected video \(B, 3, T, H, W\), got \(3, 2, 32, 32\)"):
        ResNet("resnet18")(torch.zeros(3, 2, 32, 32))


def test_tsm_backbone_mixes_neighbouring_frames() -> None:
    """With the temporal shift, changing frame 0 changes frame 1's features; without it, not."""
    video = torch.randn(1, 3, 4, 32, 32)
    changed = video.clone()
    changed[:, :, 0] += 1.0
    for tsm, expect_mixing in ((4, True), (None, False)):
        net = ResNet("resnet18", tsm_segments=tsm).eval()
        with torch.no_grad():
            moved = (net(video)[:, 1] - net(changed)[:, 1]).abs().max()
        assert (moved > 1e-6) == expect_mixing
    with pytest.raises(ValueError, match="TSM built for 4 frames, got 3"):
        ResNet("resnet18", tsm_segments=4)(torch.randn(1, 3, 3, 32, 32))
