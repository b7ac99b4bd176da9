"""HACS Clips CSV (format ``hacs_clips``; hacs/FORMAT.md). One task, ``action``: the kept action
classes and one negative background class (the ActX paper's HACS-30: 30 actions + 1 negative).

- ``HACS_clips_v1.1.1.csv``: a header ``classname,youtube_id,subset,start,end,label``, then one
  2-second clip per row; ``label`` 1 = a positive clip of ``classname``, -1 = a negative clip
  (sampled from a video of ``classname``, not showing it); ``start``/``end`` seconds of the YouTube
  video; ``subset`` ``training`` | ``validation`` | ``testing`` -> splits ``train``,
  ``validation``, ``test`` (as the ActivityNet reader maps them). Read with the csv module,
  columns by header name (the six of ``dataset_stats.py``, others ignored), each row as many
  fields as the header.
- ``video``: ``<classname, spaces as _>/v_<youtube_id>.mp4``, where the dataset's
  ``download_videos.py`` saves it (the ActivityNet reader's ``v_<id>.mp4`` in a class folder; that
  script skips ``testing`` videos, so those are usually missing). ``start``/``stop``: the clip.
- ``id``: ``<classname, spaces as _>_<youtube_id>_<start>-<end>`` (seconds as the shortest
  decimal, ``15.5``, ``100``): the class is part of it, since one YouTube video may be listed under
  several classes (one folder each). ``info``: ``youtube_id``, ``classname``, ``label`` (1 or -1).
- Classes: the kept action classes, then ``negative_class`` (default ``"Negative"``) last. Which
  actions are kept: ``classes`` (this list, in its order), or ``fewest_positives`` N (the N classes
  with the fewest positive ``training`` clips, ties broken by name, sorted by name), or neither
  (every class of the file, sorted by name). A positive clip is labelled its class; a negative
  clip the negative class.
- Rows of the classes not kept, positive and negative, are dropped: the negative pool is the
  negatives of the kept classes only (the paper leaves it open; its HACS-30 validation counts, 1186
  positives and 1712 negatives, are about 30/200 of the full validation set's 20245 clips, which
  fits the kept classes' own negatives and not all of them). The drop is one counted note: its
  rows and classes.
- A row with other than 6 fields, a subset, label or time that does not parse, an empty class or
  id, or a clip twice (class, video and times) raises ``ValueError`` naming the file and line (with
  ``strict=False``: skipped and listed); a clip with start >= end is always skipped and listed.
  Testing rows are read like the others (class and label as the file gives them).
"""
from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from actattn.data.formats.base import (
    Ids, Problems, ReadResult, RowError, Sample, check_segment, class_index, parse_int, parse_seconds,
)

TASK = "action"
COLUMNS = ("classname", "youtube_id", "subset", "start", "end", "label")
SUBSETS = {"training": "train", "validation": "validation", "testing": "test"}


@dataclass(frozen=True)
class Clip:
    """One parsed row: its line, class, YouTube id, split, times and label (1 or -1)."""

    line: int
    classname: str
    youtube_id: str
    split: str
    start: float
    stop: float
    label: int


def seconds_text(seconds: float) -> str:
    """The shortest decimal of a time for ids: 15.5 -> ``"15.5"``, 100.0 -> ``"100"``."""
    return f"{seconds:.6f}".rstrip("0").rstrip(".")


def parse_clip(line: int, row: dict[str, str]) -> Clip:
    """A row's fields checked; raises :class:`RowError` (see the module docstring)."""
    classname, youtube_id = row["classname"].strip(), row["youtube_id"].strip()
    if not classname or not youtube_id:
        raise RowError("empty classname or youtube_id")
    subset = row["subset"].strip()
    if subset not in SUBSETS:
        raise RowError(f"subset {subset!r} is not training, validation or testing")
    label = parse_int(row["label"], "label")
    if label not in (1, -1):
        raise RowError(f"label {label} is not 1 (positive) or -1 (negative)")
    start, stop = parse_seconds(row["start"].strip(), "start"), parse_seconds(row["end"].strip(), "end")
    return Clip(line, classname, youtube_id, SUBSETS[subset], start, stop, label)


