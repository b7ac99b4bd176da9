"""Build a model by name: backbone + head (ARCHITECTURE.md, "One flow for every method").

``create_model(name, num_classes=K, backbone=...)`` looks ``name`` up in the one table
``MODELS`` (name -> head class); ``list_models()`` says what exists. Any head works on any
backbone: the head is built with the backbone's ``out_channels``.
"""
from __future__ import annotations

from torch import Tensor, nn

from actattn.backbones import create_backbone
from actattn.heads import (
    ActionContextFactorization,
    AttentionalPooling,
    AveragePooling,
    DualAttention,
    Head,
    ObjectRelationNetwork,
)
from actattn.output import ModelOutput

MODELS: dict[str, type[Head]] = {
    "average_pooling": AveragePooling,
    "attentional_pooling": AttentionalPooling,
    "dual_attention": DualAttention,
    "object_relation": ObjectRelationNetwork,
    "action_context": ActionContextFactorization,
}


class ActionModel(nn.Module):
    """A backbone (video -> (B, T, C, H', W')) followed by a head (-> ModelOutput)."""

    def __init__(self, backbone: nn.Module, head: Head) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, video: Tensor, **head_inputs: Tensor) -> ModelOutput:
        """video (B, 3, T, H, W) -> ModelOutput with maps on the (H', W') feature grid.

        ``head_inputs`` go to the head as keywords (e.g. the ground-truth priors of
        DualAttention's ``gt_priors`` mode); those the head ``encodes`` (videos, such as a
        conjugate clip) go through the backbone first.
        """
        encoded = {key: self.backbone(value) if key in self.head.encodes else value for key, value in head_inputs.items()}
        return self.head(self.backbone(video), **encoded)

    def feature_grid(self, height: int, width: int) -> tuple[int, int]:
        """(H', W') of the feature maps for (height, width) input frames, e.g. for pose targets."""
        stride = self.backbone.output_stride
        return -(-height // stride), -(-width // stride)


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`."""
    return list(MODELS)


def create_model(
    name: str,
    *,
    num_classes: int,
    backbone: str = "resnet50",
    pretrained: bool = False,
    backbone_kwargs: dict | None = None,
    **head_kwargs: object,
) -> ActionModel:
    """Build head ``name`` on backbone ``backbone``.

    Args:
        name: one of :func:`list_models`.
        num_classes: K.
        backbone: a name from ``actattn.backbones.BACKBONES``.
        pretrained: ImageNet weights for the backbone (passed on as ``pretrained=True``).
        backbone_kwargs: other backbone keywords (``stride1_last``, ``weights_path``).
        **head_kwargs: the head's keyword arguments (``rank``, ``pose_joints``, ``dropout`` ...).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {list_models()}")
    kwargs = dict(backbone_kwargs or {})
    if pretrained:
        kwargs["pretrained"] = True
    trunk = create_backbone(backbone, **kwargs)
    return ActionModel(trunk, MODELS[name](trunk.out_channels, num_classes, **head_kwargs))
