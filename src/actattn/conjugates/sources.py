"""Conjugates of whole datasets, one function per source, each returning :class:`Mined`: the pairs
(sample key -> conjugates), each sample's own clip (for the picture) and what was skipped.

- :func:`from_synthhoi`: SynthHOI's idle lead-in and tail (exact ground truth); keys: scene ids.
- :func:`from_segments`: before and after the action (:func:`~actattn.conjugates.miners.outside_action`)
  for any format of :data:`actattn.data.formats.FORMATS` whose samples have start/stop times
  (EPIC-KITCHENS, ActivityNet/HACS segments, ...) or, as Charades, per-video action intervals.
  Keys: the samples' :func:`~actattn.data.records.sample_key` (several segments share a video). Choices:

  - Seconds become frames as the pixel path converts them
    (:func:`~actattn.data.video.frame_span`: frame ``i`` shows time ``i / fps``), so a conjugate
    never holds a frame that training reads as the action. A video file's frame count and rate
    come from PyAV with every frame decoded (:func:`~actattn.data.video.probe`), so a truncated
    video is found here and not in training; a frame folder (EPIC) is counted, its rate
    ``frame_rate`` or the reader's ``info["frame_rate"]``, EPIC's 1-based frame numbers used where
    given.
  - The annotated segments a conjugate must not overlap are those of every sample read of the
    same video (every split, not only those mined) and each Charades interval.
  - A Charades sample (the whole video, multi-label) takes the extent of its intervals as its
    action: its conjugates hold none of the annotated actions. A sample without times (Hollywood2's
    whole clips) has no before or after; it is counted, not cached.
  - ``max_seconds`` keeps the frames nearest the action (default: the whole gap).
  - A missing or undecodable video is a warning and a skip (:attr:`Mined.skipped`); its samples are
    left out of the cache.
- :func:`from_neighbours`: the k nearest negatives (HACS-30: 3) by the cosine distance of feature maps
  of ``actattn extract`` pooled over (t, h, w); keys: the positives' feature file stems (the
  feature path's sample ids: video stems, or format samples' keys). Each conjugate is the negative's extracted frames
  (``meta["frames"]``, its whole video) of ``meta["video"]``, a path relative to the folder
  ``actattn extract`` ran in (made relative to the cache's folder on saving), and the negative's map
  is hard-linked (else copied) to where ``actattn extract --conjugates`` would store it
  (:func:`~actattn.feature_files.conjugate_file`), so the feature path reads it without extracting again.
  The negatives are samples too (HACS-30's 31st class) and the conjugate losses need a conjugate for
  every sample of a batch, so each negative gets its k nearest other negatives (itself left out);
  the paper does not say. The pool should hold the training split's negatives only.
- :func:`from_stills`: the images of a still-image format with person boxes (``voc_action``), every
  annotated person of an image removed (:func:`~actattn.conjugates.miners.remove_actor`) and the
  result written once per image as PNG (lossless: outside the blend margin the photo's pixels stay
  exactly); keys: the samples' keys (every person sample of an image has the same conjugate). The
  supplement removes "the people performing this action"; removing every annotated person also
  leaves no one doing any of the sample's actions.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image
from tqdm import tqdm

from actattn.conjugates.cache import Conjugate
from actattn.conjugates.miners import nearest_negatives, outside_action, remove_actor
from actattn.data.formats import ReadResult, Sample
from actattn.data.formats.base import read_lines
from actattn.data.frames import open_folder, read_source
from actattn.data.records import locate, sample_key
from actattn.data.ssv2 import release_file
from actattn.data.synthetic import load_groundtruth
from actattn.data.video import VideoDecodeError, frame_span, probe
from actattn.feature_files import SUFFIX, FeatureMap, conjugate_file
from actattn.files import atomic_write

Segment = tuple[tuple[float, float], tuple[int, int] | None]  # seconds, and EPIC's 1-based frames or None


@dataclass(frozen=True)
class SampleClip:
    """Frames ``[start, stop)`` of ``video``: a sample itself, as the picture shows it beside its conjugates."""

    video: str
    start: int
    stop: int


@dataclass
class Mined:
    """What a source mined: ``pairs`` (sample key -> conjugates), ``samples`` (key -> its own clip),
    ``root`` (the folder both's videos are relative to) and ``skipped`` (one line each: what and why)."""

    pairs: dict[str, list[Conjugate]]
    samples: dict[str, SampleClip]
    root: Path
    skipped: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        """Count (and warn about) something that could not be mined."""
        warnings.warn(reason, stacklevel=3)
        self.skipped.append(reason)

    def add(self, key: str, conjugates: list[Conjugate], clip: SampleClip) -> None:
        """The conjugates of sample ``key``; a key twice is an error."""
        if key in self.pairs:
            raise ValueError(f"two samples share the conjugate key {key!r}")
        self.pairs[key], self.samples[key] = conjugates, clip


def synthhoi_scene(root: Path, key: str) -> tuple[SampleClip, int]:
    """A SynthHOI scene's action (its ground-truth interval of ``videos/{key}.mp4``) and its frame count."""
    truth = load_groundtruth(root / "groundtruth" / f"{key}.npz")
    start, stop = (int(v) for v in truth["interval"])
    return SampleClip(f"videos/{key}.mp4", start, stop), len(truth["boxes"])


def from_synthhoi(root: Path, split: str, min_frames: int = 4) -> Mined:
    """Lead-in and tail conjugates of every scene of a SynthHOI split in SSv2 layout under ``root``."""
    mined = Mined({}, {}, root)
    for entry in tqdm(json.loads(release_file(root, split).read_text()), desc=f"conjugates of {split}", unit="clip"):
        clip, num_frames = synthhoi_scene(root, entry["id"])
        mined.add(entry["id"], outside_action(clip.video, (clip.start, clip.stop), num_frames, min_frames), clip)
    return mined


def _samples(result: ReadResult, splits: Sequence[str] | None) -> list[tuple[Sample, bool]]:
    """Every sample of ``result`` once (VOC's ``trainval`` repeats ``train`` and ``val``), and whether
    one of ``splits`` (default: all) holds it."""
    chosen = set(splits) if splits else set(result.splits)
    unknown = sorted(chosen - set(result.splits))
    if unknown:
        raise ValueError(f"the {result.format} files read have no split {unknown[0]!r} (splits: {list(result.splits)})")
    seen: dict[str, tuple[Sample, bool]] = {}
    for name, samples in result.splits.items():
        for sample in samples:
            seen[sample.id] = (sample, seen.get(sample.id, (sample, False))[1] or name in chosen)
    return list(seen.values())


def _video_length(sample: Sample, video_dir: Path | None, frames_dir: Path | None, video_ext: str | None,
                  frame_rate: float | None) -> tuple[Path, int, float | None]:
    """Where ``sample``'s video is (:func:`~actattn.data.records.locate`), its frame count and rate
    (module docstring); a missing or undecodable one raises :class:`VideoDecodeError`."""
    path, exists = locate(sample, video_dir, frames_dir, video_ext)
    if not exists:
        raise VideoDecodeError(path, "no such video or frame folder")
    if path.is_dir():
        rate = frame_rate if frame_rate is not None else sample.info.get("frame_rate")
        return path, open_folder(path).count, float(rate) if isinstance(rate, (int, float)) else None
    info = probe(path)
    return path, info.num_frames, info.fps


def _segments(sample: Sample, in_folder: bool) -> list[Segment]:
    """``sample``'s annotated actions: its segment (with EPIC's frames in a frame folder), or each
    of Charades' ``info["intervals"]``; none without times."""
    if sample.start is not None and sample.stop is not None:
        return [((sample.start, sample.stop), sample.frames if in_folder else None)]
    return [((float(start), float(stop)), None) for _, start, stop in sample.info.get("intervals", [])]


def _frames(path: Path, num_frames: int, rate: float | None, segment: Segment) -> tuple[int, int]:
    """The frames ``[first, stop)`` of a segment, as the pixel path reads them."""
    span = frame_span(path, num_frames, rate, *segment)
    return span.first, span.stop


def _annotated(members: Sequence[Sample], path: Path, num_frames: int, rate: float | None) -> list[tuple[int, int]]:
    """The frames of every annotated action of ``members`` (one video's samples) inside the video."""
    spans = []
    for sample in members:
        for segment in _segments(sample, path.is_dir()):
            with contextlib.suppress(VideoDecodeError):  # a segment after the video's end is not in it
                spans.append(_frames(path, num_frames, rate, segment))
    return spans


def from_segments(result: ReadResult, *, video_dir: str | Path | None = None, frames_dir: str | Path | None = None,
                  video_ext: str | None = None, frame_rate: float | None = None,
                  splits: Sequence[str] | None = None, min_frames: int = 4,
                  max_seconds: float | None = None) -> Mined:
    """Before/after conjugates of the samples of ``splits`` (default: all) of ``result`` whose
    videos are found under ``video_dir`` or ``frames_dir`` (module docstring)."""
    videos: dict[str, list[tuple[Sample, bool]]] = {}
    for sample, wanted in _samples(result, splits):
        videos.setdefault(sample.video, []).append((sample, wanted))
    roots = [Path(folder) if folder is not None else None for folder in (video_dir, frames_dir)]
    mined, untimed = Mined({}, {}, Path(".")), 0
    for members in tqdm([m for m in videos.values() if any(wanted for _, wanted in m)],
                        desc=f"conjugates of {result.format}", unit="video"):
        timed = [sample for sample, wanted in members if wanted and _segments(sample, False)]
        untimed += sum(wanted for _, wanted in members) - len(timed)
        if not timed:  # not worth decoding the video
            continue
        try:
            path, num_frames, rate = _video_length(timed[0], *roots, video_ext, frame_rate)
            if max_seconds is not None and not rate:
                raise VideoDecodeError(path, "max_seconds needs the frame rate, which is unknown")
        except VideoDecodeError as err:
            mined.skip(f"{err}; its {len(timed)} samples are not mined")
            continue
        cap = math.ceil(max_seconds * rate) if max_seconds is not None else None
        others = _annotated([sample for sample, _ in members], path, num_frames, rate)
        for sample in timed:
            try:
                spans = [_frames(path, num_frames, rate, segment) for segment in _segments(sample, path.is_dir())]
            except VideoDecodeError as err:
                mined.skip(f"sample {sample.id}: {err}")
                continue
            action = (min(a for a, _ in spans), max(b for _, b in spans))
            conjugates = outside_action(str(path), action, num_frames, min_frames, others=others, max_frames=cap)
            mined.add(sample_key(sample.id), conjugates, SampleClip(str(path), *action))
    if untimed:
        mined.skipped.append(f"{untimed} samples without start/stop times or intervals (no before or after)")
    return mined


def _feature_files(features_dir: Path, negatives: Path, mined: Mined) -> tuple[list[Path], list[Path]]:
    """The positives' and the negatives' feature files: ``negatives`` is a folder of maps, or a text
    file of ids (one a line) of maps in ``features_dir``, whose other maps are the positives; an id
    without a map (its video missing when ``actattn extract`` ran) is a counted skip."""
    files = sorted(features_dir.glob(f"*{SUFFIX}"))
    if negatives.is_dir():
        positives, pool = files, sorted(negatives.glob(f"*{SUFFIX}"))
    else:
        ids = [line.strip() for line in read_lines(negatives) if line.strip()]
        known = {file.stem: file for file in files}
        missing = [name for name in ids if name not in known]
        if missing:
            mined.skip(f"{negatives}: {len(missing)} negative ids have no feature file in {features_dir} "
                       f"(the first {missing[0]!r}): left out of the pool")
        negative_ids = set(ids)
        positives = [file for file in files if file.stem not in negative_ids]
        pool = [known[name] for name in ids if name in known]
    if not positives or not pool:
        raise ValueError(f"{len(positives)} positive and {len(pool)} negative feature files in {features_dir} "
                         f"and {negatives}: need some of each (run actattn extract)")
    return positives, pool


def _pooled(files: Sequence[Path], what: str) -> tuple[list[dict], np.ndarray]:
    """Each map's ``meta`` and its mean over (t, h, w): (N, C) float32."""
    metas, rows = [], []
    for file in tqdm(files, desc=f"pool the {what}", unit="map"):
        stored = FeatureMap.load(file)
        if rows and stored.features.shape[1] != len(rows[0]):
            raise ValueError(f"{file}: {stored.features.shape[1]} channels, {files[0]} has {len(rows[0])}")
        metas.append(stored.meta)
        rows.append(stored.features.float().mean(dim=(0, 2, 3)).numpy())
    return metas, np.stack(rows)


def _share_map(source: Path, target: Path) -> None:
    """``target`` made the same file as ``source`` (a hard link, else an atomic copy) unless it exists."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        atomic_write(target, lambda file: file.write(source.read_bytes()))


def from_neighbours(features_dir: str | Path, negatives: str | Path, k: int = 3) -> Mined:
    """The ``k`` nearest negatives of each positive map of ``features_dir`` (module docstring)."""
    features_dir = Path(features_dir)
    mined = Mined({}, {}, Path("."))
    positives, pool = _feature_files(features_dir, Path(negatives), mined)
    positive_metas, positive_rows = _pooled(positives, "positives")
    negative_metas, negative_rows = _pooled(pool, "negatives")
    if positive_rows.shape[1] != negative_rows.shape[1]:
        raise ValueError(f"the positives' maps have {positive_rows.shape[1]} channels, the negatives' "
                         f"{negative_rows.shape[1]}: extract both with one backbone")
    if len(pool) <= k:
        raise ValueError(f"{len(pool)} negatives for k = {k}: each negative's conjugates are k others")
    positive_rows_k = nearest_negatives(positive_rows, negative_rows, k)[0]
    negative_rows_k = [[j for j in row if j != i][:k] for i, row in enumerate(
        nearest_negatives(negative_rows, negative_rows, k + 1)[0])]  # itself left out
    for files, metas, rows in ((positives, positive_metas, positive_rows_k), (pool, negative_metas, negative_rows_k)):
        for file, meta, row in zip(files, metas, rows):
            conjugates = [Conjugate(negative_metas[j]["video"], *negative_metas[j]["frames"], "neighbour") for j in row]
            mined.add(file.stem, conjugates, SampleClip(meta["video"], *meta["frames"]))
            for j, conjugate in zip(row, conjugates):
                _share_map(pool[j], conjugate_file(features_dir, conjugate))
    return mined


def _voc_pixels(box: Sequence[float]) -> tuple[float, float, float, float]:
    """A VOC box (1-based pixels, corners inclusive) as 0-based ``x1, y1, x2, y2`` with x2, y2 exclusive."""
    x1, y1, x2, y2 = box
    return x1 - 1, y1 - 1, x2, y2


def _save_png(image: np.ndarray, path: Path) -> Path:
    return atomic_write(path, lambda file: Image.fromarray(image).save(file, format="PNG"))


def from_stills(result: ReadResult, *, video_dir: str | Path, images_dir: str | Path,
                splits: Sequence[str] | None = None) -> Mined:
    """Each image of ``splits`` (default: all) of ``result`` under ``video_dir`` with its annotated
    persons removed, written to ``images_dir/{image stem}.png``, the conjugate of each of its
    samples (module docstring)."""
    images: dict[str, list[Sample]] = {}
    for sample in (sample for sample, wanted in _samples(result, splits) if wanted):
        images.setdefault(sample.video, []).append(sample)
    if not any(sample.boxes for samples in images.values() for sample in samples):
        raise ValueError(f"the {result.format} samples have no person boxes (voc_action reads them from the "
                         "Annotations folder: --file annotations=PATH)")
    repeated = [stem for stem, n in Counter(PurePosixPath(video).stem for video in images).items() if n > 1]
    if repeated:
        raise ValueError(f"two images share the stem {repeated[0]!r}: their conjugates would share a file in "
                         f"{images_dir}")
    mined, images_dir = Mined({}, {}, Path(".")), Path(images_dir)
    for video, samples in tqdm(images.items(), desc="remove the actors", unit="image"):
        path = Path(video_dir) / video
        boxes = [_voc_pixels(box) for sample in samples for box in sample.boxes]
        conjugates = []
        if boxes:
            try:
                removed = remove_actor(read_source(path, lambda n: [0])[0][0], boxes)
            except (VideoDecodeError, ValueError) as err:
                mined.skip(f"{path}: {err}; its {len(samples)} samples are not mined")
                continue
            target = _save_png(removed, images_dir / f"{PurePosixPath(video).stem}.png")
            conjugates = [Conjugate(str(target), 0, 1, "inpainted")]
        for sample in samples:
            mined.add(sample_key(sample.id), list(conjugates), SampleClip(str(path), 0, 1))
    return mined
