"""Charades v1 (format ``charades``; charades/FORMAT.md: no excerpt may be shared). One multi-label
task, ``action`` (157 classes ``c000``..``c156``).

- ``Charades_v1_classes.txt``: ``cNNN <name>`` per line, NNN = 0..K-1 in order.
- ``Charades_v1_train.csv`` / ``_test.csv``: header ``id,subject,scene,quality,relevance,verified,
  script,objects,descriptions,actions,length``, double-quoted where a field has commas;
  ``actions`` is ``;``-separated ``cNNN START END`` (seconds; may be empty), ``length`` the video's
  length in seconds.
- One sample per video (``video`` ``<id>.mp4``): ``labels["action"]`` the classes that occur, and
  ``info["intervals"]`` the ``[class, start, stop]`` of each action. An interval that ends after
  ``length`` is clipped to it (a counted note); one with start >= stop is skipped (counted; the
  video stays, without that interval).
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from actattn.data.formats.base import (
    Ids, Problems, ReadResult, RowError, Sample, class_index, lookup, parse_seconds, read_lines,
)

TASK = "action"
COLUMNS = ["id", "subject", "scene", "quality", "relevance", "verified", "script", "objects", "descriptions",
           "actions", "length"]


def read_charades_classes(path: str | Path) -> tuple[list[str], list[str]]:
    """``(codes, names)`` of ``Charades_v1_classes.txt`` (``c000 Holding some clothes``)."""
    path = Path(path)
    codes, names = [], []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        match = re.fullmatch(r"(c\d{3}) (.+)", line.strip())
        if match is None or match.group(1) != f"c{len(codes):03d}":
            raise ValueError(f"{path}, line {number}: expected 'c{len(codes):03d} <name>', got {line!r}")
        codes.append(match.group(1))
        names.append(match.group(2).strip())
    return codes, names


def read_charades(classes: str | Path, *, train: str | Path | None = None, test: str | Path | None = None,
                  strict: bool = True) -> ReadResult:
    """Charades from ``Charades_v1_classes.txt`` and ``Charades_v1_train.csv`` and/or ``Charades_v1_test.csv``."""
    codes, names = read_charades_classes(classes)
    index = class_index(codes, classes)
    problems = Problems(strict)
    splits = {}
    for split, file in (("train", train), ("test", test)):
        if file is None:
            continue
        path, samples, ids = Path(file), [], Ids()
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header != COLUMNS:
                raise ValueError(f"{path}, line 1: expected the header {','.join(COLUMNS)}, got {header!r}")
            for row in reader:
                number = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                try:
                    if len(row) != len(COLUMNS):
                        raise RowError(f"expected {len(COLUMNS)} fields, got {len(row)}")
                    fields = dict(zip(COLUMNS, row))
                    video_id = fields["id"].strip()
                    if not video_id:
                        raise RowError("empty id")
                    length = parse_seconds(fields["length"], "length")
                    actions = []
                    for part in fields["actions"].split(";"):
                        if not part.strip():
                            continue
                        tokens = part.split()
                        if len(tokens) != 3:
                            raise RowError(f"action {part!r} is not 'cNNN START END'")
                        actions.append((lookup(index, tokens[0]), parse_seconds(tokens[1], "start"),
                                        parse_seconds(tokens[2], "end")))
                    ids.add(video_id, f"line {number}")
                except RowError as err:
                    problems.bad(path, number, str(err))
                    continue
                intervals = []
                for label, start, stop in actions:
                    if stop > length:
                        problems.note(path, number, f"{codes[label]} end {stop} s clipped to the length {length} s")
                        stop = length
                    if not start < stop:
                        problems.skip(path, number, f"{codes[label]} interval start {start} s is not before "
                                                    f"its end {stop} s")
                        continue
                    intervals.append([label, start, stop])
                samples.append(Sample(video_id, f"{video_id}.mp4",
                                      {TASK: tuple(sorted({label for label, _, _ in intervals}))},
                                      info={"intervals": intervals, "length": length, "scene": fields["scene"]}))
        splits[split] = samples
    return problems.result("charades", {TASK: names}, splits, multi_label=[TASK])
