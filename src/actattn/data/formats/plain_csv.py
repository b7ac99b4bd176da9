"""The project's own ``path,label`` CSV lists (format ``csv``), read by
:func:`actattn.data.csv_list.read_csv_list` (its module docstring gives the format: optional
header, integer ids or class names, ``;``-separated multi-labels with ``?`` marking an ambiguous
class). One task, ``action``.

Classes: the lines of ``classes`` if given, else ``"0" .. "K-1"`` up to the largest id. ``video``
is the row's path as written (relative to the dataset root), also the sample's id.
"""
from __future__ import annotations

from pathlib import Path

from actattn.data.csv_list import MultiLabel, max_label, read_csv_list
from actattn.data.formats.base import Problems, ReadResult, Sample, read_lines

TASK = "action"


def read_csv(*, train: str | Path | None = None, validation: str | Path | None = None,
             test: str | Path | None = None, classes: str | Path | None = None,
             multi_label: bool = False) -> ReadResult:
    """``path,label`` lists of any split; a malformed row is an error naming the file and line."""
    names = None if classes is None else [line.strip() for line in read_lines(classes) if line.strip()]
    files = {split: Path(path) for split, path in (("train", train), ("validation", validation), ("test", test))
             if path is not None}
    rows = {split: read_csv_list(path, class_names=names, root=".", multi_label=multi_label)
            for split, path in files.items()}
    if names is None:
        largest = max((max_label(label) for split_rows in rows.values() for _, label in split_rows), default=-1)
        names = [str(i) for i in range(largest + 1)]
    splits = {}
    for split, split_rows in rows.items():
        samples, seen = [], set()
        for video, label in split_rows:
            key = video.as_posix()
            if key in seen:
                raise ValueError(f"{files[split]}: video {key!r} is listed twice")
            seen.add(key)
            if isinstance(label, MultiLabel):
                samples.append(Sample(key, key, {TASK: tuple(sorted(label.positive))},
                                      ambiguous={TASK: tuple(sorted(label.ambiguous))}))
            else:
                samples.append(Sample(key, key, {TASK: label}))
        splits[split] = samples
    return Problems().result("csv", {TASK: names}, splits, multi_label=[TASK] if multi_label else [])
