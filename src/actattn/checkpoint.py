"""Checkpoints that can be trusted: atomic, checksummed, always the latest state, loaded with clear errors.

- :class:`AtomicCheckpointIO` (the Trainer's checkpoint plugin) writes every checkpoint through a
  temporary file in its own folder and an atomic rename (:func:`actattn.files.atomic_write`), and
  stores a SHA-256 of the weights beside them; loading checks it.
- :class:`LastCheckpoint` writes ``last.ckpt`` at the end of every training epoch, validated or
  not, and every ``every_n_steps`` optimiser steps if asked: a kill loses at most that much work.
  It carries ``metrics.csv`` as it stood and puts it back on resume, so the resumed run's rows
  are the uninterrupted run's rows; :class:`RunLogger` (Lightning's CSV logger) then appends to
  it instead of deleting it.
- :func:`read_checkpoint` / :func:`load_module`: a missing, empty, truncated or damaged file is a
  :class:`CheckpointError` that names the file and the problem.
"""
from __future__ import annotations

import csv
import hashlib
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.plugins.io import TorchCheckpointIO

from actattn.files import atomic_write, remove_partials

if TYPE_CHECKING:
    from actattn.train import ActionRecognizer

DIGEST_KEY = "weights_sha256"
METRICS_KEY = "metrics_csv"


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, damaged or not of this project."""


def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in key order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """The checkpoint at ``path``, its weights checked against their checksum.

    Raises :class:`CheckpointError` naming the file for a missing, empty, truncated or
    unparsable file and for weights that do not match their checksum.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: the file is empty (0 bytes); it was never completely written")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, KeyError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({size} bytes; truncated or damaged?): "
                              f"{reason}") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path}: not a Lightning checkpoint (no 'state_dict')")
    expected = checkpoint.get(DIGEST_KEY)
    if expected is None:
        warnings.warn(f"{path}: no weights checksum (not written by actattn); its weights cannot be verified",
                      stacklevel=2)
    elif weights_digest(checkpoint["state_dict"]) != expected:
        raise CheckpointError(f"{path}: the weights do not match their checksum; the file is damaged")
    return checkpoint


def load_module(path: str | Path, map_location: Any = "cpu") -> ActionRecognizer:
    """The :class:`~actattn.train.ActionRecognizer` of a checkpoint, in eval mode."""
    from actattn.train import ActionRecognizer

    checkpoint = read_checkpoint(path, map_location)
    try:
        module = ActionRecognizer(**checkpoint["hyper_parameters"])
        module.load_state_dict(checkpoint["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        reason = str(err).strip().splitlines()[0]
        raise CheckpointError(f"{path}: its weights do not fit the model its hyper-parameters describe: "
                              f"{reason}") from None
    return module.to(map_location).eval()


def init_weights(module: ActionRecognizer, path: str | Path) -> None:
    """Load the weights of checkpoint ``path`` into ``module`` (a fresh run's start, e.g. the second
    training stage from the first); weights of another model are an error naming what differs."""
    checkpoint = read_checkpoint(path)
    try:
        module.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        reason = " ".join(str(err).split())
        raise CheckpointError(f"{path}: its weights do not fit this run's model: {reason[:500]}") from None


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves atomically beside the target with a weights checksum; loads through :func:`read_checkpoint`."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        path = Path(path)
        remove_partials(path)  # what a killed write of this checkpoint left behind
        checkpoint[DIGEST_KEY] = weights_digest(checkpoint["state_dict"])
        atomic_write(path, lambda file: torch.save(checkpoint, file))

    def load_checkpoint(self, path: str | Path, map_location: Any = None, weights_only: bool | None = None
                        ) -> dict[str, Any]:
        return read_checkpoint(path, map_location)


class LastCheckpoint(Checkpoint):
    """``last.ckpt`` after every training epoch, validated or not, and every ``every_n_steps``
    optimiser steps; with ``metrics.csv`` as it stood, which a resume from it puts back.

    The state is taken where Lightning resumes from (the end of a training batch or epoch: after
    the epoch's validation, so it holds that validation's metrics and the best checkpoint's state)
    and written when the next batch or epoch starts, or training ends: by then Lightning has logged
    that step's (or epoch's) rows, so the file holds exactly the rows of the state, and a resumed
    run appends what the uninterrupted run did. A step that ends an epoch is left to the epoch's.
    A :class:`~lightning.pytorch.callbacks.Checkpoint`, so Lightning calls it after the other
    callbacks; give it after the ``best.ckpt`` one, whose state it then holds up to date.
    """

    def __init__(self, path: str | Path, every_n_steps: int | None = None) -> None:
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.path = Path(path)
        self.every_n_steps = every_n_steps
        self._pending: dict[str, Any] | None = None

    def _take(self, trainer: L.Trainer) -> None:
        # the dump holds references to the live tensors; nothing changes them before _write
        self._pending = trainer._checkpoint_connector.dump_checkpoint()

    def _write(self, trainer: L.Trainer) -> None:
        if self._pending is None:
            return
        checkpoint, self._pending = self._pending, None
        metrics = _metrics_file(trainer)
        checkpoint[METRICS_KEY] = metrics.read_text() if metrics is not None and metrics.is_file() else ""
        trainer.strategy.save_checkpoint(checkpoint, self.path)  # global rank 0 writes
        trainer.strategy.barrier("LastCheckpoint")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        ends_epoch = batch_idx + 1 == trainer.num_training_batches
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0 and not ends_epoch:
            self._take(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._take(trainer)

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        self._write(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._write(trainer)

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
                           ) -> None:
        """Put back the checkpoint's ``metrics.csv``, dropping the rows logged after it."""
        metrics = _metrics_file(trainer)
        if metrics is not None and trainer.is_global_zero and METRICS_KEY in checkpoint:
            text = checkpoint[METRICS_KEY].encode()
            atomic_write(metrics, lambda file: file.write(text))


def _metrics_file(trainer: L.Trainer) -> Path | None:
    logger = trainer.logger
    return None if logger is None or logger.log_dir is None else Path(logger.log_dir) / "metrics.csv"


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, appending to the ``metrics.csv`` it finds (under that file's columns)
    instead of deleting it: the run decides whether there is one."""

    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        path = Path(self.metrics_file_path)
        if path.is_file():
            with open(path, newline="") as file:
                self.metrics_keys = next(csv.reader(file), [])

    def _check_log_dir_exists(self) -> None:
        pass


class RunLogger(CSVLogger):
    """``metrics.csv`` and ``hparams.yaml`` directly in the run folder; an existing ``metrics.csv``
    (a resumed run's, as :class:`LastCheckpoint` restored it) is appended to."""

    def __init__(self, out: str | Path) -> None:
        super().__init__(out, name="", version="")

    @property
    @rank_zero_experiment
    def experiment(self) -> _AppendingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
