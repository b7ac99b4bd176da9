"""Hollywood2 ClipSets (format ``hollywood2``; hollywood2/FORMAT.md: no real copy found). One
multi-label task: ``action`` (12 classes, ``ClipSets/``) or ``scene`` (10, ``ClipSetsScenes/``).

- One file per (class, group): ``<Class>_<group>.txt``, group ``train``, ``test`` or ``autotrain``
  (noisy, automatically labelled); the class is the name before the last ``_`` (scene classes
  hold ``-``: ``INT-living-room``). Files named ``actions_<group>.txt`` / ``scenes_<group>.txt``
  (the clip lists) are not class files and are ignored.
- Lines ``<clip> <1|-1>`` with any whitespace between (positives may be padded to align with
  ``-1``). Every clip of a group must be in every class file of that group.
- Classes are the sorted names of the class files given (the official lists are alphabetical);
  the task is ``scene`` when they are all scene names, else ``action``. Splits are the groups;
  ``video`` is ``AVIClips/<clip>.avi`` (``AVIClipsScenes/`` for scenes), the id the clip name.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from actattn.data.formats.base import Problems, ReadResult, RowError, Sample, read_lines

ACTIONS = ["AnswerPhone", "DriveCar", "Eat", "FightPerson", "GetOutCar", "HandShake", "HugPerson", "Kiss", "Run",
           "SitDown", "SitUp", "StandUp"]
SCENES = ["EXT-house", "EXT-road", "INT-bedroom", "INT-car", "INT-hotel", "INT-kitchen", "INT-living-room",
          "INT-office", "INT-restaurant", "INT-shop"]
GROUPS = ("train", "test", "autotrain")


def clipset_class(path: str | Path) -> tuple[str, str] | None:
    """``AnswerPhone_train.txt`` -> ``("AnswerPhone", "train")``; None for ``actions_train.txt``."""
    stem = Path(path).stem
    name, _, group = stem.rpartition("_")
    if group not in GROUPS or not name:
        raise ValueError(f"{path}: expected a ClipSets file named <Class>_<train|test|autotrain>.txt")
    return None if name in ("actions", "scenes") else (name, group)


def read_hollywood2(clipsets: Iterable[str | Path], *, strict: bool = True) -> ReadResult:
    """Hollywood2 from its ``ClipSets/<Class>_<group>.txt`` (or ``ClipSetsScenes/``) files."""
    files = {}
    for path in map(Path, clipsets):
        key = clipset_class(path)
        if key is None:
            continue
        if key in files:
            raise ValueError(f"{path}: class {key[0]} group {key[1]} is given twice")
        files[key] = path
    if not files:
        raise ValueError("no Hollywood2 ClipSets class files given")
    names = sorted({name for name, _ in files})
    task = "scene" if set(names) <= set(SCENES) else "action"
    index = {name: i for i, name in enumerate(names)}
    problems = Problems(strict)
    groups = [g for g in GROUPS if any(group == g for _, group in files)]
    splits: dict[str, list[Sample]] = {}
    for group in groups:
        missing = [name for name in names if (name, group) not in files]
        if missing:
            raise ValueError(f"Hollywood2 group {group!r} lacks the ClipSets files of {missing}")
        positives: dict[str, set[int]] = {}
        order: list[str] = []
        for name in names:
            path, seen = files[(name, group)], set()
            for number, line in enumerate(read_lines(path), start=1):
                if not line.strip():
                    continue
                fields = line.split()
                try:
                    if len(fields) != 2 or fields[1] not in ("1", "-1"):
                        raise RowError(f"expected '<clip> <1|-1>', got {line!r}")
                    if fields[0] in seen:
                        raise RowError(f"clip {fields[0]!r} occurs twice")
                    if name != names[0] and fields[0] not in positives:
                        raise RowError(f"clip {fields[0]!r} is not in {files[(names[0], group)].name}")
                except RowError as err:
                    problems.bad(path, number, str(err))
                    continue
                seen.add(fields[0])
                if name == names[0]:
                    positives[fields[0]] = set()
                    order.append(fields[0])
                if fields[1] == "1":
                    positives[fields[0]].add(index[name])
            absent = [clip for clip in order if clip not in seen]
            if absent:
                problems.bad(path, None, f"{len(absent)} clips of {files[(names[0], group)].name} are missing, "
                                         f"first {absent[0]!r}")
        folder = "AVIClipsScenes" if task == "scene" else "AVIClips"
        splits[group] = [Sample(clip, f"{folder}/{clip}.avi", {task: tuple(sorted(positives[clip]))})
                         for clip in order]
    return problems.result("hollywood2", {task: names}, splits, multi_label=[task])
