from actattn.viz.figures import attention_animation, attention_columns, attention_figure
from actattn.viz.overlay import denormalize, overlay

__all__ = ["attention_animation", "attention_columns", "attention_figure", "denormalize", "overlay"]
