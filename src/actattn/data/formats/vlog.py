"""VLOG's hand-object contact labels (format ``vlog``; annotations/README.md section 12, vlog/FORMAT.md).
One multi-label task, ``action``: the 30 objects of ``hand_object_labels.txt``.

- ``manifest.txt``: one clip folder per line, ``X/Y/Z/v_<id>/<clip>/`` (trailing slash); the
  path is taken as written (the README's rule for ``X/Y/Z`` fails for ids with ``.`` or ``_``).
- ``splitId.txt``: line i is the split of manifest line i: 0 test, 1-3 trainval. As the ORN
  authors' loader (``loader/vlog.py``): 1 and 2 -> ``train``, 3 -> ``validation``, 0 -> ``test``.
- ``hand_object/hand_object.npy``: ``N x 30``, row i for manifest line i: 1 contact, -1 none,
  0 inconclusive (the toolkit's evaluation leaves these out) -> ``Sample.ambiguous``.
- ``hand_object_labels.txt`` has no final newline. ``video`` is ``<clip folder>/clip.mp4``; the id
  is the clip folder without its trailing slash.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from actattn.data.formats.base import Ids, Problems, ReadResult, RowError, Sample, class_index, read_lines

TASK = "action"
SPLITS = {0: "test", 1: "train", 2: "train", 3: "validation"}


def read_vlog(manifest: str | Path, split_ids: str | Path, labels: str | Path, hand_object: str | Path, *,
              strict: bool = True) -> ReadResult:
    """VLOG hand-object from ``manifest.txt``, ``splitId.txt``, ``hand_object_labels.txt`` and ``hand_object.npy``."""
    manifest, split_ids, labels, hand_object = map(Path, (manifest, split_ids, labels, hand_object))
    names = [line.strip() for line in read_lines(labels) if line.strip()]
    class_index(names, labels)
    clips = read_lines(manifest)
    split_lines = read_lines(split_ids)
    if len(split_lines) != len(clips):
        raise ValueError(f"{split_ids}: {len(split_lines)} lines, but {manifest} has {len(clips)}; they must align")
    matrix = np.load(hand_object, allow_pickle=False)
    if matrix.shape != (len(clips), len(names)):
        raise ValueError(f"{hand_object}: shape {matrix.shape}, expected ({len(clips)}, {len(names)}) "
                         f"(manifest lines x classes of {labels.name})")
    if not np.isin(matrix, (-1, 0, 1)).all():
        raise ValueError(f"{hand_object}: values must be 1, 0 (inconclusive) or -1")
    problems = Problems(strict)
    splits: dict[str, list[Sample]] = {"train": [], "validation": [], "test": []}
    ids = Ids()
    for number, (clip, split_text) in enumerate(zip(clips, split_lines), start=1):
        try:
            folder = clip.strip()
            if not folder.endswith("/") or folder.count("/") != 5:
                raise RowError(f"{manifest.name}: expected 'X/Y/Z/v_<id>/<clip>/', got {clip!r}")
            if split_text.strip() not in ("0", "1", "2", "3"):
                raise RowError(f"{split_ids.name}: split id {split_text!r} is not 0, 1, 2 or 3")
            sample_id = folder.rstrip("/")
            ids.add(sample_id, f"line {number}")
        except RowError as err:
            problems.bad(manifest, number, str(err))
            continue
        row = matrix[number - 1]
        splits[SPLITS[int(split_text)]].append(Sample(
            sample_id, f"{folder}clip.mp4", {TASK: tuple(int(i) for i in np.flatnonzero(row == 1))},
            ambiguous={TASK: tuple(int(i) for i in np.flatnonzero(row == 0))}))
    return problems.result("vlog", {TASK: names}, splits, multi_label=[TASK])
