"""The feature file of one clip, as ``actattn extract`` writes it and the features data module
(:mod:`actattn.data.features`) and the conjugate miners read it.

File (:class:`FeatureMap`), ``torch.save`` of a dict, written atomically:
- ``features`` (T', C, H', W') float16 (T' = ceil(frames / temporal_stride) for a whole clip);
- ``step_frames`` (T', 2) int64: the frames ``[first, stop)`` each step nominally covers (its
  window's frames cut by the backbone's ``temporal_stride``; evenly where the backbone's T' is not
  ``ceil(n / temporal_stride)``), 0-based in decode order;
- ``meta``: ``settings`` (the JSON of :class:`~actattn.extract.ExtractSettings`: backbone, its
  kwargs, weights, size, window, stride), ``video`` (the source), ``frames`` ``[start, stop)`` extracted, ``fps``,
  ``input_size`` ``[H, W]`` fed to the backbone, ``out_channels``, ``output_stride``,
  ``temporal_stride``, ``version``.
Read it with ``FeatureMap.load(path)`` (memory-mapped: a crop reads only its steps).
"""
from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from actattn.files import atomic_write

if TYPE_CHECKING:
    from actattn.conjugates.cache import Conjugate

VERSION = 1
SUFFIX = ".pt"
CONJUGATE_DIR = "conjugates"


@dataclass
class FeatureMap:
    """One clip's stored map, in the layout of the module docstring."""

    features: Tensor  # (T', C, H', W') float16
    step_frames: Tensor  # (T', 2) int64
    meta: dict[str, Any]

    def save(self, path: str | Path) -> Path:
        """Write ``path`` atomically (a kill leaves the old file or none, never part of one)."""
        data = {"features": self.features.contiguous(), "step_frames": self.step_frames, "meta": self.meta}
        return atomic_write(path, lambda file: torch.save(data, file))

    @classmethod
    def load(cls, path: str | Path, mmap: bool = True) -> FeatureMap:
        """Read a feature file (memory-mapped unless ``mmap`` is false); a missing, truncated or
        inconsistent one raises ValueError naming it."""
        try:
            data = torch.load(path, map_location="cpu", mmap=mmap, weights_only=True)
        except (OSError, EOFError, RuntimeError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError) as err:
            raise ValueError(f"{path}: not a readable feature file ({type(err).__name__}: {err})") from err
        if not isinstance(data, dict) or {"features", "step_frames", "meta"} - set(data):
            raise ValueError(f"{path}: not a feature file (expected features, step_frames and meta)")
        features, steps, meta = data["features"], data["step_frames"], data["meta"]
        if features.ndim != 4 or features.dtype != torch.float16 or tuple(steps.shape) != (len(features), 2):
            raise ValueError(f"{path}: inconsistent feature file: features {tuple(features.shape)} {features.dtype} "
                             f"(expected (T', C, H', W') float16), step_frames {tuple(steps.shape)}")
        if not isinstance(meta, dict) or "settings" not in meta or meta.get("out_channels") != features.shape[1]:
            raise ValueError(f"{path}: feature file without settings, or whose out_channels is not C = "
                             f"{features.shape[1]}")
        return cls(features, steps, meta)


def conjugate_name(conjugate: Conjugate) -> str:
    """The feature file name (under OUT, without suffix) of a conjugate clip."""
    return f"{CONJUGATE_DIR}/{Path(conjugate.video).stem}_{conjugate.start}-{conjugate.stop}"


def conjugate_file(features_dir: str | Path, conjugate: Conjugate) -> Path:
    """Where ``actattn extract --conjugates`` stores ``conjugate``'s map."""
    return Path(features_dir) / f"{conjugate_name(conjugate)}{SUFFIX}"
