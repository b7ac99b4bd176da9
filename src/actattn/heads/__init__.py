"""Heads: feature maps (B, T, C, H, W) -> ModelOutput (logits, attention maps, aux)."""
from actattn.heads.attentional_pooling import AttentionalPooling, pose_heatmap_loss
from actattn.heads.dual_attention import DualAttention, dual_attention_loss
from actattn.heads.pooling import AveragePooling

__all__ = ["AttentionalPooling", "AveragePooling", "DualAttention", "dual_attention_loss", "pose_heatmap_loss"]
