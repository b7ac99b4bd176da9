"""Heads: feature maps (B, T, C, H, W) -> ModelOutput (logits, attention maps, aux); the contract
they share is :class:`~actattn.heads.base.Head`."""
from actattn.heads.action_context import ActionContextFactorization
from actattn.heads.attentional_pooling import AttentionalPooling, pose_heatmap_loss
from actattn.heads.base import Head, Supervision
from actattn.heads.dual_attention import DualAttention, dual_attention_loss
from actattn.heads.object_relation import ObjectRelationNetwork
from actattn.heads.pooling import AveragePooling

__all__ = ["ActionContextFactorization", "AttentionalPooling", "AveragePooling", "DualAttention", "Head", "ObjectRelationNetwork", "Supervision",
           "dual_attention_loss", "pose_heatmap_loss"]