def read_clips(path: Path, problems: Problems) -> Iterator[Clip]:
    """The rows of ``path`` that parse, in file order; the others go to ``problems``."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file)
        header = [cell.strip() for cell in next(reader, None) or []]
        if not set(COLUMNS) <= set(header):
            raise ValueError(f"{path}, line 1: expected the columns {','.join(COLUMNS)}, got {header!r}")
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            try:
                if len(row) != len(header):
                    raise RowError(f"expected {len(header)} fields, got {len(row)}: {row!r}")
                clip = parse_clip(reader.line_num, dict(zip(header, row)))
            except RowError as err:
                problems.bad(path, reader.line_num, str(err))
                continue
            try:
                check_segment(clip.start, clip.stop)
            except RowError as err:
                problems.skip(path, reader.line_num, str(err))
                continue
            yield clip


def fewest_positive_classes(clips: Sequence[Clip], count: int) -> list[str]:
    """The ``count`` classes with the fewest positive training clips (ties by name), sorted by name."""
    names = sorted({clip.classname for clip in clips})
    if not 1 <= count <= len(names):
        raise ValueError(f"fewest_positives must be in 1..{len(names)} (the classes read), got {count}")
    positives = Counter(clip.classname for clip in clips if clip.split == "train" and clip.label == 1)
    return sorted(sorted(names, key=lambda name: (positives[name], name))[:count])


def kept_classes(path: Path, clips: Sequence[Clip], classes: Sequence[str] | None,
                 fewest_positives: int | None) -> list[str]:
    """The action classes to keep (module docstring); an unknown name in ``classes`` names ``path``."""
    if classes is not None and fewest_positives is not None:
        raise ValueError("give classes or fewest_positives, not both")
    if fewest_positives is not None:
        return fewest_positive_classes(clips, fewest_positives)
    names = sorted({clip.classname for clip in clips})
    if classes is None:
        return names
    if not classes:
        raise ValueError("classes is empty: name the action classes to keep")
    known = set(names)
    unknown = [name for name in classes if name not in known]
    if unknown:
        raise ValueError(f"{path}: classes {unknown!r} are not classes of the file")
    return list(classes)


def sample_of(clip: Clip, label: int) -> Sample:
    """The sample of a kept clip, labelled ``label`` (module docstring for its id and video)."""
    folder = clip.classname.replace(" ", "_")
    clip_id = f"{folder}_{clip.youtube_id}_{seconds_text(clip.start)}-{seconds_text(clip.stop)}"
    return Sample(clip_id, f"{folder}/v_{clip.youtube_id}.mp4", {TASK: label}, clip.start, clip.stop,
                  info={"youtube_id": clip.youtube_id, "classname": clip.classname, "label": clip.label})


def read_hacs_clips(path: str | Path, *, classes: Sequence[str] | None = None, fewest_positives: int | None = None,
                    negative_class: str = "Negative", strict: bool = True) -> ReadResult:
    """HACS Clips (``HACS_clips_v1.1.1.csv``): the kept classes' clips, negatives as ``negative_class``."""
    path = Path(path)
    problems = Problems(strict)
    clips = list(read_clips(path, problems))
    names = kept_classes(path, clips, classes, fewest_positives)
    if negative_class in names:
        raise ValueError(f"negative_class {negative_class!r} is also an action class of {path}")
    names = [*names, negative_class]
    index = class_index(names, "the kept classes")
    splits: dict[str, list[Sample]] = {"train": [], "validation": [], "test": []}
    ids = {split: Ids() for split in splits}
    dropped: Counter[str] = Counter()
    for clip in clips:
        if clip.classname not in index or clip.classname == negative_class:
            dropped[clip.classname] += 1
            continue
        sample = sample_of(clip, index[clip.classname] if clip.label == 1 else index[negative_class])
        try:
            ids[clip.split].add(sample.id, f"line {clip.line}")
        except RowError as err:
            problems.bad(path, clip.line, str(err))
            continue
        splits[clip.split].append(sample)
    if dropped:
        shown = ", ".join(sorted(dropped)[:3]) + (", ..." if len(dropped) > 3 else "")
        problems.note(path, None, f"dropped the {sum(dropped.values())} rows of the {len(dropped)} classes not kept "
                                  f"({shown})")
    return problems.result("hacs_clips", {TASK: names}, splits)
