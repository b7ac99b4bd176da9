"""actattn: attention-based action and human-object-interaction recognition."""
from actattn import heads
from actattn.models import create_model, list_models

__all__ = ["create_model", "heads", "list_models"]
