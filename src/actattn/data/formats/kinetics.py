"""Kinetics-400/600/700 CSVs (format ``kinetics``; annotations/README.md section 5c). One task, ``action``.

- Labelled files: ``label,youtube_id,time_start,time_end,split[,is_cc]`` (K400 has ``is_cc`` and
  double-quotes every multi-word label, K600 neither); test files ``youtube_id,time_start,time_end,split``.
  Read with the csv module, columns by header name. Labels hold ``(``, ``)``, ``'``.
- YouTube ids may start with ``-``; times are integer seconds of the YouTube video (10-s clips).
- ``video`` is the clip as ActivityNet's Kinetics crawler writes it:
  ``<label>/<youtube_id>_<start:06d>_<end:06d>.mp4`` (test: ``test/...``); the clip is the whole
  sample, so ``start``/``stop`` are ``None`` and the source times are in ``info``.
- Classes: the lines of ``classes`` (one name per line) if given, else the sorted labels of the
  labelled files read (Kinetics' conventional alphabetical ids; pass the train file, or a class
  list, for the full label space). The id of a sample is its clip name without ``.mp4``.
"""
from __future__ import annotations

import csv
from pathlib import Path

from actattn.data.formats.base import (
    Ids, Problems, ReadResult, RowError, Sample, check_segment, class_index, lookup, parse_int, read_lines,
)

TASK = "action"


def _rows(path: Path, problems: Problems):
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file)
        header = next(reader, None) or []
        required = {"youtube_id", "time_start", "time_end", "split"}
        if not required <= set(header):
            raise ValueError(f"{path}, line 1: expected columns {sorted(required)} (and label), got {header!r}")
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.bad(path, reader.line_num, f"expected {len(header)} fields, got {len(row)}: {row!r}")
                continue
            yield reader.line_num, dict(zip(header, row)), "label" in header


def read_kinetics(*, train: str | Path | None = None, validation: str | Path | None = None,
                  test: str | Path | None = None, classes: str | Path | None = None,
                  strict: bool = True) -> ReadResult:
    """Kinetics from any of its ``kinetics-<N>_{train,val,test}.csv`` files."""
    problems = Problems(strict)
    files = {split: Path(path) for split, path in (("train", train), ("validation", validation), ("test", test))
             if path is not None}
    rows = {split: list(_rows(path, problems)) for split, path in files.items()}
    if classes is not None:
        names = [line.strip() for line in read_lines(classes) if line.strip()]
    else:
        names = sorted({row["label"].strip() for split_rows in rows.values() for _, row, labelled in split_rows
                        if labelled and row["label"].strip()})
    index = class_index(names, classes or "the labels read")
    splits = {}
    for split, path in files.items():
        samples, ids = [], Ids()
        for number, row, labelled in rows[split]:
            try:
                youtube_id = row["youtube_id"].strip()
                if not youtube_id:
                    raise RowError("empty youtube_id")
                start, end = parse_int(row["time_start"], "time_start"), parse_int(row["time_end"], "time_end")
                label = {}
                if labelled:
                    if not row["label"].strip():
                        raise RowError("empty label")
                    label = {TASK: lookup(index, row["label"].strip())}
                clip = f"{youtube_id}_{start:06d}_{end:06d}"
                ids.add(clip, f"line {number}")
            except RowError as err:
                problems.bad(path, number, str(err))
                continue
            try:
                check_segment(start, end)
            except RowError as err:
                problems.skip(path, number, str(err))
                continue
            folder = row["label"].strip() if labelled else "test"
            samples.append(Sample(clip, f"{folder}/{clip}.mp4", label,
                                  info={"youtube_id": youtube_id, "time_start": start, "time_end": end}))
        splits[split] = samples
    return problems.result("kinetics", {TASK: names}, splits)
