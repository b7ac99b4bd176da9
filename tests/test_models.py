"""create_model / list_models: every registered head on the small backbone, forward and backward."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from actattn import create_model, list_models
from actattn.heads import Supervision
from actattn.models import MODELS, ActionModel


EXTRA_KWARGS = {"dual_attention": {"num_frames": 3}}
FACTS = {"num_objects": 4, "num_object_classes": 6}  # what a data module would tell the heads


def batch_entries(batch_size: int, frames: int) -> dict[str, torch.Tensor]:
    """Every batch entry a head may read besides the video, as a data module would give them."""
    masks = torch.zeros(batch_size, frames, 3, 16, 16)
    masks[..., 2:9, 3:12] = 1.0
    classes = torch.tensor([0, 5, -1]).expand(batch_size, frames, 3).clone()
    masks[classes < 0] = 0.0
    return {"label": torch.arange(batch_size) % 5, "objects": torch.tensor([[1, 0], [2, 3]])[:batch_size],
            "object_masks": masks, "object_classes": classes}


@pytest.mark.parametrize("name", list_models())
def test_forward_backward_on_small_cnn(name: str) -> None:
    """Every head's own losses reach every parameter (a zero gradient is allowed: a residual
    block initialised as the identity gives its first conv none at the start); its maps lie on
    the feature grid."""
    torch.manual_seed(0)
    head_class = MODELS[name]
    facts = {key: FACTS[key] for key in head_class.from_data}
    model = create_model(name, num_classes=5, backbone="small_cnn", **facts, **EXTRA_KWARGS.get(name, {}))
    assert isinstance(model, ActionModel)
    batch = {"video": torch.randn(2, 3, 3, 64, 72), **batch_entries(2, 3)}
    out = model(batch["video"], **model.head.inputs(batch))
    grid = model.feature_grid(64, 72)
    assert grid == (8, 9)
    assert out.logits["action"].shape == (2, 5)
    assert model.head.makes_maps == bool(out.attention)
    assert all(m.shape == (2, 3, *grid) for m in out.attention.values())
    losses = model.head.losses(out, batch, Supervision(F.cross_entropy, model.backbone.output_stride))
    sum(losses.values()).backward()
    for param_name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), param_name
    assert sum(bool(param.grad.abs().sum() > 0) for param in model.parameters()) > len(list(model.parameters())) // 2


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
