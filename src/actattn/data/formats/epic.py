"""EPIC-KITCHENS-55 and EPIC-KITCHENS-100 action segments (formats ``epic55``, ``epic100``), and the
EPIC-KITCHENS-100 action-recognition challenge's submission JSON.

Tasks ``verb``, ``noun`` and ``action``: the class CSVs give verbs and nouns (their ``class_key``
/ ``key`` as names); an action is a (verb, noun) pair, ``action = verb * len(nouns) + noun`` over
every pair (named ``"verb noun"``), so its index never depends on which files were read.

Format (annotations/README.md sections 2, 2b, 13):
- timestamps ``HH:MM:SS.ss`` (2 decimals; 3 in narration timestamps) -> ``start``/``stop`` seconds;
- ``start_frame``/``stop_frame`` are **1-based** frame numbers of the frames as the README extracts
  them: every EPIC-55 video resampled to **60 fps** (``-r 60``, whatever its own 59.94/29.97/48/90
  fps), EPIC-100's extension videos at **50 fps** (``-r 50``): :func:`frame_rate`; kept in
  ``Sample.frames``, the rate in ``info["frame_rate"]``, :func:`frame_seconds` converts;
- ``all_nouns``/``all_noun_classes`` are Python list literals (``"['courgette', 'pan']"``, ``[8]``),
  read with ``ast.literal_eval``; their lengths may differ (EPIC-55 uid 68: ``['celery']``,
  ``"[185, 25]"``), so neither is checked against the other;
- class CSVs have CRLF endings (EPIC-100's no final newline); label CSVs LF;
- EPIC-55 has ``uid`` ids (not contiguous); EPIC-100 ``narration_id`` (``P01_11_0``), a different
  column order, and some empty ``narration_timestamp`` fields (kept as ``None`` in ``info``).

Splits: EPIC-55 ``train``/``validation`` are the ORN paper's (participants P01-P25 train, the
rest validation), ``test_s1``/``test_s2`` the unlabelled timestamps; EPIC-100 its official
``train``/``validation`` files and the unlabelled ``test``. ``video`` is the video file
(EPIC-55 ``videos/train/P01/P01_01.MP4``, EPIC-100 ``P01/videos/P01_01.MP4``); ``info["frame_folder"]``
the folder of its extracted frames. With ``video_info`` a segment that ends after its video is
clipped to the video's duration (a counted note); one that starts after it is skipped.
"""
from __future__ import annotations

import ast
import csv
import json
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from actattn.data.formats.base import (
    Ids, Problems, ReadResult, RowError, Sample, class_index, parse_int, parse_seconds, parse_timestamp,
)

TASKS = ("verb", "noun", "action")
EPIC55_LABEL_COLUMNS = ["uid", "participant_id", "video_id", "narration", "start_timestamp", "stop_timestamp",
                        "start_frame", "stop_frame", "verb", "verb_class", "noun", "noun_class", "all_nouns",
                        "all_noun_classes"]
EPIC55_TEST_COLUMNS = ["uid", "participant_id", "video_id", "start_timestamp", "stop_timestamp", "start_frame",
                       "stop_frame"]
EPIC100_LABEL_COLUMNS = ["narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp",
                         "stop_timestamp", "start_frame", "stop_frame", "narration", "verb", "verb_class", "noun",
                         "noun_class", "all_nouns", "all_noun_classes"]
EPIC100_TEST_COLUMNS = ["narration_id", "participant_id", "video_id", "narration_timestamp", "start_timestamp",
                        "stop_timestamp", "start_frame", "stop_frame"]
SUBMISSION_VERSION = "0.2"  # epic-kitchens/C1-Action-Recognition utils/challenge.py
NUM_VERBS_100, NUM_NOUNS_100 = 97, 300


def frame_rate(video_id: str, fps: float | None = None) -> int:
    """The rate at which the README extracts a video's frames: 50 for EPIC-100's extension videos
    (their own fps is 50; ids ``P##_1##``), 60 for every other video (resampled with ``-r 60``)."""
    if fps is not None:
        return 50 if abs(fps - 50.0) < 1e-6 else 60
    return 50 if re.fullmatch(r"P\d+_1\d\d", video_id) else 60


def frame_seconds(frame: int, rate: float) -> float:
    """The time in seconds at which 1-based extracted frame ``frame`` starts."""
    return (frame - 1) / rate


