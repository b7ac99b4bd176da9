"""Files written so that a kill at any moment leaves either the old file or the new one, never part of one."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO


def partial_path(path: Path) -> Path:
    """Where this process's :func:`atomic_write` builds ``path``: a hidden file beside it, on the same
    file system, named by the process so that concurrent writers of one file never share it."""
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


def remove_partials(path: Path) -> list[Path]:
    """Remove what writes of ``path`` cut short by a kill left behind; return what was removed."""
    stale = sorted(path.parent.glob(f".{path.name}.*.partial"))
    for file in stale:
        file.unlink(missing_ok=True)
    return stale


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(file)`` on :func:`partial_path`, flush it to disk, then ``os.replace`` it onto ``path``.

    The temporary file lies in ``path``'s own folder (not ``TMPDIR``): a rename within one file
    system is atomic, a move across file systems is a copy that a kill can cut short.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    try:
        with open(partial, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
    return path


def save_json(data: Any, path: str | Path) -> Path:
    """``data`` as indented JSON, written atomically."""
    text = (json.dumps(data, indent=2) + "\n").encode()
    return atomic_write(path, lambda file: file.write(text))


def read_json(path: str | Path) -> Any:
    """The JSON in ``path`` (a UTF-8 byte-order mark allowed, as some releases have one); invalid
    JSON is a ValueError naming the file."""
    try:
        with open(path, encoding="utf-8-sig") as file:
            return json.load(file)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
