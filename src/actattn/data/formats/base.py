"""What every format reader returns (:class:`Sample`, :class:`ReadResult`, :class:`Skip`) and the
helpers they share: a problem collector that either raises or counts, timestamp parsing, label
look-up and duplicate-id checks. See :mod:`actattn.data.formats` for the conventions."""
from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Label = int | tuple[int, ...]
Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels, as the dataset gives them


@dataclass(frozen=True)
class Sample:
    """One labelled (or, in a test split, unlabelled) video, segment or image of a split.

    - ``id``: unique within its split (the dataset's own key where it has one).
    - ``video``: path relative to the dataset root, as the dataset names it: a video file, a frame
      folder or, for still-image sets, an image file.
    - ``labels``: per task, a class index (single-label task) or the sorted tuple of positive class
      indices (multi-label task). An unlabelled sample (a test split) has ``{}``.
    - ``start``, ``stop``: the segment of ``video`` in seconds (``start < stop``), or ``None`` where
      the whole video is the sample.
    - ``ambiguous``: per multi-label task, the classes annotated as neither positive nor negative
      (HICO's 0 labels, VLOG's inconclusive blocks); kept apart so that they are not taken for
      negatives. Every class not in ``labels`` or ``ambiguous`` is a negative.
    - ``frames``: 1-based inclusive ``(first, last)`` numbers of the frames the dataset extracts
      (EPIC-KITCHENS), ``None`` elsewhere.
    - ``boxes``: person boxes ``(x1, y1, x2, y2)`` in the image's pixels (PASCAL VOC action).
    - ``info``: what else the format gives per sample (placeholders, participant, narration ...),
      plain JSON-able values; nothing in it is needed to read the labels.
    """

    id: str
    video: str
    labels: Mapping[str, Label]
    start: float | None = None
    stop: float | None = None
    ambiguous: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    frames: tuple[int, int] | None = None
    boxes: tuple[Box, ...] = ()
    info: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    """A row (or JSON item) that was not read, and why. ``line`` is 1-based, ``None`` for JSON;
    ``item`` says where in a JSON file (``"entry 3"``, ``"database['abc'] segment 1"``)."""

    file: str
    line: int | None
    reason: str
    item: str | None = None

    def where(self) -> str:
        place = f"line {self.line}" if self.line is not None else (self.item or "")
        return f"{self.file}, {place}" if place else self.file

    def __str__(self) -> str:
        return f"{self.where()}: {self.reason}"


@dataclass
class ReadResult:
    """What a reader read.

    - ``format``: the reader's format name (``"epic55"`` ...).
    - ``tasks``: per task, the class names; a label ``i`` of that task is ``tasks[task][i]``.
    - ``splits``: per split (``"train"``, ``"validation"``, ``"test"``, ``"train1"`` ...), its samples in file order.
    - ``multi_label``: the tasks whose labels are tuples of indices.
    - ``skipped``: rows not read (every one with its file, line and reason).
    - ``notes``: rows read but changed (e.g. a segment clipped to the video's end), same shape.
    """

    format: str
    tasks: dict[str, list[str]]
    splits: dict[str, list[Sample]]
    multi_label: frozenset[str] = frozenset()
    skipped: list[Skip] = field(default_factory=list)
    notes: list[Skip] = field(default_factory=list)

    def samples(self) -> list[Sample]:
        """Every split's samples, split after split."""
        return [sample for samples in self.splits.values() for sample in samples]

    def num_classes(self, task: str) -> int:
        return len(self.tasks[task])

    def class_name(self, task: str, index: int) -> str:
        return self.tasks[task][index]


class Problems:
    """Collects what a reader found wrong: :meth:`bad` raises (``strict``) or records a skip;
    :meth:`skip` always records (for quirks the real files have); :meth:`note` records a change."""

    def __init__(self, strict: bool = True):
        self.strict = strict
        self.skipped: list[Skip] = []
        self.notes: list[Skip] = []

    def bad(self, file: str | Path, line: int | None, reason: str, item: str | None = None) -> None:
        skip = Skip(str(file), line, reason, item)
        if self.strict:
            raise ValueError(str(skip))
        self.skipped.append(skip)

    def skip(self, file: str | Path, line: int | None, reason: str, item: str | None = None) -> None:
        self.skipped.append(Skip(str(file), line, reason, item))

    def note(self, file: str | Path, line: int | None, reason: str, item: str | None = None) -> None:
        self.notes.append(Skip(str(file), line, reason, item))

    def result(self, format: str, tasks: dict[str, list[str]], splits: dict[str, list[Sample]],
               multi_label: Iterable[str] = ()) -> ReadResult:
        """The :class:`ReadResult`, with one warning counting the skips and one the notes."""
        for kind, items in (("skipped", self.skipped), ("changed", self.notes)):
            if items:
                warnings.warn(f"{format}: {kind} {len(items)} rows; first: {items[0]}", stacklevel=3)
        return ReadResult(format, tasks, splits, frozenset(multi_label), list(self.skipped), list(self.notes))


class RowError(ValueError):
    """A problem with one row; the reader adds the file and line."""


_TIMESTAMP = re.compile(r"^(\d+):([0-5]\d):([0-5]\d(?:\.\d+)?)$")


def parse_timestamp(text: str) -> float:
    """``"HH:MM:SS.ss"`` (any number of decimals, or none) -> seconds; ``"00:01:02.50"`` -> 62.5."""
    match = _TIMESTAMP.match(text.strip())
    if match is None:
        raise RowError(f"timestamp {text!r} is not HH:MM:SS.ss")
    hours, minutes, seconds = match.groups()
    return round(int(hours) * 3600 + int(minutes) * 60 + float(seconds), 6)


def parse_seconds(value: object, what: str = "time") -> float:
    """A number of seconds given as a number or a numeric string (HACS writes ``"92.166667"``)."""
    if isinstance(value, bool):
        raise RowError(f"{what} {value!r} is not a number of seconds")
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RowError(f"{what} {value!r} is not a number of seconds") from None
    if seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0:
        raise RowError(f"{what} {value!r} is not a non-negative number of seconds")
    return seconds


def parse_int(text: str, what: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"-?\d+", text):
        raise RowError(f"{what} {text!r} is not an integer")
    return int(text)


def class_index(names: Sequence[str], source: str | Path) -> dict[str, int]:
    """Name -> index of a class list; a name twice is an error naming ``source``."""
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in index:
            raise ValueError(f"{source}: class {name!r} is listed twice (classes {index[name]} and {i})")
        index[name] = i
    return index


def lookup(index: Mapping[str, int], name: str, what: str = "class") -> int:
    if name not in index:
        raise RowError(f"unknown {what} {name!r} (not in the label file)")
    return index[name]


class Ids:
    """Remembers where each id of a split was first seen, to name both places of a duplicate."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def add(self, sample_id: str, where: str) -> None:
        if sample_id in self.seen:
            raise RowError(f"id {sample_id!r} occurs twice (first at {self.seen[sample_id]})")
        self.seen[sample_id] = where


def read_lines(path: str | Path) -> list[str]:
    """A text file's lines without their ending (LF or CRLF; a missing final newline is fine), UTF-8."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        text = file.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def check_segment(start: float, stop: float) -> None:
    if not start < stop:
        raise RowError(f"segment start {start} s is not before its stop {stop} s")
