"""A video list as a plain CSV file of ``path,label`` rows, and a dataset over it.

- The header row ``path,label`` is optional.
- ``label`` is a class id (an integer) or, given ``class_names``, a class name; for multi-label
  sets (HICO) several, separated by ``;`` (``img.jpg,3;17;250``), read as a multi-hot vector.
  A multi-label token with a leading ``?`` marks the class ambiguous (``img.jpg,3;17;?250``):
  HICO's 0 labels, which its official evaluation leaves out. The vector is 1 at the positives,
  -1 at the ambiguous classes and 0 elsewhere (HICO's -1 and its unannotated NaN labels are
  negatives, as in its default evaluation); training masks the -1 entries out of the loss and the
  mAP (:mod:`actattn.train`).
- A relative ``path`` is taken relative to ``root`` if given, otherwise to the CSV's folder.
"""
from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from actattn.data.sampling import ClipDataset, ClipRecord

if TYPE_CHECKING:
    from actattn.data.objects import ObjectSource

AMBIGUOUS = "?"  # prefix of an ambiguous class in a multi-label row


@dataclass(frozen=True)
class MultiLabel:
    """The labels of a multi-label row: its positive class ids and its ambiguous ones."""

    positive: tuple[int, ...]
    ambiguous: tuple[int, ...] = ()


def _parse_label(text: str, class_index: dict[str, int] | None) -> int:
    text = text.strip()
    if text.lstrip("-").isdigit():
        label = int(text)
        if label < 0 or (class_index is not None and label >= len(class_index)):
            limit = "" if class_index is None else f" below {len(class_index)}"
            raise ValueError(f"class id {label} must be non-negative{limit}")
        return label
    if class_index is None:
        raise ValueError(f"label {text!r} is not an integer id (pass class_names to use class names)")
    if text not in class_index:
        raise ValueError(f"unknown class name {text!r}")
    return class_index[text]


def _parse_labels(text: str, class_index: dict[str, int] | None, multi_label: bool) -> int | MultiLabel:
    parts = [part.strip() for part in text.split(";") if part.strip()]
    if not multi_label:
        if len(parts) > 1:
            raise ValueError(f"several labels {text!r} in a single-label list (use multi_label)")
        if text.strip().startswith(AMBIGUOUS):
            raise ValueError(f"ambiguous label {text!r} in a single-label list (use multi_label)")
        return _parse_label(text, class_index)
    if AMBIGUOUS in parts:
        raise ValueError(f"{AMBIGUOUS!r} without a class in {text!r}")
    positive = tuple(_parse_label(part, class_index) for part in parts if not part.startswith(AMBIGUOUS))
    ambiguous = tuple(_parse_label(part[1:], class_index) for part in parts if part.startswith(AMBIGUOUS))
    both = sorted(set(positive) & set(ambiguous))
    if both:
        raise ValueError(f"classes {both} are both positive and ambiguous in {text!r}")
    return MultiLabel(positive, ambiguous)


def read_csv_list(
    path: str | Path,
    *,
    class_names: Sequence[str] | None = None,
    root: str | Path | None = None,
    multi_label: bool = False,
) -> list[tuple[Path, int | MultiLabel]]:
    """``(video path, class id or MultiLabel)`` per row; a malformed row raises ValueError naming file and line."""
    path = Path(path)
    base = Path(root) if root is not None else path.parent
    class_index = None if class_names is None else {name: i for i, name in enumerate(class_names)}
    rows = []
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if not rows and [cell.strip().lower() for cell in row] == ["path", "label"]:
                continue
            try:
                if len(row) != 2:
                    raise ValueError(f"expected 2 fields 'path,label', got {len(row)}: {row!r}")
                if not row[0].strip():
                    raise ValueError("empty path")
                label = _parse_labels(row[1], class_index, multi_label)
            except ValueError as err:
                raise ValueError(f"{path}, line {reader.line_num}: {err}") from None
            rows.append((base / row[0].strip(), label))
    return rows


def max_label(label: int | MultiLabel) -> int:
    """The largest class id of a row's label(s), ambiguous ones included."""
    if isinstance(label, MultiLabel):
        return max(label.positive + label.ambiguous, default=-1)
    return label


def multi_hot(labels: MultiLabel, num_classes: int) -> np.ndarray:
    """``(K,)`` float32: 1 at the positives, -1 at the ambiguous classes, 0 elsewhere."""
    vector = np.zeros(num_classes, np.float32)
    vector[list(labels.positive)] = 1.0
    vector[list(labels.ambiguous)] = -1.0
    return vector


class CsvVideoList(ClipDataset):
    """The videos of a ``path,label`` CSV file with TSN sampling.

    ``class_names`` (if given) names the classes and allows names in the label column; otherwise
    labels are integer ids and ``class_names`` is ``["0", "1", ...]`` up to the largest id.
    ``multi_label`` reads ``;``-separated labels as a multi-hot ``(K,)`` float32 label (-1 marks
    an ambiguous class, see the module docstring).
    ``keypoints_dir`` adds ``"keypoints"`` from ``keypoints_dir/{video stem}.npz``, the cache that
    ``actattn keypoints`` (torchvision's Keypoint R-CNN) writes. ``object_source`` gives each
    sample the instances of its frames (:mod:`actattn.data.objects`, keyed by the video's stem).
    See :class:`~actattn.data.sampling.ClipDataset` for the sample and the bad-video behaviour.
    """

    def __init__(
        self,
        csv_file: str | Path,
        *,
        class_names: Sequence[str] | None = None,
        root: str | Path | None = None,
        num_segments: int = 8,
        train: bool,
        transform: Callable[[dict, np.random.Generator | None], dict],
        seed: int = 0,
        skip_bad_videos: bool = False,
        clip_stride: int | None = None,
        multi_label: bool = False,
        keypoints_dir: str | Path | None = None,
        object_source: ObjectSource | None = None,
        num_clips: int = 1,
    ):
        rows = read_csv_list(csv_file, class_names=class_names, root=root, multi_label=multi_label)
        if class_names is None:
            class_names = [str(i) for i in range(max((max_label(label) for _, label in rows), default=-1) + 1)]
        self.class_names = list(class_names)
        if multi_label:
            rows = [(video, multi_hot(label, len(self.class_names))) for video, label in rows]
        super().__init__(
            [ClipRecord(video, label, None if keypoints_dir is None else Path(keypoints_dir) / f"{video.stem}.npz")
             for video, label in rows],
            num_segments=num_segments,
            train=train,
            transform=transform,
            seed=seed,
            skip_bad_videos=skip_bad_videos,
            clip_stride=clip_stride,
            object_source=object_source,
            num_clips=num_clips,
        )
