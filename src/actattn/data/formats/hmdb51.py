"""HMDB51's official split files (format ``hmdb51``; annotations/README.md section 10, hmdb51/FORMAT.md).
One task, ``action``.

- 153 files ``<class>_test_split<N>.txt`` (51 classes x folds 1-3); the class is the file name
  before ``_test_split`` (class names hold ``_``: ``brush_hair``).
- Lines ``<video>.avi <tag> `` with a **trailing space**; split on whitespace. Tag 1 = train,
  2 = test, 0 = not used in that fold (not read). The video names hold ``! # & ( ) + - ; @ [ ] ~``.
- Classes are the sorted class names of the files given (torchvision's order over the class
  folders); every fold read must cover the same classes. Pass all 153 files for the 51 classes.
- Splits ``train1``, ``test1``, ... ``train3``, ``test3``; ``video`` is ``<class>/<video>.avi``
  (the class folders of ``hmdb51_org``), also the sample's id.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from actattn.data.formats.base import Ids, Problems, ReadResult, RowError, Sample, read_lines

TASK = "action"
TAGS = {"1": "train", "2": "test"}


def split_file_class(path: str | Path) -> tuple[str, int]:
    """``brush_hair_test_split2.txt`` -> ``("brush_hair", 2)``."""
    match = re.fullmatch(r"(.+)_test_split([123])\.txt", Path(path).name)
    if match is None:
        raise ValueError(f"{path}: expected a file named <class>_test_split<1|2|3>.txt")
    return match.group(1), int(match.group(2))


def read_hmdb51(split_files: Iterable[str | Path], *, strict: bool = True) -> ReadResult:
    """HMDB51 from its ``<class>_test_split<N>.txt`` files (any folds; each fold all classes)."""
    files = sorted((split_file_class(path), Path(path)) for path in split_files)
    if not files:
        raise ValueError("no HMDB51 split files given")
    classes_of_fold: dict[int, set[str]] = {}
    for (name, fold), path in files:
        if name in classes_of_fold.setdefault(fold, set()):
            raise ValueError(f"{path}: class {name!r} fold {fold} is given twice")
        classes_of_fold[fold].add(name)
    names = sorted(set().union(*classes_of_fold.values()))
    for fold, present in sorted(classes_of_fold.items()):
        if present != set(names):
            missing = sorted(set(names) - present)
            raise ValueError(f"HMDB51 fold {fold} lacks the split files of classes {missing[:5]} "
                             f"({len(missing)} of {len(names)}); give every class's file for each fold read")
    index = {name: i for i, name in enumerate(names)}
    problems = Problems(strict)
    splits: dict[str, list[Sample]] = {f"{kind}{fold}": [] for fold in sorted(classes_of_fold)
                                       for kind in ("train", "test")}
    ids = {fold: Ids() for fold in classes_of_fold}
    for (name, fold), path in files:
        for number, line in enumerate(read_lines(path), start=1):
            if not line.strip():
                continue
            fields = line.split()
            try:
                if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                    raise RowError(f"expected '<video>.avi <0|1|2>', got {line!r}")
                video = f"{name}/{fields[0]}"
                ids[fold].add(video, f"{path.name} line {number}")
            except RowError as err:
                problems.bad(path, number, str(err))
                continue
            if fields[1] in TAGS:
                splits[f"{TAGS[fields[1]]}{fold}"].append(Sample(video, video, {TASK: index[name]}))
    return problems.result("hmdb51", {TASK: names}, splits)
