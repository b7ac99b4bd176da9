"""From a dataset's official files to the data module's clip records, for every format of
:data:`actattn.data.formats.FORMATS`.

- Files: ``files`` maps each of the reader's file roles (``actattn data inspect --help`` lists
  them; e.g. epic55 ``labels``, ``verb_classes``, ``noun_classes``, ``video_info``) to a path; a
  role that takes several files (HMDB51's ``split_files``, Hollywood2's ``clipsets``) takes a
  list or a glob pattern. ``options`` are the reader's other keywords (``train_participants``
  for EPIC-55, ``ids`` for Something-Else). ``strict=False`` makes bad rows counted skips.
- Stages: ``train``/``val``/``test`` read the reader's splits :func:`default_stages` names
  (``split: N`` picks HMDB51/UCF101's ``trainN``/``testN``), or those ``splits`` maps them to.
- Labels: the ``task``'s (default: the reader's first, EPIC ``verb``); a multi-label task becomes
  a multi-hot vector, 1 positive, -1 ambiguous (HICO's 0, VLOG's inconclusive), 0 negative; an
  unlabelled sample (a test split) ``None``.
- Videos (:func:`locate`): ``video_dir/<video>`` (or the same with ``video_ext`` as its suffix,
  or a frame folder of that name without its suffix); with ``frames_dir`` the frame folder
  ``frames_dir/<info frame_folder>`` (EPIC's layout), ``frames_dir/<video without suffix>`` or
  ``frames_dir/<video stem>``. Missing videos are counted (:class:`Stage` ``missing``).
- Segments: ``start``/``stop`` seconds and EPIC's 1-based frames travel in the record; a frame
  folder's extraction rate is ``frame_rate`` if given, else the reader's ``info["frame_rate"]``
  (EPIC: 60, 50 for EPIC-100's extension). See :func:`actattn.data.frames.read_source`.
- Objects (``object_source``) are found by the video's file stem; where stems repeat within a
  stage (VLOG's ``<clip folder>/clip.mp4``) by the sample id with ``/`` as ``_``
  (``O_5_E_v_vAqaXZuAO5E_075``): name the detection caches so.
"""
from __future__ import annotations

import glob
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import numpy as np

from actattn.data.formats import FORMATS, ReadResult, Sample
from actattn.data.sampling import ClipRecord

STAGES = ("train", "val", "test")


def sample_key(sample_id: str) -> str:
    """A format sample's name in the project's files: its id with ``/`` as ``_`` (VLOG's and VOC's
    ids hold a ``/``): its feature map (``actattn extract``), its conjugate-cache key, its objects
    where video stems repeat."""
    return sample_id.replace("/", "_")