def read_class_csv(path: str | Path) -> list[str]:
    """Class names (``class_key`` / ``key``) of an EPIC verb or noun class CSV, whose ids must be 0..K-1 in order."""
    path = Path(path)
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        if header is None or len(header) < 2 or header[0] not in ("verb_id", "noun_id", "id"):
            raise ValueError(f"{path}, line 1: expected an EPIC class header (verb_id/noun_id/id, class_key/key, ...), "
                             f"got {header!r}")
        names = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ValueError(f"{path}, line {reader.line_num}: expected {len(header)} fields, got {len(row)}")
            if row[0].strip() != str(len(names)):
                raise ValueError(f"{path}, line {reader.line_num}: class id {row[0]!r}, expected {len(names)} "
                                 "(ids must be 0..K-1 in order)")
            names.append(row[1].strip())
    class_index(names, path)
    return names


def read_video_info(path: str | Path) -> dict[str, tuple[float, float]]:
    """``video id -> (duration s, fps)`` from ``EPIC_video_info.csv`` (``video,resolution,duration,fps``)
    or ``EPIC_100_video_info.csv`` (``video_id,duration,fps,resolution``)."""
    path = Path(path)
    info = {}
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        key = "video_id" if reader.fieldnames and "video_id" in reader.fieldnames else "video"
        if not reader.fieldnames or not {key, "duration", "fps"} <= set(reader.fieldnames):
            raise ValueError(f"{path}, line 1: expected columns video(_id), duration, fps, got {reader.fieldnames}")
        for row in reader:
            try:
                info[row[key]] = (parse_seconds(row["duration"], "duration"), parse_seconds(row["fps"], "fps"))
            except RowError as err:
                raise ValueError(f"{path}, line {reader.line_num}: {err}") from None
    return info


def _literal_list(text: str, kind: type, what: str) -> list:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise RowError(f"{what} {text!r} is not a Python list literal") from None
    if not isinstance(value, list) or not value or not all(isinstance(v, kind) for v in value):
        raise RowError(f"{what} {text!r} is not a non-empty list of {kind.__name__}")
    return value


def _class(text: str, names: Sequence[str], what: str) -> int:
    index = parse_int(text, what)
    if not 0 <= index < len(names):
        raise RowError(f"{what} {index} is not a class id 0..{len(names) - 1} of the class file")
    return index


class _Reader:
    """The per-row parsing both EPIC versions share."""

    def __init__(self, name: str, verbs_file: str | Path, nouns_file: str | Path, video_info: str | Path | None,
                 strict: bool):
        self.name = name
        self.verbs, self.nouns = read_class_csv(verbs_file), read_class_csv(nouns_file)
        self.video_info = read_video_info(video_info) if video_info is not None else None
        self.problems = Problems(strict)

    def tasks(self) -> dict[str, list[str]]:
        actions = [f"{verb} {noun}" for verb in self.verbs for noun in self.nouns]
        return {"verb": list(self.verbs), "noun": list(self.nouns), "action": actions}

    def rows(self, path: Path, columns: list[str]):
        """``(line number, row dict)`` per data row; a header other than ``columns`` is an error."""
        with open(path, encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file)
            header = next(reader, None)
            if header != columns:
                raise ValueError(f"{path}, line 1: expected the header {','.join(columns)}, got {header!r}")
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(columns):
                    self.problems.bad(path, reader.line_num, f"expected {len(columns)} fields, got {len(row)}")
                    continue
                yield reader.line_num, dict(zip(columns, row))

    def sample(self, path: Path, number: int, row: dict, sample_id: str, video: str, frames_folder: str,
               labelled: bool) -> Sample | None:
        """The row's sample; None if it was skipped (recorded)."""
        try:
            video_id = row["video_id"]
            if not video_id.startswith(row["participant_id"] + "_"):
                raise RowError(f"video {video_id!r} is not one of participant {row['participant_id']!r}")
            start, stop = parse_timestamp(row["start_timestamp"]), parse_timestamp(row["stop_timestamp"])
            first, last = parse_int(row["start_frame"], "start_frame"), parse_int(row["stop_frame"], "stop_frame")
            if first < 1 or last < first:
                raise RowError(f"frames {first}..{last} are not 1-based and increasing")
            labels, info = {}, {"participant": row["participant_id"], "video_id": video_id}
            if labelled:
                verb = _class(row["verb_class"], self.verbs, "verb_class")
                noun = _class(row["noun_class"], self.nouns, "noun_class")
                all_nouns = _literal_list(row["all_nouns"], str, "all_nouns")
                all_classes = _literal_list(row["all_noun_classes"], int, "all_noun_classes")
                # the lengths may differ: EPIC-55 uid 68 has ['celery'] with [185, 25] (and uids 197, 198)
                for value in all_classes:
                    _class(str(value), self.nouns, "all_noun_classes item")
                labels = {"verb": verb, "noun": noun, "action": verb * len(self.nouns) + noun}
                info.update(narration=row["narration"], verb=row["verb"], noun=row["noun"], all_nouns=all_nouns,
                            all_noun_classes=all_classes)
            if "narration_timestamp" in row:
                info["narration_timestamp"] = (parse_timestamp(row["narration_timestamp"])
                                               if row["narration_timestamp"].strip() else None)
        except RowError as err:
            self.problems.bad(path, number, str(err))
            return None
        if not start < stop:
            self.problems.skip(path, number, f"segment start {start} s is not before its stop {stop} s")
            return None
        fps = None
        if self.video_info is not None:
            if video_id not in self.video_info:
                self.problems.bad(path, number, f"video {video_id!r} is not in the video info file")
                return None
            duration, fps = self.video_info[video_id]
            if start >= duration:
                self.problems.skip(path, number, f"segment starts at {start} s, after the video's end ({duration} s)")
                return None
            if stop > duration:
                self.problems.note(path, number, f"segment stop {stop} s clipped to the video's end ({duration} s)")
                stop = duration
        info["frame_rate"] = frame_rate(video_id, fps)
        info["frame_folder"] = frames_folder
        return Sample(sample_id, video, labels, start, stop, frames=(first, last), info=info)


