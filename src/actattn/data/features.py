"""Training on stored feature maps (``actattn extract``) instead of pixels: a dataset and a data module.

The ActX paper trains every head of its Table 1 (average pooling, Attentional Pooling, ACF, ActX) on
the same I3D feature maps (Sec. 4.1): training takes a temporal crop of a fixed number of steps
(10 on ActionThread, 80 frames; 6 on Hollywood2) so that maps of different lengths batch, and test
feeds the whole map. The supplement's VOC still images take random 8 x 8 crops of the map in training
and the whole map at test; ``spatial_crop`` does that.

A sample is ``{"video": (T', C, H', W') float32, "label", "index"}``, ``"video"`` being the stored
map (a model reads it through the ``precomputed`` backbone, :class:`~actattn.backbones.video.Precomputed`,
built from :attr:`FeatureDataModule.backbone_facts`), plus in training with ``conjugates_file``
``"conjugate"`` (T', C, h, w) float32: the map of one of the sample's conjugate clips (the cache of
``actattn conjugates``, extracted by ``actattn extract --conjugates``), chosen uniformly and cropped
like the sample on a generator stream of its own (:func:`~actattn.data.sampling.conjugate_rng`,
as :class:`~actattn.data.conjugates.WithConjugates` does for pixels).

Choices:
- Temporal crop (:func:`crop_steps_indices`): a uniformly random start; a map shorter than the crop
  is repeated cyclically (steps 0, 1, 2, 0, 1, 2, ...), so every step weighs the same in pooling.
- Evaluation takes the whole map, one clip per batch (``eval_batch_size=1``): maps of different
  lengths need no padding and no mask that the heads would have to honour. A larger
  ``eval_batch_size`` works when all maps share a shape (an error names the clips otherwise).
- Randomness is a function of ``(seed, epoch, index)`` (:func:`~actattn.data.sampling.sample_rng`),
  so a resumed run crops what an unbroken one did; the loaders are the video data module's
  (:class:`~actattn.data.loaders.ResumableLoader`, :class:`~actattn.data.sampling.EpochSampler`,
  :class:`~actattn.data.sampling.ShardSampler`).
- A missing or unreadable feature file (or conjugate) raises :class:`FeatureFileError` naming it, or
  with ``skip_bad_videos`` warns, is remembered and yields ``None`` (counted in ``"skipped"``).
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from actattn.conjugates import Conjugate, load_pairs
from actattn.data.csv_list import max_label, multi_hot, read_csv_list
from actattn.data.loaders import SplitDataModule, check_label_options, collate_drop_none
from actattn.data.records import read_stages, sample_key, sample_label
from actattn.data.sampling import conjugate_rng, sample_rng
from actattn.data.ssv2 import read_labels, read_split
from actattn.feature_files import SUFFIX, FeatureMap, conjugate_file


class FeatureFileError(ValueError):
    """A sample's feature file (or its conjugate's) is missing, unreadable or of the wrong shape."""


@dataclass(frozen=True)
class FeatureRecord:
    """One sample: its id (``features_dir/{id}.pt``: the video's stem, or a format sample's
    :func:`~actattn.data.records.sample_key`) and label (None if unlabelled)."""

    id: str
    label: int | np.ndarray | None


def crop_steps_indices(num_steps: int, crop_steps: int, rng: np.random.Generator) -> np.ndarray:
    """``crop_steps`` consecutive step indices from a random start; cyclic repeats when the map is shorter."""
    if num_steps < 1 or crop_steps < 1:
        raise ValueError(f"need num_steps >= 1 and crop_steps >= 1, got {num_steps} and {crop_steps}")
    start = int(rng.integers(num_steps - crop_steps + 1)) if num_steps > crop_steps else 0
    return (start + np.arange(crop_steps)) % num_steps


def random_window(size: tuple[int, int], crop: tuple[int, int], rng: np.random.Generator) -> tuple[slice, slice]:
    """Row and column slices of a ``crop`` window at a uniformly random position of a ``size`` grid."""
    if crop[0] > size[0] or crop[1] > size[1]:
        raise ValueError(f"spatial_crop {tuple(crop)} is larger than the feature grid {tuple(size)}")
    top, left = (int(rng.integers(s - c + 1)) for s, c in zip(size, crop))
    return slice(top, top + crop[0]), slice(left, left + crop[1])


class FeatureDataset(Dataset):
    """The stored maps ``features_dir/{id}.pt`` of ``records`` (module docstring).

    Args:
        records: the samples.
        features_dir: the folder ``actattn extract`` wrote.
        train: crop (``crop_steps`` steps, ``spatial_crop`` cells) at random; else the whole map.
        crop_steps: feature steps per training sample (the paper: 10 ActionThread, 6 Hollywood2).
        spatial_crop: ``(h, w)`` cells per training sample (the supplement's VOC: 8 x 8), or None.
        conjugates: sample id -> its conjugate clips (:func:`~actattn.conjugates.load_pairs`);
            training only; a sample without one is a bad sample.
        out_channels: C every map must have (None: not checked).
        seed: the run's seed for :func:`~actattn.data.sampling.sample_rng`.
        skip_bad_videos: skip (and count) bad samples instead of raising.
    """

    def __init__(self, records: Sequence[FeatureRecord], features_dir: str | Path, *, train: bool,
                 crop_steps: int = 10, spatial_crop: Sequence[int] | None = None,
                 conjugates: dict[str, list[Conjugate]] | None = None, out_channels: int | None = None,
                 seed: int = 0, skip_bad_videos: bool = False, class_names: Sequence[str] | None = None):
        if crop_steps < 1:
            raise ValueError(f"crop_steps must be >= 1, got {crop_steps}")
        if spatial_crop is not None and (len(spatial_crop) != 2 or min(spatial_crop) < 1):
            raise ValueError(f"spatial_crop must be (h, w) >= 1, got {spatial_crop}")
        self.records = list(records)
        self.features_dir = Path(features_dir)
        self.train = train
        self.crop_steps = crop_steps
        self.spatial_crop = tuple(spatial_crop) if spatial_crop is not None else None
        self.conjugates = conjugates if train else None
        self.out_channels = out_channels
        self.seed = seed
        self.skip_bad_videos = skip_bad_videos
        self.class_names = list(class_names) if class_names is not None else None
        self._bad = torch.zeros(len(self.records), dtype=torch.bool).share_memory_()

    def __len__(self) -> int:
        return len(self.records)

    def path(self, index: int) -> Path:
        return self.features_dir / f"{self.records[index].id}{SUFFIX}"

    @property
    def bad_videos(self) -> list[Path]:
        """Samples skipped so far for a missing or unreadable feature file (shared across workers)."""
        return [self.path(i) for i in torch.nonzero(self._bad).flatten().tolist()]

    @property
    def num_bad_videos(self) -> int:
        return int(self._bad.sum())

    def __getitem__(self, key: int | tuple[int, int]) -> dict | None:
        """``key`` is an index, or ``(index, epoch)`` from :class:`EpochSampler` in training."""
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        if self._bad[index]:
            return None
        record = self.records[index]
        try:
            rng = sample_rng(self.seed, epoch, index) if self.train else None
            sample = {"video": self._read(self.path(index), rng)}
            if self.conjugates is not None:
                sample["conjugate"] = self._conjugate(record.id, conjugate_rng(self.seed, epoch, index))
        except FeatureFileError as err:
            if not self.skip_bad_videos:
                raise
            self._bad[index] = True
            warnings.warn(f"skipping a bad sample: {err}", stacklevel=2)
            return None
        label = -1 if record.label is None else record.label
        dtype = torch.float32 if np.ndim(label) else torch.int64  # multi-hot or class id
        return {**sample, "label": torch.as_tensor(label, dtype=dtype), "index": index}

    def _read(self, path: Path, rng: np.random.Generator | None) -> Tensor:
        """The map (T', C, H', W') float32 of ``path``: cropped with ``rng`` in training, whole otherwise."""
        if not path.is_file():
            raise FeatureFileError(f"{path}: no feature file (run actattn extract over the videos)")
        try:
            features = FeatureMap.load(path).features  # memory-mapped: only the cropped steps are read
        except ValueError as err:
            raise FeatureFileError(str(err)) from None
        if self.out_channels is not None and features.shape[1] != self.out_channels:
            raise FeatureFileError(f"{path}: {features.shape[1]} channels, the other maps have {self.out_channels}")
        if rng is None:
            return features.float()
        steps = crop_steps_indices(len(features), self.crop_steps, rng)
        crop = features[torch.from_numpy(steps)]
        if self.spatial_crop is not None:
            rows, cols = random_window(tuple(features.shape[-2:]), self.spatial_crop, rng)
            crop = crop[..., rows, cols]
        return crop.float()

    def _conjugate(self, sample_id: str, rng: np.random.Generator) -> Tensor:
        choices = self.conjugates.get(sample_id)
        if not choices:
            raise FeatureFileError(f"sample {sample_id}: the conjugate cache lists no conjugate for it")
        return self._read(conjugate_file(self.features_dir, choices[int(rng.integers(len(choices)))]), rng)


def collate_features(batch: list[dict | None]) -> dict:
    """:func:`~actattn.data.loaders.collate_drop_none`, with an error naming the clips when maps of
    different shapes meet in one batch (whole maps at evaluation: use ``eval_batch_size=1``)."""
    shapes = {tuple(sample["video"].shape): sample["index"] for sample in batch if sample is not None}
    if len(shapes) > 1:
        listed = ", ".join(f"clip {index}: {shape}" for shape, index in shapes.items())
        raise ValueError(f"feature maps of different shapes in one batch ({listed}): "
                         "evaluate with eval_batch_size 1, or extract with --size and one clip length")
    return collate_drop_none(batch)


class FeatureDataModule(SplitDataModule):
    collate = staticmethod(collate_features)

    """Train/val/test splits over the maps of ``actattn extract`` in ``features_dir``.

    Labels as :class:`~actattn.data.datamodule.VideoDataModule` reads them: format ``"ssv2"``, SSv2
    split JSON files with ``labels_file`` (sample ``id`` -> ``features_dir/{id}.pt``); format
    ``"csv"``, ``path,label`` CSVs (the file stem of ``path`` -> ``features_dir/{stem}.pt``; the
    videos need not exist), ``class_names`` optional, ``multi_label`` for ``;``-separated labels.
    Official files (any format of :data:`~actattn.data.loaders.OFFICIAL_FORMATS`): ``files`` by role,
    ``reader_options``, ``task``, ``split``, ``splits`` and ``strict`` as the video data module takes them
    (:func:`~actattn.data.records.read_stages`); the classes and multi-label kind are the task's,
    and a sample's map is ``features_dir/{sample_key(id)}.pt`` (the sample id, ``/`` as ``_``:
    what ``actattn extract --config`` writes for the same data section; a segment has its own map).
    ``crop_steps``, ``spatial_crop``: the training crops (module docstring); ``conjugates_file``: a
    conjugate cache, giving training samples ``"conjugate"`` maps (ActX's losses). ``batch_size``
    trains (the paper: 36), ``eval_batch_size`` evaluates (whole maps: 1).

    After :meth:`setup`: ``class_names``, ``num_classes``, ``datasets``, and :attr:`feature_meta` /
    :attr:`backbone_facts` from the first readable feature file of the first split.
    """

    def __init__(
        self,
        format: str = "ssv2",
        *,
        features_dir: str | Path,
        train_file: str | Path | None = None,
        val_file: str | Path | None = None,
        test_file: str | Path | None = None,
        labels_file: str | Path | None = None,
        files: dict[str, str | list[str]] | None = None,
        task: str | None = None,
        split: int | None = None,
        splits: dict[str, str | None] | None = None,
        reader_options: dict[str, Any] | None = None,
        strict: bool = True,
        class_names: Sequence[str] | None = None,
        multi_label: bool = False,
        crop_steps: int = 10,
        spatial_crop: Sequence[int] | None = None,
        conjugates_file: str | Path | None = None,
        batch_size: int = 36,
        eval_batch_size: int = 1,
        num_workers: int = 0,
        seed: int = 0,
        skip_bad_videos: bool = False,
    ):
        super().__init__()
        check_label_options(format, files, {"train_file": train_file, "val_file": val_file, "test_file": test_file,
                                            "labels_file": labels_file, "class_names": class_names})
        if files is None and format == "ssv2" and (class_names is not None or multi_label):
            raise ValueError("format 'ssv2' is single-label with class names from labels_file")
        if crop_steps < 1 or batch_size < 1 or eval_batch_size < 1:
            raise ValueError(f"crop_steps, batch_size and eval_batch_size must be >= 1, got "
                             f"{crop_steps}, {batch_size}, {eval_batch_size}")
        self.save_hyperparameters(ignore=["class_names"])
        self.files = {"train": train_file, "val": val_file, "test": test_file}
        self.class_names: list[str] | None = list(class_names) if class_names is not None else None
        self.feature_meta: dict[str, Any] | None = None
        self._multi_label = multi_label

    @property
    def multi_label(self) -> bool:
        """Whether labels are multi-hot: the official files' task (after setup), else the ``multi_label`` setting."""
        return self._multi_label

    @property
    def backbone_facts(self) -> dict[str, int]:
        """What this data tells the backbone's constructor: the ``precomputed`` backbone's
        ``out_channels``, ``output_stride`` and ``temporal_stride`` for these maps (after setup)."""
        meta = self._meta()
        return {key: int(meta[key]) for key in ("out_channels", "output_stride", "temporal_stride")}

    @property
    def pipeline(self) -> dict[str, Any]:
        """What made and crops these maps (kept in checkpoints): the extraction ``features``
        settings (backbone, kwargs, weights, size, window, stride) with the maps' strides and
        channels, ``crop_steps`` and ``spatial_crop``."""
        meta = self._meta()
        extraction = {**json.loads(meta["settings"]), **self.backbone_facts}
        spatial = self.hparams.spatial_crop
        return {"features": extraction, "crop_steps": self.hparams.crop_steps,
                "spatial_crop": list(spatial) if spatial is not None else None}

    @property
    def head_facts(self) -> dict[str, Any]:
        """Stored maps carry no objects: nothing for a head's ``from_data``."""
        return {}

    def _meta(self) -> dict[str, Any]:
        if self.feature_meta is None:
            raise RuntimeError("the feature files' metadata is read by setup()")
        return self.feature_meta

    def _records(self, file: str | Path) -> list[FeatureRecord]:
        hp = self.hparams
        if hp.format == "ssv2":
            return [FeatureRecord(entry.id, entry.label) for entry in read_split(file, read_labels(hp.labels_file))]
        rows = read_csv_list(file, class_names=self.class_names, multi_label=hp.multi_label)
        return [FeatureRecord(path.stem, multi_hot(label, len(self.class_names)) if hp.multi_label else label)
                for path, label in rows]

    def _class_names(self) -> list[str]:
        if self.hparams.format == "ssv2":
            labels = read_labels(self.hparams.labels_file)
            return sorted(labels, key=labels.__getitem__)
        largest = max((max_label(label) for file in self.files.values() if file is not None
                       for _, label in read_csv_list(file, multi_label=self.hparams.multi_label)), default=-1)
        return [str(i) for i in range(largest + 1)]

    def _format_records(self) -> dict[str, list[FeatureRecord]]:
        """Each stage's records from the official files; sets the classes and the multi-label kind."""
        hp = self.hparams
        result, task, stages = read_stages(hp.format, hp.files, task=hp.task, split=hp.split, splits=hp.splits,
                                           options=hp.reader_options, strict=hp.strict)
        multi_label, names = task in result.multi_label, list(result.tasks[task])
        if hp.multi_label and not multi_label:
            raise ValueError(f"multi_label: the {hp.format} task {task!r} is single-label")
        self.class_names, self._multi_label = names, multi_label
        self.files = {stage: stages.get(stage) for stage in self.files}
        return {stage: [FeatureRecord(sample_key(sample.id), sample_label(sample, task, multi_label, len(names)))
                        for sample in result.splits[split]] for stage, split in stages.items()}

    def _first_meta(self, records: dict[str, list[FeatureRecord]]) -> dict[str, Any]:
        features_dir = Path(self.hparams.features_dir)
        for split_records in records.values():
            for record in split_records:
                path = features_dir / f"{record.id}{SUFFIX}"
                if path.is_file():
                    try:
                        return FeatureMap.load(path).meta
                    except ValueError:
                        continue
        raise FileNotFoundError(f"{features_dir}: no readable feature file of any listed sample "
                                "(run actattn extract over the videos)")

    def setup(self, stage: str | None = None) -> None:
        """Read the label files (once), the first feature file's metadata, and build a dataset per split."""
        if self.datasets:
            return
        if not Path(self.hparams.features_dir).is_dir():
            raise ValueError(f"features_dir {self.hparams.features_dir}: no such folder (write it with actattn extract)")
        hp = self.hparams
        if hp.files is not None:
            records = self._format_records()
        else:
            if self.class_names is None:
                self.class_names = self._class_names()
            records = {split: self._records(file) for split, file in self.files.items() if file is not None}
        self.feature_meta = self._first_meta(records)
        conjugates = load_pairs(hp.conjugates_file) if hp.conjugates_file is not None else None
        for split, split_records in records.items():
            self.datasets[split] = FeatureDataset(
                split_records, hp.features_dir, train=split == "train", crop_steps=hp.crop_steps,
                spatial_crop=hp.spatial_crop, conjugates=conjugates, out_channels=self.feature_meta["out_channels"],
                seed=hp.seed, skip_bad_videos=hp.skip_bad_videos, class_names=self.class_names)

    def eval_batch_size(self) -> int:
        """Whole maps: ``eval_batch_size`` (1 unless every map has one length)."""
        return self.hparams.eval_batch_size


def data_module_class(data: dict[str, Any]) -> type[L.LightningDataModule]:
    """The data module a run config's ``data`` section builds: :class:`FeatureDataModule` when it
    names ``features_dir`` (maps of ``actattn extract``), else the video one."""
    from actattn.data.datamodule import VideoDataModule

    return FeatureDataModule if "features_dir" in data else VideoDataModule
