"""Something-Something V2: the label and split JSON files, and a dataset over the videos.

Format (annotations/README.md section 1):
- ``something-something-v2-labels.json`` maps class name -> id **as a string** (``"...": "0"``);
- a split file is a JSON list of entries ``{"id": "74225", "label": "...", "template":
  "Spinning [something] ...", "placeholders": ["cube"]}``; ``id`` is a string; the class name is
  the template without brackets; the test split has only ``id``;
- files are UTF-8 (one non-ASCII label) with CRLF line endings.

SynthHOI scenes are written in the same layout (``videos/{id}.mp4``, ``groundtruth/{id}.npz``).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from actattn.data.sampling import ClipDataset, ClipRecord
from actattn.files import read_json

if TYPE_CHECKING:
    from actattn.data.objects import ObjectSource
    from actattn.data.ssv2_objects import ObjectVocabulary


@dataclass(frozen=True)
class Entry:
    """One entry of a split file; ``label`` and ``template`` are ``None`` in the test split."""

    id: str
    label: int | None
    template: str | None
    placeholders: list[str] = field(default_factory=list)


def class_name(template: str) -> str:
    """``"Putting [something] on [something]"`` -> ``"Putting something on something"``."""
    return template.replace("[", "").replace("]", "")


def release_file(root: str | Path, name: str) -> Path:
    """``root/something-something-v2-{name}.json``, the release's name for the labels (``name``
    "labels") and for each split ("train", "validation", "test")."""
    return Path(root) / f"something-something-v2-{name}.json"


def read_labels(path: str | Path) -> dict[str, int]:
    """Class name -> id from ``something-something-v2-labels.json`` (ids stored as strings).

    The ids must be exactly ``0 .. K-1``.
    """
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object mapping class name to id, got {type(data).__name__}")
    labels = {}
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip().isdigit():
            raise ValueError(f"{path}: class {name!r} has id {value!r}, expected a non-negative integer")
        labels[name] = int(value)
    if sorted(labels.values()) != list(range(len(labels))):
        raise ValueError(f"{path}: class ids must be 0..{len(labels) - 1}, each once")
    return labels


def _parse_entry(item: object, labels: dict[str, int]) -> Entry:
    """One split entry; raises ValueError saying what is wrong with it."""
    if not isinstance(item, dict):
        raise ValueError(f"expected an object, got {type(item).__name__}")
    entry_id = item.get("id")
    if not isinstance(entry_id, str) or not entry_id:
        raise ValueError(f"'id' must be a non-empty string, got {entry_id!r}")
    placeholders = item.get("placeholders", [])
    if not isinstance(placeholders, list) or not all(isinstance(p, str) for p in placeholders):
        raise ValueError(f"id {entry_id}: 'placeholders' must be a list of strings, got {placeholders!r}")
    if "template" not in item:
        return Entry(entry_id, None, None, placeholders)
    template = item["template"]
    if not isinstance(template, str):
        raise ValueError(f"id {entry_id}: 'template' must be a string, got {template!r}")
    if class_name(template) not in labels:
        raise ValueError(f"id {entry_id}: unknown template {template!r} (no class {class_name(template)!r})")
    return Entry(entry_id, labels[class_name(template)], template, placeholders)


def read_split(path: str | Path, labels: dict[str, int], *, skip_malformed: bool = False) -> list[Entry]:
    """Entries of a split file (train, validation or test); ``labels`` from :func:`read_labels`.

    Either every entry has a template (labelled split) or none has (test split). A malformed
    entry raises ValueError naming the file, the entry's 0-based position and the problem;
    with ``skip_malformed`` such entries are dropped with one warning giving their count.
    """
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of entries, got {type(data).__name__}")
    entries, problems = [], []
    for position, item in enumerate(data):
        try:
            entry = _parse_entry(item, labels)
            if entries and (entry.label is None) != (entries[0].label is None):
                kind = "has no template" if entry.label is None else "has a template"
                raise ValueError(f"id {entry.id}: {kind}, unlike the first entry (labelled and test entries mixed)")
        except ValueError as err:
            problem = f"{path}: entry {position} (0-based): {err}"
            if not skip_malformed:
                raise ValueError(problem) from None
            problems.append(problem)
            continue
        entries.append(entry)
    if problems:
        warnings.warn(f"{path}: skipped {len(problems)} malformed entries; first: {problems[0]}", stacklevel=2)
    return entries


class SomethingSomethingV2(ClipDataset):
    """Something-Something V2 videos ``video_dir/{id}{video_ext}`` with TSN sampling.

    With ``keypoints`` each sample also carries ``"keypoints"`` ``(T, J, 3)``, read from
    ``groundtruth_dir/{id}.npz["keypoints"]`` (pixels of the original frames, SynthHOI layout)
    at the sampled frames and transformed with them. With ``objects`` (an object vocabulary, see
    :mod:`actattn.data.ssv2_objects`) each sample carries ``"objects"``: the placeholders'
    cluster ids (first, second or null). ``object_source`` gives each sample the instances of its
    frames (:mod:`actattn.data.objects`, keyed by ``id``). ``class_names[i]`` is class ``i``'s name.
    See :class:`~actattn.data.sampling.ClipDataset` for the sample and the bad-video behaviour.
    """

    def __init__(
        self,
        annotation_file: str | Path,
        labels_file: str | Path,
        video_dir: str | Path,
        *,
        num_segments: int = 8,
        train: bool,
        transform: Callable[[dict, np.random.Generator | None], dict],
        video_ext: str = ".webm",
        keypoints: bool = False,
        groundtruth_dir: str | Path | None = None,
        seed: int = 0,
        skip_bad_videos: bool = False,
        clip_stride: int | None = None,
        objects: ObjectVocabulary | None = None,
        object_source: ObjectSource | None = None,
        num_clips: int = 1,
    ):
        if keypoints and groundtruth_dir is None:
            raise ValueError("keypoints=True needs groundtruth_dir (the folder of {id}.npz files)")
        labels = read_labels(labels_file)
        self.class_names = sorted(labels, key=labels.__getitem__)
        self.entries = read_split(annotation_file, labels)
        video_dir = Path(video_dir)
        records = [
            ClipRecord(
                video_dir / f"{entry.id}{video_ext}",
                entry.label,
                Path(groundtruth_dir) / f"{entry.id}.npz" if keypoints else None,
                objects.labels(entry.placeholders) if objects is not None else None,
            )
            for entry in self.entries
        ]
        super().__init__(
            records,
            num_segments=num_segments,
            train=train,
            transform=transform,
            seed=seed,
            skip_bad_videos=skip_bad_videos,
            clip_stride=clip_stride,
            object_source=object_source,
            num_clips=num_clips,
        )
