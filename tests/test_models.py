"""create_model / list_models: every registered head on the small backbone, forward and backward."""
from __future__ import annotations

import pytest
import torch

from actattn import create_model, list_models
from actattn.models import ActionModel


EXTRA_KWARGS = {"dual_attention": {"num_objects": 4, "num_frames": 3}}


@pytest.mark.parametrize("name", list_models())
def test_forward_backward_on_small_cnn(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, backbone="small_cnn", **EXTRA_KWARGS.get(name, {}))
    assert isinstance(model, ActionModel)
    out = model(torch.randn(2, 3, 3, 64, 72))
    grid = model.feature_grid(64, 72)
    assert grid == (8, 9)
    assert out.logits["action"].shape == (2, 5)
    assert out.attention and all(m.shape == (2, 3, *grid) for m in out.attention.values())
    assert all(m.shape[:2] == (2, 3) and m.shape[-2:] == grid for m in out.aux.values())
    sum(logits.sum() for logits in out.logits.values()).backward()
    for param_name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), param_name
        assert param.grad.abs().sum() > 0, param_name


def test_keywords_reach_backbone_and_head() -> None:
    model = create_model(
        "attentional_pooling", num_classes=3, backbone="resnet18", backbone_kwargs={"stride1_last": True}, rank=2
    )
    assert model.head.top_down.out_channels == 6
    assert model.feature_grid(64, 64) == (4, 4)
    assert model(torch.randn(1, 3, 1, 64, 64)).attention["combined"].shape == (1, 1, 4, 4)


def test_unknown_model_lists_the_names() -> None:
    assert {"average_pooling", "attentional_pooling"} <= set(list_models())
    with pytest.raises(ValueError, match="unknown model 'nope'.*average_pooling.*attentional_pooling"):
        create_model("nope", num_classes=2, backbone="small_cnn")
