"""torchvision's video trunks (random weights) and the precomputed-features backbone: shapes, strides, weights."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torchvision.models import video as tv_video

from actattn.backbones import BACKBONES, Precomputed, VideoTrunk, create_backbone
from actattn.backbones.video import ARCHS

EXPECTED = {"s3d": (1024, 8, 32), "r2plus1d_18": (512, 8, 16), "r3d_18": (512, 8, 16), "mc3_18": (512, 1, 16)}


@pytest.fixture(scope="module")
def trunks() -> dict[str, VideoTrunk]:
    torch.manual_seed(0)
    return {arch: create_backbone(arch).eval() for arch in ARCHS}


def test_every_video_trunk_is_registered() -> None:
    assert set(ARCHS) == set(EXPECTED) and set(EXPECTED) | {"precomputed"} <= set(BACKBONES)


@pytest.mark.parametrize("arch", sorted(EXPECTED))
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 17, 33), (9, 33, 47)])
def test_output_is_b_t_c_h_w_with_ceil_strides(trunks, arch: str, shape: tuple[int, int, int]) -> None:
    """T' = ceil(T / temporal_stride), H' = ceil(H / output_stride) for any size, even one frame of one pixel."""
    trunk = trunks[arch]
    assert (trunk.out_channels, trunk.temporal_stride, trunk.output_stride) == EXPECTED[arch]
    frames, height, width = shape
    with torch.no_grad():
        feats = trunk(torch.randn(1, 3, frames, height, width))
    assert feats.shape == (1, math.ceil(frames / trunk.temporal_stride), trunk.out_channels,
                           math.ceil(height / trunk.output_stride), math.ceil(width / trunk.output_stride))


def test_s3d_is_torchvisions_s3d_at_multiples_of_its_strides(trunks) -> None:
    """The ceil-mode last pool changes nothing where T is a multiple of 8 and H, W of 32 (the paper's 256 x 352)."""
    torch.manual_seed(0)
    reference = tv_video.s3d().eval()
    trunks["s3d"].trunk.load_state_dict(reference.features.state_dict())
    video = torch.randn(1, 3, 8, 32, 64)
    with torch.no_grad():
        expected = reference.features(video).permute(0, 2, 1, 3, 4)
        torch.testing.assert_close(trunks["s3d"](video), expected)
    assert expected.shape == (1, 1, 1024, 1, 2)
    with pytest.raises(RuntimeError):  # torchvision's own S3D refuses fewer than 5 frames
        reference.features(torch.randn(1, 3, 4, 32, 32))


def test_kinetics_normalisation_is_exposed(trunks) -> None:
    assert trunks["r2plus1d_18"].mean == pytest.approx((0.43216, 0.394666, 0.37645))
    assert trunks["s3d"].std == pytest.approx((0.22803, 0.22145, 0.216989))


def test_weights_path_loads_a_torchvision_state_dict(tmp_path: Path) -> None:
    torch.manual_seed(5)
    source = tv_video.mc3_18()
    path = tmp_path / "mc3_18.pth"
    torch.save(source.state_dict(), path)  # with the classifier (fc.*), which is dropped
    loaded = VideoTrunk("mc3_18", weights_path=path).eval()
    torch.testing.assert_close(loaded.trunk[4][1].conv2[0].weight, source.layer4[1].conv2[0].weight)
    torch.testing.assert_close(loaded.trunk[0][1].running_mean, source.stem[1].running_mean)
    torch.save({"stem.0.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match="does not match torchvision's r3d_18"):
        VideoTrunk("r3d_18", weights_path=tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match="no such file"):
        VideoTrunk("r3d_18", weights_path=tmp_path / "absent.pth")


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown arch"):
        VideoTrunk("i3d")
    with pytest.raises(ValueError, match="not both"):
        VideoTrunk("s3d", pretrained=True, weights_path=tmp_path / "x.pth")
    with pytest.raises(ValueError, match=r"expected video \(B, 3, T, H, W\)"):
        create_backbone("mc3_18")(torch.randn(1, 4, 2, 8, 8))


def test_precomputed_is_the_identity_on_stored_maps() -> None:
    backbone = create_backbone("precomputed", out_channels=16, output_stride=32, temporal_stride=8)
    assert isinstance(backbone, Precomputed) and not list(backbone.parameters())
    assert (backbone.out_channels, backbone.output_stride, backbone.temporal_stride) == (16, 32, 8)
    feats = torch.randn(2, 5, 16, 3, 4)
    assert backbone(feats) is feats
    with pytest.raises(ValueError, match=r"expected stored feature maps \(B, T', 16, H', W'\)"):
        backbone(torch.randn(2, 3, 5, 32, 32))  # a video, not features
    with pytest.raises(ValueError, match="no weights"):
        Precomputed(out_channels=16, output_stride=32, pretrained=True)
    with pytest.raises(TypeError):
        Precomputed(out_channels=16)  # the stride must come from the feature files