def _participant_number(participant: str) -> int:
    match = re.fullmatch(r"P(\d+)", participant)
    if match is None:
        raise RowError(f"participant {participant!r} is not P<number>")
    return int(match.group(1))


def read_epic55(labels: str | Path, verb_classes: str | Path, noun_classes: str | Path, *,
                video_info: str | Path | None = None, test_s1: str | Path | None = None,
                test_s2: str | Path | None = None, train_participants: int = 25,
                strict: bool = True) -> ReadResult:
    """EPIC-KITCHENS-55 from ``EPIC_train_action_labels.csv`` and ``EPIC_verb_classes.csv``,
    ``EPIC_noun_classes.csv``; optionally ``EPIC_video_info.csv`` and ``EPIC_test_s{1,2}_timestamps.csv``.

    The labelled rows split by participant: P01..P{train_participants} train, the rest validation
    (the ORN paper's split). ``EPIC_train_invalid_labels.csv`` is not a split (its rows were removed
    from the labels; its ``verb_class`` is empty) and is not read.
    """
    epic = _Reader("epic55", verb_classes, noun_classes, video_info, strict)
    splits: dict[str, list[Sample]] = {"train": [], "validation": []}
    path, ids = Path(labels), Ids()
    for number, row in epic.rows(path, EPIC55_LABEL_COLUMNS):
        try:
            uid = str(parse_int(row["uid"], "uid"))
            ids.add(uid, f"line {number}")
            number_of_participant = _participant_number(row["participant_id"])
        except RowError as err:
            epic.problems.bad(path, number, str(err))
            continue
        p, v = row["participant_id"], row["video_id"]
        sample = epic.sample(path, number, row, uid, f"videos/train/{p}/{v}.MP4",
                             f"frames_rgb_flow/rgb/train/{p}/{v}", labelled=True)
        if sample is not None:
            splits["train" if number_of_participant <= train_participants else "validation"].append(sample)
    for split, test in (("test_s1", test_s1), ("test_s2", test_s2)):
        if test is None:
            continue
        path, ids, splits[split] = Path(test), Ids(), []
        for number, row in epic.rows(path, EPIC55_TEST_COLUMNS):
            try:
                uid = str(parse_int(row["uid"], "uid"))
                ids.add(uid, f"line {number}")
            except RowError as err:
                epic.problems.bad(path, number, str(err))
                continue
            p, v = row["participant_id"], row["video_id"]
            sample = epic.sample(path, number, row, uid, f"videos/test/{p}/{v}.MP4",
                                 f"frames_rgb_flow/rgb/test/{p}/{v}", labelled=False)
            if sample is not None:
                splits[split].append(sample)
    return epic.problems.result("epic55", epic.tasks(), splits)


