"""HICO / HICO-DET image-level HOI labels (format ``hico``; hico/FORMAT.md: ``anno.mat`` is binary and
not shared). One multi-label task, ``action`` (600 HOI classes).

- ``anno.mat``: ``list_action`` (600 structs, row order = class order, fields ``nname``,
  ``vname``, ``vname_ing``, ...), ``list_train`` / ``list_test`` (image file names),
  ``anno_train`` / ``anno_test`` **classes x images** with +1 positive, -1 negative, 0 ambiguous,
  NaN unknown (no annotation; the default evaluation counts it negative).
- ``labels["action"]`` the +1 classes; ``ambiguous["action"]`` the 0 classes, kept apart from the
  negatives (-1 and NaN). Any other value is an error naming the image and the class.
- Class names ``"<nname> <vname_ing>"`` (``"airplane boarding"``), as the benchmark's ``eval_vo.m``
  names them. Splits ``train``, ``test``; the id is the image name, ``video``
  ``images/train2015/<name>`` or ``images/test2015/<name>``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from actattn.data.formats.base import Ids, Problems, ReadResult, RowError, Sample, class_index
from actattn.data.formats.mat import items, load_mat, text

TASK = "action"


def read_hico(path: str | Path, *, strict: bool = True) -> ReadResult:
    """HICO's (or HICO-DET's) ``anno.mat``."""
    path = Path(path)
    data = load_mat(path, "list_action", "list_train", "list_test", "anno_train", "anno_test")
    names = []
    for k, action in enumerate(items(data["list_action"]), start=1):
        try:
            names.append(f"{text(action.nname)} {text(action.vname_ing)}")
        except (AttributeError, ValueError) as err:
            raise ValueError(f"{path}: list_action({k}) lacks a name ({err})") from None
    class_index(names, path)
    problems = Problems(strict)
    splits = {}
    for split in ("train", "test"):
        images = [text(name) for name in items(data[f"list_{split}"])]
        anno = np.asarray(data[f"anno_{split}"], dtype=np.float64)
        if anno.ndim < 2 and anno.size == len(names) * len(images):  # loadmat squeezed a 1-image or 1-class matrix
            anno = anno.reshape(len(names), len(images))
        if anno.shape != (len(names), len(images)):
            raise ValueError(f"{path}: anno_{split} has shape {anno.shape}, expected ({len(names)}, {len(images)}) "
                             f"(classes x images of list_{split})")
        samples, ids = [], Ids()
        for j, image in enumerate(images):
            item = f"list_{split}({j + 1})"
            column = anno[:, j]
            try:
                if not image:
                    raise RowError("empty image name")
                known = ~np.isnan(column)
                odd = known & ~np.isin(column, (1.0, 0.0, -1.0))
                if odd.any():
                    k = int(np.flatnonzero(odd)[0])
                    raise RowError(f"image {image}: label {column[k]} for class {k} ({names[k]!r}) is not "
                                   "+1, -1, 0 or NaN")
                ids.add(image, item)
            except RowError as err:
                problems.bad(path, None, str(err), item)
                continue
            samples.append(Sample(image, f"images/{split}2015/{image}",
                                  {TASK: tuple(int(k) for k in np.flatnonzero(column == 1.0))},
                                  ambiguous={TASK: tuple(int(k) for k in np.flatnonzero(column == 0.0))}))
        splits[split] = samples
    return problems.result("hico", {TASK: names}, splits, multi_label=[TASK])
