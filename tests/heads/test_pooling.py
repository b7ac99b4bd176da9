"""Average pooling as top-down-only attention (eq. 12 of Girdhar & Ramanan, NIPS 2017)."""
from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from actattn.heads import AveragePooling

C, K = 6, 4


def make_head() -> AveragePooling:
    torch.manual_seed(0)
    head = AveragePooling(C, K).double().eval()
    with torch.no_grad():
        head.fc.weight.normal_()
        head.fc.bias.normal_()
    return head


def make_feats() -> torch.Tensor:
    return torch.randn(2, 3, C, 4, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def test_logits_are_spatial_mean_of_top_down_maps_plus_bias() -> None:
    head = make_head()
    out = head(make_feats(), class_maps=True)
    assert out.aux["top_down"].shape == (2, 3, K, 4, 5)
    expected = out.aux["top_down"].mean(dim=(-2, -1)).mean(dim=1) + head.fc.bias  # eq. 12
    torch.testing.assert_close(out.logits["action"], expected)
    torch.testing.assert_close(
        out.aux["top_down"], torch.einsum("btchw,kc->btkhw", make_feats(), head.fc.weight)
    )


def test_attention_is_the_predicted_class_top_down_map() -> None:
    head = make_head()
    out, without = head(make_feats(), class_maps=True), head(make_feats())
    predicted = out.logits["action"].argmax(dim=1)
    assert set(out.attention) == set(without.attention) == {"top_down"}
    for i, k in enumerate(predicted.tolist()):
        torch.testing.assert_close(out.attention["top_down"][i], out.aux["top_down"][i, :, k])
        torch.testing.assert_close(without.attention["top_down"][i], out.aux["top_down"][i, :, k])


def test_per_class_maps_only_when_asked() -> None:
    head = make_head().train()
    assert head(make_feats()).aux == {}
    with FlopCounterMode(display=False) as counter:
        head(make_feats())
    assert counter.get_total_flops() < 2 * 6 * 20 * C * K  # below one top-down conv over the 6 frames' 20 cells


def test_dropout_only_in_training() -> None:
    head = make_head()
    feats = make_feats()
    torch.testing.assert_close(head(feats).logits["action"], head(feats).logits["action"])
    head.train()
    assert not torch.allclose(head(feats).logits["action"], head(feats).logits["action"])


def test_wrong_channels_raise() -> None:
    with pytest.raises(ValueError, match=r"AveragePooling: expected feats \(B, T, 6, H, W\)"):
        make_head()(torch.zeros(1, 1, 3, 2, 2, dtype=torch.float64))