def read_epic100(verb_classes: str | Path, noun_classes: str | Path, *, train: str | Path | None = None,
                 validation: str | Path | None = None, test: str | Path | None = None,
                 video_info: str | Path | None = None, strict: bool = True) -> ReadResult:
    """EPIC-KITCHENS-100 from ``EPIC_100_verb_classes.csv``, ``EPIC_100_noun_classes.csv`` and any of
    ``EPIC_100_train.csv``, ``EPIC_100_validation.csv`` (same 15 columns; the UDA
    ``EPIC_100_uda_source_train.csv`` has them too), ``EPIC_100_test_timestamps.csv``; optionally
    ``EPIC_100_video_info.csv``."""
    epic = _Reader("epic100", verb_classes, noun_classes, video_info, strict)
    splits: dict[str, list[Sample]] = {}
    for split, file in (("train", train), ("validation", validation), ("test", test)):
        if file is None:
            continue
        path, ids, splits[split] = Path(file), Ids(), []
        columns = EPIC100_TEST_COLUMNS if split == "test" else EPIC100_LABEL_COLUMNS
        for number, row in epic.rows(path, columns):
            narration_id = row["narration_id"].strip()
            try:
                if not narration_id.startswith(row["video_id"] + "_"):
                    raise RowError(f"narration_id {narration_id!r} is not of video {row['video_id']!r}")
                ids.add(narration_id, f"line {number}")
            except RowError as err:
                epic.problems.bad(path, number, str(err))
                continue
            p, v = row["participant_id"], row["video_id"]
            sample = epic.sample(path, number, row, narration_id, f"{p}/videos/{v}.MP4", f"{p}/rgb_frames/{v}",
                                 labelled=split != "test")
            if sample is not None:
                splits[split].append(sample)
    return epic.problems.result("epic100", epic.tasks(), splits)


def epic100_submission(narration_ids: Sequence[str], verb_scores, noun_scores, *, sls_pt: int, sls_tl: int,
                       sls_td: int, challenge: str = "action_recognition") -> dict:
    """The challenge's submission object: ``{"version": "0.2", "challenge", "sls_pt", "sls_tl",
    "sls_td", "results": {narration_id: {"verb": {"0": score, ... "96"}, "noun": {"0": ..., "299"}}}}``.

    ``verb_scores`` ``(N, 97)`` and ``noun_scores`` ``(N, 300)`` (arrays, tensors or lists) are the
    scores of segment ``narration_ids[i]``; ``sls_*`` the supervision levels 0..5 (epic-kitchens/sls).
    """
    verbs = np.asarray(verb_scores, dtype=np.float64)
    nouns = np.asarray(noun_scores, dtype=np.float64)
    ids = [str(i) for i in narration_ids]
    if verbs.shape != (len(ids), NUM_VERBS_100):
        raise ValueError(f"verb scores have shape {verbs.shape}, expected ({len(ids)}, {NUM_VERBS_100})")
    if nouns.shape != (len(ids), NUM_NOUNS_100):
        raise ValueError(f"noun scores have shape {nouns.shape}, expected ({len(ids)}, {NUM_NOUNS_100})")
    if len(set(ids)) != len(ids):
        raise ValueError("narration ids must be unique")
    if not (np.isfinite(verbs).all() and np.isfinite(nouns).all()):
        raise ValueError("scores must be finite")
    for name, level in (("sls_pt", sls_pt), ("sls_tl", sls_tl), ("sls_td", sls_td)):
        if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 5:
            raise ValueError(f"{name} must be a supervision level 0..5, got {level!r}")
    results = {
        narration_id: {"verb": {str(k): float(s) for k, s in enumerate(verb)},
                       "noun": {str(k): float(s) for k, s in enumerate(noun)}}
        for narration_id, verb, noun in zip(ids, verbs, nouns)
    }
    return {"version": SUBMISSION_VERSION, "challenge": challenge, "sls_pt": sls_pt, "sls_tl": sls_tl,
            "sls_td": sls_td, "results": results}


def write_epic100_submission(path: str | Path, narration_ids: Sequence[str], verb_scores, noun_scores, *,
                             sls_pt: int, sls_tl: int, sls_td: int, challenge: str = "action_recognition") -> Path:
    """Write :func:`epic100_submission` to ``path``: a ``.zip`` holding ``test.json`` (what the
    challenge server takes, as the official ``create_submission.py`` writes it) or a plain JSON file."""
    submission = epic100_submission(narration_ids, verb_scores, noun_scores, sls_pt=sls_pt, sls_tl=sls_tl,
                                    sls_td=sls_td, challenge=challenge)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(submission)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("test.json", text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
