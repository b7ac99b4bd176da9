"""Heads: feature maps (B, T, C, H, W) -> ModelOutput (logits, attention maps, aux)."""
from actattn.heads.attentional_pooling import AttentionalPooling, pose_heatmap_loss
from actattn.heads.pooling import AveragePooling

__all__ = ["AttentionalPooling", "AveragePooling", "pose_heatmap_loss"]
