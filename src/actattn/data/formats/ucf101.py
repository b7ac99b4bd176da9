"""UCF101's ``ucfTrainTestlist`` (format ``ucf101``; annotations/README.md sections 5a, 11). One task, ``action``.

- ``classInd.txt``: ``<1-based id> <ClassName>``, ids 1..101 in order; indices here are ``id - 1``.
- ``trainlist0N.txt``: ``<Class>/v_<Class>_gGG_cCC.avi <id>``; ``testlist0N.txt``: the path only
  (no label): the class is the folder. A train line's id must agree with its folder.
- The folder is the class name (``HandstandPushups``) while file names may spell it differently
  (``v_HandStandPushups_g08_c01.avi``): only the folder is used. CRLF or LF endings.
- Splits ``train1``, ``test1``, ... ``train3``, ``test3`` (the N of the file name); ``video`` is the
  line's path (``UCF-101/`` root), its id the same path.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from actattn.data.formats.base import Ids, Problems, ReadResult, RowError, Sample, class_index, lookup, read_lines

TASK = "action"


def read_class_ind(path: str | Path) -> list[str]:
    """Class names of ``classInd.txt`` in id order (index = id - 1)."""
    path = Path(path)
    names = []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or fields[0] != str(len(names) + 1):
            raise ValueError(f"{path}, line {number}: expected '{len(names) + 1} <ClassName>', got {line!r}")
        names.append(fields[1])
    class_index(names, path)
    return names


def _fold(path: Path, kind: str) -> int:
    match = re.fullmatch(rf"{kind}list0?(\d+)\.txt", path.name, flags=re.IGNORECASE)
    if match is None:
        raise ValueError(f"{path}: expected a file named {kind}list0N.txt (N = 1, 2, 3)")
    return int(match.group(1))


def _as_list(paths: str | Path | Iterable[str | Path] | None) -> list[Path]:
    if paths is None:
        return []
    if isinstance(paths, (str, Path)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def read_ucf101(class_ind: str | Path, *, train: str | Path | Iterable[str | Path] | None = None,
                test: str | Path | Iterable[str | Path] | None = None, strict: bool = True) -> ReadResult:
    """UCF101 from ``classInd.txt`` and any ``trainlist0N.txt`` / ``testlist0N.txt`` files."""
    names = read_class_ind(class_ind)
    index = class_index(names, class_ind)
    problems = Problems(strict)
    splits: dict[str, list[Sample]] = {}
    for kind, paths in (("train", _as_list(train)), ("test", _as_list(test))):
        for path in paths:
            split = f"{kind}{_fold(path, kind)}"
            if split in splits:
                raise ValueError(f"{path}: split {split} is given twice")
            samples, ids = [], Ids()
            for number, line in enumerate(read_lines(path), start=1):
                if not line.strip():
                    continue
                fields = line.split()
                try:
                    if len(fields) != (2 if kind == "train" else 1):
                        expected = "'<Class>/<video>.avi <id>'" if kind == "train" else "'<Class>/<video>.avi'"
                        raise RowError(f"expected {expected}, got {line!r}")
                    video = fields[0]
                    if video.count("/") != 1:
                        raise RowError(f"path {video!r} is not <Class>/<video>")
                    label = lookup(index, video.split("/")[0], "class folder")
                    if kind == "train":
                        given = int(fields[1]) - 1 if fields[1].isdigit() else None
                        if given != label:
                            raise RowError(f"class id {fields[1]!r} disagrees with the folder "
                                           f"{video.split('/')[0]!r} (id {label + 1} in classInd)")
                    ids.add(video, f"line {number}")
                except RowError as err:
                    problems.bad(path, number, str(err))
                    continue
                samples.append(Sample(video, video, {TASK: label}))
            splits[split] = samples
    return problems.result("ucf101", {TASK: names}, dict(sorted(splits.items(), key=lambda kv: kv[0][-1])))
