import copy

import pytest
import torch
from torch import nn
from torchvision.models import resnet18
from torchvision.models.resnet import Bottleneck, ResNet

from actattn.temporal import TemporalShift, add_temporal_shift, temporal_shift


def test_shift_against_a_hand_computed_example():
    x = (10 * torch.arange(3)[:, None] + torch.arange(4)).float().reshape(1, 3, 4, 1, 1)  # x[t, c] = 10t + c
    expected = torch.tensor([
        [10.0, 0.0, 2.0, 3.0],   # t = 0: channel 0 from t = 1, channel 1 from t = -1 (zero padding)
        [20.0, 1.0, 12.0, 13.0],
        [0.0, 11.0, 22.0, 23.0],  # t = 2: channel 0 from t = 3 (zero padding)
    ]).reshape(1, 3, 4, 1, 1)
    assert torch.equal(temporal_shift(x, fold_div=4), expected)


def test_shift_moves_a_quarter_of_channels_by_default_and_not_in_place():
    x = torch.randn(2, 4, 16, 3, 3)
    before = x.clone()
    out = temporal_shift(x)
    assert torch.equal(x, before)
    assert torch.equal(out[:, :-1, :2], x[:, 1:, :2]) and torch.all(out[:, -1, :2] == 0)
    assert torch.equal(out[:, 1:, 2:4], x[:, :-1, 2:4]) and torch.all(out[:, 0, 2:4] == 0)
    assert torch.equal(out[:, :, 4:], x[:, :, 4:])


def test_shift_needs_at_least_one_channel_per_fold():
    with pytest.raises(ValueError, match="shift no channel"):
        temporal_shift(torch.randn(1, 2, 4, 1, 1), fold_div=8)


def test_module_shifts_stacked_frames_before_its_net():
    x = torch.randn(2 * 3, 8, 2, 2)
    shifted = TemporalShift(nn.Identity(), num_segments=3)(x)
    assert torch.equal(shifted, temporal_shift(x.reshape(2, 3, 8, 2, 2)).reshape(6, 8, 2, 2))
    with pytest.raises(ValueError, match=r"expected \(B\*3, C, H, W\)"):
        TemporalShift(nn.Identity(), num_segments=3)(torch.randn(4, 8, 2, 2))


def test_resnet18_every_block_shifts_and_output_keeps_its_shape():
    torch.manual_seed(0)
    plain = resnet18(weights=None).eval()
    shifted = add_temporal_shift(copy.deepcopy(plain), num_segments=2)
    stages = (shifted.layer1, shifted.layer2, shifted.layer3, shifted.layer4)
    blocks = [block for stage in stages for block in stage]
    assert len(blocks) == 8 and all(isinstance(block.conv1, TemporalShift) for block in blocks)
    x = torch.randn(2 * 2, 3, 32, 32)
    with torch.no_grad():
        out, reference = shifted(x), plain(x)
    assert out.shape == reference.shape == (4, 1000)
    assert not torch.allclose(out, reference)
    with pytest.raises(ValueError, match="already shifted"):
        add_temporal_shift(shifted, num_segments=2)


def test_deep_resnet_shifts_every_other_block():
    deep = add_temporal_shift(ResNet(Bottleneck, [2, 2, 23, 2]), num_segments=4)
    for stage in (deep.layer1, deep.layer2, deep.layer3, deep.layer4):
        wrapped = [index for index, block in enumerate(stage) if isinstance(block.conv1, TemporalShift)]
        assert wrapped == list(range(0, len(stage), 2))
    assert len([b for b in deep.layer3 if isinstance(b.conv1, TemporalShift)]) == 12
