"""The data module's loader pieces: the collate function that drops skipped bad videos, and the
training loader whose position Lightning checkpoints (a run resumed mid-epoch continues with the
next batch)."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, default_collate

from actattn.data.objects import pad_object_slots


def collate_drop_none(batch: list[dict | None]) -> dict:
    """Default-collate the samples that are not ``None`` (skipped bad videos) and count the others
    in ``"skipped"`` (int64 scalar); a batch of skipped samples only has nothing else. Object slots
    are padded to the batch's largest K (:func:`~actattn.data.objects.pad_object_slots`)."""
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
