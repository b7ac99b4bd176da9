"""The one contract every head keeps, so that nothing above the heads names a method.

A head turns backbone features ``(B, T, C, H, W)`` into a :class:`~actattn.output.ModelOutput`.
Besides ``forward`` it says, through :class:`Head`:

- ``reads``: which batch entries it takes besides the features (forward keyword -> batch key),
  e.g. the labels of the Dual Attention ``gt_priors`` mode or the object masks of ORN;
  ``optional_reads`` those it takes when the batch has them (e.g. a conjugate clip, in training
  only); ``encodes`` the keywords whose entries are videos that the backbone turns into features
  before the head sees them (that conjugate clip);
- ``from_data``: which constructor keywords the data module supplies
  (:attr:`~actattn.data.datamodule.VideoDataModule.head_facts`, e.g. ``num_objects``);
- ``losses``: its training losses from its output and the batch (the action criterion of the
  dataset, single- or multi-label, is given to it in :class:`Supervision`);
- ``metrics`` and ``metric_inputs``: its extra held-out metrics (object top-1 ...);
- ``makes_maps`` and ``num_frames``: whether it returns attention maps, and how many frames per
  clip it needs (None: any);
- ``frame_maps``: the maps of every frame of a long video, given the prediction of the clip it
  was trained on (localisation and pictures);
- ``interval_map``: the name of an ``aux`` map (B, T, H, W) in [0, 1] whose per-frame mean is the
  confidence that the action happens in that frame (ActX's S^act), which localisation then takes
  the action's interval from (None: the interval comes from the change of the boxes' map).

Also the two small helpers every head uses (input check, per-class map selection).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from actattn.output import ModelOutput

Batch = Mapping[str, Tensor]


def check_feats(feats: Tensor, in_channels: int, head: str) -> None:
    """Raise ValueError unless ``feats`` is (B, T, in_channels, H, W)."""
    if feats.ndim != 5 or feats.shape[2] != in_channels:
        raise ValueError(f"{head}: expected feats (B, T, {in_channels}, H, W), got {tuple(feats.shape)}")


def select_class(maps: Tensor, classes: Tensor) -> Tensor:
    """Per-class maps (B, T, K, ...) -> the map of ``classes[b]`` for each clip, (B, T, ...)."""
    return maps[torch.arange(maps.shape[0], device=maps.device), :, classes]


@dataclass(frozen=True)
class Supervision:
    """What a head's losses need from above it: the dataset's action criterion
    (``action_loss(logits (B, K), labels) -> scalar``) and the backbone's ``feature_stride``
    (input pixels per feature cell, for targets on the feature grid such as pose heatmaps)."""

    action_loss: Callable[[Tensor, Tensor], Tensor]
    feature_stride: int


class Head(nn.Module):
    """Base of every head; see the module docstring. Subclasses set ``reads`` (and, where they
    differ from the defaults, ``makes_maps`` and ``num_frames``) in ``__init__``."""

    from_data: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.reads: dict[str, str] = {}
        self.optional_reads: dict[str, str] = {}
        self.encodes: set[str] = set()
        self.makes_maps = True
        self.num_frames: int | None = None
        self.interval_map: str | None = None

    def interval_maps(self, out: ModelOutput) -> dict[str, Tensor]:
        """``{interval_map: that map}`` from an output's ``aux``; empty for a head without one."""
        return {} if self.interval_map is None else {self.interval_map: out.aux[self.interval_map]}

    def inputs(self, batch: Batch) -> dict[str, Tensor]:
        """The forward keywords this head reads, from ``batch`` (``optional_reads`` where present); a
        missing entry of ``reads`` is an error naming it."""
        missing = [key for key in self.reads.values() if key not in batch]
        if missing:
            raise ValueError(f"{type(self).__name__} reads the batch entries {sorted(self.reads.values())}; "
                             f"this batch lacks {missing} (it has {sorted(batch)})")
        optional = {keyword: batch[key] for keyword, key in self.optional_reads.items() if key in batch}
        return {keyword: batch[key] for keyword, key in self.reads.items()} | optional

    def losses(self, out: ModelOutput, batch: Batch, supervision: Supervision) -> dict[str, Tensor]:
        """Named loss terms, summed by the trainer; by default the action loss alone."""
        return {"action": supervision.action_loss(out.logits["action"], batch["label"])}

    def metrics(self) -> dict[str, Metric]:
        """Extra held-out metrics by name (each updated with :meth:`metric_inputs`); none by default."""
        return {}

    def metric_inputs(self, out: ModelOutput, batch: Batch) -> dict[str, tuple[Tensor, Tensor]]:
        """(predictions, targets) for each metric of :meth:`metrics`."""
        return {}

    def frame_maps(self, feats: Tensor, clip: ModelOutput, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Maps (B, T, H, W) of every frame of ``feats`` (B, T, C, H, W) for the class predicted in
        ``clip`` (the output on the frames the head was trained on); ``inputs`` as :meth:`inputs`
        gives them, for all frames. By default the head on all frames, with per-class maps
        (``class_maps=True``) read at the clip's predicted class, and the ``interval_map``."""
        every = self(feats, class_maps=True, **inputs)
        predicted = clip.logits["action"].argmax(dim=1)
        return {name: select_class(every.aux[name], predicted) if name in every.aux else maps
                for name, maps in every.attention.items()} | self.interval_maps(every)
