"""The data modules' loader pieces: the collate function that drops skipped bad videos, the
training loader whose position Lightning checkpoints (a run resumed mid-epoch continues with the
next batch), and :class:`SplitDataModule`, the loaders and their state that the video and the
feature-map data modules share."""
from __future__ import annotations

from collections.abc import Callable, Mapping

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from actattn.data.formats import FORMATS as READERS
from actattn.data.object_slots import pad_object_slots
from actattn.data.sampling import EpochSampler, ShardSampler


def collate_drop_none(batch: list[dict | None]) -> dict:
    """Default-collate the samples that are not ``None`` (skipped bad videos) and count the others
    in ``"skipped"`` (int64 scalar); a batch of skipped samples only has nothing else. Object slots
    are padded to the batch's largest K (:func:`~actattn.data.object_slots.pad_object_slots`)."""
    samples = pad_object_slots([sample for sample in batch if sample is not None])
    collated = default_collate(samples) if samples else {}
    return {**collated, "skipped": torch.tensor(len(batch) - len(samples))}


class ResumableLoader(DataLoader):
    """The training loader, with the state Lightning checkpoints for a loader that has one: the
    epoch and how many batches it has handed out in it. A run resumed from a checkpoint made
    mid-epoch continues with the next batch, and the workers start on the right epoch (they
    prefetch before Lightning sets the sampler's epoch). Its sampler is an :class:`EpochSampler`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.handed_out = 0

    def __iter__(self):
        # a generator: nothing is drawn from the sampler (no worker prefetches) before the first
        # batch is asked for, by which time Lightning has set the epoch
        self.handed_out = self.sampler.skip // self.batch_size  # what a resumed epoch already had
        for batch in super().__iter__():
            self.handed_out += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "batches": self.handed_out}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue after ``state``'s last batch: mid-epoch, or at the next epoch's start."""
        epoch, batches = state["epoch"], state["batches"]
        if batches >= len(self):
            epoch, batches = epoch + 1, 0
        self.sampler.set_epoch(epoch)
        self.sampler.skip = batches * self.batch_size


LIST_FORMATS = ("ssv2", "csv")  # the label lists (train_file, ...): SSv2 split JSON files, or path,label CSVs
OFFICIAL_FORMATS = tuple(READERS)  # every format, read from its official files (`files`)


def check_label_options(format: str, files: Mapping | None, lists: Mapping[str, object]) -> None:
    """Refuse an unknown format, one without its label files, or official ``files`` given with the
    list options ``lists`` (train_file, ..., labels_file: name -> value)."""
    if format not in OFFICIAL_FORMATS:
        raise ValueError(f"format must be one of {OFFICIAL_FORMATS}, got {format!r}")
    if files is None and format not in LIST_FORMATS:
        raise ValueError(f"format {format!r} reads its official files: give data.files (roles "
                         f"{[role.keyword for role in READERS[format].roles]})")
    given = [name for name, value in lists.items() if value is not None]
    if files is not None and given:
        raise ValueError(f"give the official files as `files` or the lists as {given}, not both")
    if files is None and format == "ssv2" and lists.get("labels_file") is None:
        raise ValueError("format 'ssv2' needs labels_file")


class SplitDataModule(L.LightningDataModule):
    """What the data modules share once ``setup`` has filled ``datasets`` (split -> dataset) and
    ``class_names``: the training loader (shuffled by ``(seed, epoch)`` through an
    :class:`EpochSampler`, a DistributedSampler that Lightning advances each epoch; resumable
    mid-epoch), the evaluation loaders (each sample once over the ranks, :class:`ShardSampler`: no
    padding under DDP) and the loader state kept in checkpoints. Subclasses give ``files``, the
    ``collate`` function and the evaluation batch size (:meth:`eval_batch_size`); their hparams
    hold ``batch_size``, ``num_workers`` and ``seed``."""

    collate: Callable[[list], dict] = staticmethod(collate_drop_none)

    def __init__(self) -> None:
        super().__init__()
        self.datasets: dict[str, Dataset] = {}
        self.class_names: list[str] | None = None
        self._train_loader: ResumableLoader | None = None
        self._resume: dict[str, int] | None = None

    @property
    def num_classes(self) -> int:
        if self.class_names is None:
            raise RuntimeError("num_classes is known after setup()")
        return len(self.class_names)

    @property
    def label_source(self) -> str:
        """Where the classes come from, for messages: the official files, the labels file, or the CSV lists."""
        if self.hparams.files is not None:
            return f"the {self.hparams.format} files " + ", ".join(map(str, self.hparams.files.values()))
        if self.hparams.format == "ssv2":
            return str(self.hparams.labels_file)
        return "the CSV lists " + ", ".join(str(file) for file in dict.fromkeys(self.files.values()) if file)

    def eval_batch_size(self) -> int:
        """The evaluation loaders' batch size (by default the training one)."""
        return self.hparams.batch_size

    def _split(self, split: str) -> Dataset:
        if split not in self.datasets:
            raise RuntimeError(f"no {split} dataset: pass {split}_file and call setup() first")
        return self.datasets[split]

    def _world(self) -> tuple[int, int]:
        return (self.trainer.world_size, self.trainer.global_rank) if self.trainer else (1, 0)

    def _loader_args(self, batch_size: int) -> dict:
        """Loaders draw worker seeds from their own generator, never from the global RNG that
        dropout uses, so that a resumed run sees the same random numbers as an unbroken one."""
        workers = self.hparams.num_workers
        return dict(batch_size=batch_size, num_workers=workers, persistent_workers=workers > 0,
                    collate_fn=self.collate, generator=torch.Generator().manual_seed(self.hparams.seed))

    def train_dataloader(self) -> DataLoader:
        dataset = self._split("train")
        world, rank = self._world()
        sampler = EpochSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=self.hparams.seed)
        self._train_loader = ResumableLoader(dataset, sampler=sampler, **self._loader_args(self.hparams.batch_size))
        if self._resume is not None:
            self._train_loader.load_state_dict(self._resume)
            self._resume = None
        return self._train_loader

    def state_dict(self) -> dict[str, dict[str, int]]:
        """The training loader's position, kept in checkpoints (see :meth:`load_state_dict`)."""
        return {} if self._train_loader is None else {"train_loader": self._train_loader.state_dict()}

    def load_state_dict(self, state: dict[str, dict[str, int]]) -> None:
        """Resume the training loader where ``state`` left it.

        Lightning restores a stateful loader itself only if the loader is made after the checkpoint
        is read; a cosine schedule over steps (``estimated_stepping_batches``) makes it before.
        The data module's state is read first, so the loader starts where it should either way.
        """
        self._resume = state.get("train_loader")

    def _eval_loader(self, split: str) -> DataLoader:
        dataset = self._split(split)
        return DataLoader(dataset, sampler=ShardSampler(dataset, *self._world()),
                          **self._loader_args(self.eval_batch_size()))

    def val_dataloader(self) -> DataLoader | list:
        """The validation loader; without a validation split, an empty list (Lightning skips validation)."""
        if "val" not in self.datasets and self.files["val"] is None:
            return []
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")