def read_format(format: str, files: Mapping[str, str | Sequence[str]], *, options: Mapping | None = None,
                strict: bool = True) -> ReadResult:
    """Run ``format``'s reader on ``files`` (role -> path, list or glob pattern) and ``options``."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {format!r}")
    spec = FORMATS[format]
    roles = {role.keyword: role for role in spec.roles}
    unknown = sorted(set(files) - set(roles))
    if unknown:
        raise ValueError(f"format {format!r} has no file role {unknown[0]!r}; its roles: {list(roles)}")
    missing = [role.keyword for role in spec.roles if role.required and role.keyword not in files]
    if missing:
        raise ValueError(f"format {format!r} needs files for the roles {missing} (data.files)")
    kwargs: dict[str, object] = {}
    for name, value in files.items():
        if roles[name].many:
            paths = [value] if isinstance(value, str) else list(value)
            expanded = [match for path in paths for match in (sorted(glob.glob(path)) if glob.has_magic(path)
                                                               else [path])]
            if not expanded:
                raise ValueError(f"data.files.{name}: no file matches {value!r}")
            kwargs[name] = [Path(path) for path in expanded]
        elif not isinstance(value, str):
            raise ValueError(f"data.files.{name} takes one file, got {value!r}")
        else:
            kwargs[name] = Path(value)
    for name, path in kwargs.items():
        for one in path if isinstance(path, list) else [path]:
            if not one.exists():
                raise FileNotFoundError(f"data.files.{name}: {one} does not exist")
    if "strict" in inspect.signature(spec.reader).parameters:
        kwargs["strict"] = strict
    return spec.reader(**kwargs, **dict(options or {}))


def _labelled(samples: Sequence[Sample]) -> bool:
    return any(sample.labels for sample in samples)


def default_stages(result: ReadResult, split: int | None = None) -> dict[str, str | None]:
    """The reader's split each stage reads: ``train``; ``val`` the ``validation`` split (else a
    labelled ``test``); ``test`` a labelled ``test`` split, else ``validation`` (SSv2, Kinetics,
    ActivityNet and EPIC publish no test labels). ``split`` N (HMDB51, UCF101): ``trainN`` and ``testN``."""
    names = result.splits
    if split is not None:
        train, test = f"train{split}", f"test{split}"
        if train not in names and test not in names:
            raise ValueError(f"split {split}: the {result.format} files read have no {train}/{test} "
                             f"(splits: {list(names)})")
        return {"train": train if train in names else None, "val": test if test in names else None,
                "test": test if test in names else None}
    if {"train", "validation", "test"}.isdisjoint(names):
        numbered = sorted(name for name in names if name[-1:].isdigit())
        if numbered:  # HMDB51 / UCF101 without `split`: the first fold
            return default_stages(result, int(numbered[0][-1]))
    labelled_test = "test" if "test" in names and _labelled(names["test"]) else None
    validation = "validation" if "validation" in names else None
    train = next((name for name in ("train", "trainval") if name in names), None)  # VOC's trainval
    return {"train": train, "val": validation or labelled_test,
            "test": labelled_test or validation}


def locate(sample: Sample, video_dir: Path | None, frames_dir: Path | None, video_ext: str | None) -> tuple[Path, bool]:
    """Where ``sample``'s video is (see the module docstring), and whether it exists; a missing one
    is reported at its first candidate."""
    video = PurePosixPath(sample.video)
    bare = video.with_suffix("") if video.suffix else video
    if frames_dir is not None:
        folder = sample.info.get("frame_folder")
        names = [folder] if isinstance(folder, str) else []
        candidates = [frames_dir / name for name in [*names, str(bare), bare.name]]
        return next(((path, True) for path in candidates if path.is_dir()), (candidates[0], False))
    if video_dir is None:
        raise ValueError("the format's samples need video_dir (videos, images or frame folders) or frames_dir")
    path = video_dir / str(video)
    candidates = [path] + ([path.with_suffix(video_ext)] if video_ext else []) + [video_dir / str(bare)]
    return next(((path, True) for path in candidates if path.exists()), (candidates[0], False))


def sample_label(sample: Sample, task: str, multi_label: bool, num_classes: int) -> int | np.ndarray | None:
    """A class id, a multi-hot ``(K,)`` float32 vector (1 positive, -1 ambiguous, 0 negative) or None (unlabelled)."""
    if task not in sample.labels:
        return None
    value = sample.labels[task]
    if not multi_label:
        return int(value)  # type: ignore[arg-type]
    vector = np.zeros(num_classes, np.float32)
    vector[list(value)] = 1.0  # type: ignore[arg-type]
    vector[list(sample.ambiguous.get(task, ()))] = -1.0
    return vector


@dataclass
class Stage:
    """One stage's records, the reader's split they come from, and the samples whose video is missing."""

    split: str
    samples: list[Sample]
    records: list[ClipRecord]
    missing: list[tuple[str, Path]] = field(default_factory=list)


@dataclass
class FormatData:
    """What the data module reads from a format: the task's classes and each stage's records."""

    result: ReadResult
    task: str
    stages: dict[str, Stage]

    @property
    def class_names(self) -> list[str]:
        return list(self.result.tasks[self.task])

    @property
    def multi_label(self) -> bool:
        return self.task in self.result.multi_label


def read_stages(format: str, files: Mapping[str, str | Sequence[str]], *, task: str | None = None,
                split: int | None = None, splits: Mapping[str, str | None] | None = None,
                options: Mapping | None = None, strict: bool = True) -> tuple[ReadResult, str, dict[str, str]]:
    """Read the files: what was read, the task to learn and the reader's split of each stage that
    reads one (module docstring); the videos are not looked for."""
    result = read_format(format, files, options=options, strict=strict)
    task = task if task is not None else next(iter(result.tasks))
    if task not in result.tasks:
        raise ValueError(f"format {format!r} has the tasks {list(result.tasks)}, not {task!r} (data.task)")
    stages = default_stages(result, split)
    for stage, name in (splits or {}).items():
        if stage not in STAGES:
            raise ValueError(f"data.splits: {stage!r} is not a stage ({list(STAGES)})")
        if name is not None and name not in result.splits:
            raise ValueError(f"data.splits.{stage}: the {format} files read have no split {name!r} "
                             f"(splits: {list(result.splits)})")
        stages[stage] = name
    return result, task, {stage: name for stage, name in stages.items() if name is not None}


def load_format(format: str, files: Mapping[str, str | Sequence[str]], *, task: str | None = None,
                split: int | None = None, splits: Mapping[str, str | None] | None = None,
                options: Mapping | None = None, strict: bool = True, video_dir: str | Path | None = None,
                frames_dir: str | Path | None = None, video_ext: str | None = None,
                frame_rate: float | None = None, keypoints_dir: str | Path | None = None) -> FormatData:
    """Read the files and build every stage's records (module docstring)."""
    result, task, stages = read_stages(format, files, task=task, split=split, splits=splits, options=options,
                                       strict=strict)
    multi_label = task in result.multi_label
    num_classes = len(result.tasks[task])
    video_root = Path(video_dir) if video_dir is not None else None
    frames_root = Path(frames_dir) if frames_dir is not None else None
    built: dict[str, Stage] = {}
    for stage, name in stages.items():
        built[stage] = Stage(name, [], [])
        for sample in result.splits[name]:
            path, exists = locate(sample, video_root, frames_root, video_ext)
            if not exists:
                built[stage].missing.append((sample.id, path))
                continue
            rate = frame_rate if frame_rate is not None else sample.info.get("frame_rate")
            segment = (sample.start, sample.stop) if sample.start is not None and sample.stop is not None else None
            record = ClipRecord(path, sample_label(sample, task, multi_label, num_classes),
                                Path(keypoints_dir) / f"{path.stem}.npz" if keypoints_dir is not None else None,
                                segment=segment, frames=sample.frames if path.is_dir() else None,
                                frame_rate=float(rate) if isinstance(rate, (int, float)) else None)
            built[stage].samples.append(sample)
            built[stage].records.append(record)
        records = built[stage].records
        if len({record.path.stem for record in records}) < len({record.path for record in records}):
            # VLOG: every clip is clip.mp4; objects are then found by the sample id, '/' as '_'
            built[stage].records = [replace(record, key=sample_key(sample.id))
                                    for record, sample in zip(records, built[stage].samples)]
    return FormatData(result, task, built)
