"""Folders of extracted frames and still images, read wherever a video file is read.

A frame folder holds one JPEG (or PNG) per frame, as EPIC-KITCHENS, Something-Something V1 and
most published recipes store videos. Its frame names follow a printf pattern: detected among
:data:`FRAME_PATTERNS` (``frame_%010d.jpg`` EPIC, ``%05d.jpg`` SSv1, ``img_%05d.jpg`` TSN/TSM,
...) or given; numbering starts at 1 (ffmpeg's ``%d``) or 0 and must be contiguous (a folder is
counted by probing names, never listed, so a 200,000-frame EPIC video costs ~40 ``stat`` calls).
A folder whose names follow no pattern is read in sorted name order. Frame ``i`` (0-based) is
the ``i``-th frame of the folder: EPIC's 1-based ``frame_0000000001.jpg`` is frame 0.

:func:`read_source` reads a clip from any of the three (video file, frame folder, image) within a
segment (:class:`~actattn.data.video.Span`): seconds through a video's own frame rate, or through
a frame folder's extraction rate; or EPIC's 1-based frame numbers.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from actattn.data.video import Span, VideoDecodeError, frame_span, read_segment

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
FRAME_PATTERNS = ("frame_%010d.jpg", "img_%05d.jpg", "%05d.jpg", "image_%05d.jpg", "%06d.jpg", "%04d.jpg",
                  "frame%06d.jpg", "%010d.jpg")


def is_image(path: str | Path) -> bool:
    """A still image (a file with an image suffix), read as a one-frame video."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


@dataclass(frozen=True)
class FrameFolder:
    """A folder of frames: ``count`` frames named ``pattern % (first + i)``, or ``names`` in sorted order."""

    path: Path
    count: int
    pattern: str | None = None
    first: int = 1
    names: tuple[str, ...] = ()

    def file(self, index: int) -> Path:
        """The file of 0-based frame ``index``."""
        if self.pattern is not None:
            return self.path / (self.pattern % (self.first + index))
        return self.path / self.names[index]


def _count(path: Path, pattern: str, first: int) -> int:
    """How many frames ``first, first + 1, ...`` exist (exponential, then binary search)."""
    exists = lambda n: os.path.exists(os.path.join(path, pattern % (first + n - 1)))  # noqa: E731
    low, high = 1, 2
    while exists(high):
        low, high = high, high * 2
    while high - low > 1:  # frame `low` exists, frame `high` does not
        middle = (low + high) // 2
        low, high = (middle, high) if exists(middle) else (low, middle)
    return low


@functools.lru_cache(maxsize=4096)
def open_folder(path: str | Path, pattern: str | None = None) -> FrameFolder:
    """The frames of folder ``path``: by ``pattern`` if given, else the first of
    :data:`FRAME_PATTERNS` that names a first frame (1 or 0), else every image in sorted order.
    A folder without frames raises :class:`~actattn.data.video.VideoDecodeError` naming it."""
    path = Path(path)
    if not path.is_dir():
        raise VideoDecodeError(path, "no such frame folder")
    for candidate in [pattern] if pattern is not None else FRAME_PATTERNS:
        try:
            candidate % 1
        except TypeError:
            raise ValueError(f"frame_pattern {candidate!r} is not a printf pattern with one %d") from None
        for first in (0, 1):
            if (path / (candidate % first)).is_file():
                return FrameFolder(path, _count(path, candidate, first), candidate, first)
    if pattern is not None:
        raise VideoDecodeError(path, f"has no frame named {pattern % 1!r} or {pattern % 0!r} (frame_pattern)")
    names = tuple(sorted(name for name in os.listdir(path) if is_image(name)))
    if not names:
        raise VideoDecodeError(path, "is a folder without JPEG or PNG frames")
    return FrameFolder(path, len(names), names=names)


def _load(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as err:
        raise VideoDecodeError(path, f"cannot be read as an image ({err})") from err


def read_folder(folder: FrameFolder, indices: Sequence[int]) -> np.ndarray:
    """Frames ``indices`` (0-based, repeats allowed, past the end: the last) -> ``(T, H, W, 3)`` uint8."""
    if any(i < 0 for i in indices):
        raise VideoDecodeError(folder.path, f"negative frame index in {list(indices)}")
    clamped = [min(int(i), folder.count - 1) for i in indices]
    images = {i: _load(folder.file(i)) for i in sorted(set(clamped))}
    shapes = {image.shape for image in images.values()}
    if len(shapes) > 1:
        raise VideoDecodeError(folder.path, f"frames of different sizes {sorted(shapes)}")
    return np.stack([images[i] for i in clamped])


def read_source(
    path: str | Path,
    choose: Callable[[int], Sequence[int]],
    *,
    segment: tuple[float, float] | None = None,
    frames: tuple[int, int] | None = None,
    frame_rate: float | None = None,
    frame_pattern: str | None = None,
    threads: int = 1,
) -> tuple[np.ndarray, list[int], Span]:
    """A clip of a video file, a frame folder or an image: ``choose(n)`` picks 0-based frames among
    the ``n`` of the segment; returns ``(T, H, W, 3)`` uint8, the source's frame indices and the span.

    A video file converts ``segment`` (seconds) through its own frame rate. A frame folder takes
    ``frames`` (1-based inclusive, EPIC) if given, else ``segment`` at ``frame_rate`` (the rate its
    frames were extracted at). An image is one frame (``segment`` ignored)."""
    path = Path(path)
    if path.is_dir():
        folder = open_folder(path, frame_pattern)
        if frames is None and segment is not None and frame_rate is None:
            raise VideoDecodeError(path, f"segment {segment[0]}-{segment[1]} s in a frame folder needs the rate "
                                         "its frames were extracted at (data.frame_rate)")
        span = frame_span(path, folder.count, frame_rate, segment, frames)
        indices = [span.first + min(int(i), len(span) - 1) if i >= 0 else int(i) for i in choose(len(span))]
        return read_folder(folder, indices), indices, span
    if is_image(path):
        if not path.is_file():
            raise VideoDecodeError(path, "no such file")
        indices = [0 for _ in choose(1)]
        return np.stack([_load(path)] * len(indices)), indices, Span(0, 1)
    return read_segment(path, choose, segment, threads=threads)
