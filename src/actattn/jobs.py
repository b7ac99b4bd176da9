"""Per-video caches made in one pass over a dataset (``actattn detect``, ``actattn extract``): each
rank takes its share of the jobs, a job whose file is complete is skipped (a rerun resumes), a bad
video is skipped with a warning and counted, and the rank writes its summary.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from tqdm import tqdm

from actattn.files import remove_partials, save_json

Job = TypeVar("Job")


def shard(items: Sequence, rank: int, world_size: int) -> list:
    """Rank ``rank``'s share of ``items``: ``rank, rank + world_size, ...`` (disjoint, and together all)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size), got rank {rank}, world_size {world_size}")
    return list(items)[rank::world_size]


def world_position() -> tuple[int, int]:
    """``(rank, world_size)``: torch.distributed's if initialised, else the ``RANK`` and ``WORLD_SIZE``
    that torchrun sets, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def default_device() -> str:
    """``cuda:LOCAL_RANK`` where CUDA is available, else ``cpu``."""
    return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu"


def cache_jobs(
    jobs: Sequence[Job],
    out: Path,
    *,
    target: Callable[[Job], Path],
    name: Callable[[Job], str],
    complete: Callable[[Path], bool],
    make: Callable[[Job, Path], None],
    bad_errors: tuple[type[Exception], ...],
    rank: int,
    world_size: int,
    desc: str,
    progress: bool,
) -> dict[str, Any]:
    """Run this rank's share of ``jobs``: ``make(job, path)`` writes ``target(job)`` unless it is
    ``complete``; a job raising one of ``bad_errors`` is skipped with a warning and recorded under
    ``name(job)`` with the error's message. Returns the counts ``done``, ``resumed`` and ``bad``
    (name -> message) and the share's size ``jobs``."""
    mine = shard(jobs, rank, world_size)
    done, resumed, bad = 0, 0, {}
    bar = tqdm(mine, desc=f"{desc} rank {rank}/{world_size} -> {out}", disable=not progress)
    for job in bar:
        path = target(job)
        remove_partials(path)  # left by a killed run; only this rank writes this file
        if complete(path):
            resumed += 1
            continue
        try:
            make(job, path)
        except bad_errors as err:
            bad[name(job)] = str(err)
            warnings.warn(f"skipping a bad video: {err}", stacklevel=2)
            bar.set_postfix(bad=len(bad))
            continue
        done += 1
    return {"jobs": len(mine), "done": done, "resumed": resumed, "bad": bad}


def write_summary(summary: dict[str, Any], out: Path, rank: int) -> dict[str, Any]:
    """Write a rank's summary beside its files, ``out/summary.rank{rank}.json``; return it."""
    save_json(summary, out / f"summary.rank{rank}.json")
    return summary
