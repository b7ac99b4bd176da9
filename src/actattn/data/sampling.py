"""Which frames a sample reads, and the dataset base that reads, samples and transforms a clip.

Two samplers (REFERENCE_NOTES sections 3, 5, 6):
- :func:`segment_indices`: TSN segments, one frame per equal segment (random in training, the
  centre at test);
- :func:`clip_indices`: one dense clip of frames ``stride`` apart (random start in training,
  centred at test).

Training randomness comes from :func:`sample_rng` ``(seed, epoch, index)``: the same seed gives
the same clips and crops, every epoch differs, and DDP ranks (which draw different indices) differ.
The epoch travels with the index: :class:`EpochSampler` yields ``(index, epoch)`` keys, so the
workers (persistent or not) need no shared state and a resumed run draws what an unbroken one did.
"""
from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from actattn.data.frames import read_source
from actattn.data.object_slots import pad_object_slots, paste_objects
from actattn.data.objects import ObjectSource, ObjectSourceError
from actattn.data.video import VideoDecodeError

_NOISE_STREAM = 1  # a second stream per sample: simulated detector noise never shifts the crops
_CONJUGATE_STREAM = 2  # a third: drawing a conjugate leaves the sample's crops and noise as they are


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator for sample ``index`` in ``epoch`` of a run seeded with ``seed``."""
    return np.random.default_rng([seed, epoch, index])


def noise_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of sample ``index``'s simulated detector noise in ``epoch`` (also at evaluation,
    where the epoch is 0), independent of :func:`sample_rng`'s augmentation."""
    return np.random.default_rng([seed, epoch, index, _NOISE_STREAM])


def conjugate_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator that draws sample ``index``'s conjugate in ``epoch`` (which one, its frames and
    crops; ActX), independent of :func:`sample_rng` and :func:`noise_rng`."""
    return np.random.default_rng([seed, epoch, index, _CONJUGATE_STREAM])


def _check_train_rng(train: bool, rng: np.random.Generator | None) -> None:
    if train and rng is None:
        raise ValueError("training sampling is random: pass rng (e.g. sample_rng(seed, epoch, index))")


def segment_indices(
    num_frames: int, num_segments: int, *, train: bool, rng: np.random.Generator | None = None, clip: int = 0,
    num_clips: int = 1,
) -> list[int]:
    """TSN sampling: split ``[0, num_frames)`` into ``num_segments`` equal spans, one frame from each.

    Training takes a uniformly random frame within each span, test the span's centre frame; test
    clip ``clip`` of ``num_clips`` takes the frame at ``(clip + 0.5) / num_clips`` of each span
    (one clip: the centre; two: a quarter and three quarters, TSM's two clips). With
    fewer frames than segments the spans are shorter than a frame, so frames repeat in order
    (3 frames, 6 segments at test: ``[0, 0, 1, 1, 2, 2]``). Segment boundaries are fractional, so
    no tail of the video is dropped (TSN's code uses ``num_frames // num_segments``).
    """
    if num_frames < 1:
        raise ValueError(f"cannot sample {num_segments} segments from a video with {num_frames} frames")
    if num_segments < 1:
        raise ValueError(f"num_segments must be >= 1, got {num_segments}")
    _check_train_rng(train, rng)
    offsets = rng.random(num_segments) if train else np.full(num_segments, (clip + 0.5) / num_clips)
    positions = (np.arange(num_segments) + offsets) * (num_frames / num_segments)
    return np.minimum(np.floor(positions).astype(np.int64), num_frames - 1).tolist()


def clip_indices(
    num_frames: int, clip_len: int, stride: int, *, train: bool, rng: np.random.Generator | None = None,
    clip: int = 0, num_clips: int = 1,
) -> list[int]:
    """Dense sampling: ``clip_len`` frames ``stride`` apart.

    Training starts the clip at a random frame, test centres it; test clip ``clip`` of
    ``num_clips`` starts at ``(clip + 0.5) / num_clips`` of the slack (evenly spread). A video shorter than the clip's
    span starts at frame 0 and repeats its last frame to fill the clip.
    """
    if num_frames < 1:
        raise ValueError(f"cannot sample a {clip_len}-frame clip from a video with {num_frames} frames")
    if clip_len < 1 or stride < 1:
        raise ValueError(f"clip_len and stride must be >= 1, got clip_len={clip_len}, stride={stride}")
    _check_train_rng(train, rng)
    span = (clip_len - 1) * stride + 1
    slack = max(num_frames - span, 0)
    start = int(rng.integers(slack + 1)) if train else int(slack * (2 * clip + 1) // (2 * num_clips))
    return np.minimum(start + stride * np.arange(clip_len), num_frames - 1).tolist()


def frame_indices(num_frames: int, num_segments: int, clip_stride: int | None, *, train: bool,
                  rng: np.random.Generator | None = None, clip: int = 0, num_clips: int = 1) -> list[int]:
    """TSN segments (``clip_stride`` None) or one dense clip of ``num_segments`` frames ``clip_stride``
    apart; at test, clip ``clip`` of ``num_clips`` evenly placed ones."""
    if not 0 <= clip < num_clips:
        raise ValueError(f"clip {clip} is not one of the {num_clips} clips")
    if clip_stride is None:
        return segment_indices(num_frames, num_segments, train=train, rng=rng, clip=clip, num_clips=num_clips)
    return clip_indices(num_frames, num_segments, clip_stride, train=train, rng=rng, clip=clip, num_clips=num_clips)


@dataclass(frozen=True)
class ClipRecord:
    """One sample of a video dataset: the video (a video file, a frame folder or an image), its
    label (None if unlabelled; a class id or a multi-hot vector), its keypoint file, and its object
    labels (first object, second object or null) where the format has them. A segment of the video
    is ``segment`` ``(start, stop)`` seconds and/or ``frames`` (1-based inclusive numbers of the
    extracted frames, EPIC), ``frame_rate`` the rate a frame folder was extracted at (see
    :func:`~actattn.data.frames.read_source`); sampling happens within the segment. ``key`` names
    the video in an object source where file stems are not unique (VLOG's ``clip.mp4``)."""

    path: Path
    label: int | np.ndarray | None
    keypoints_file: Path | None = None
    objects: tuple[int, int] | None = None
    segment: tuple[float, float] | None = None
    frames: tuple[int, int] | None = None
    frame_rate: float | None = None
    key: str | None = None

    @property
    def object_key(self) -> str:
        """The video's name in an object source: ``key``, else the file stem."""
        return self.key if self.key is not None else self.path.stem


def read_keypoints(path: str | Path, indices: Sequence[int]) -> np.ndarray:
    """``(len(indices), J, 3)`` float32 from the ``"keypoints"`` array ``(T, J, 3)`` of an .npz file.

    Indices past the last frame are clamped to it, as :func:`~actattn.data.video.read_video` does.
    """
    if any(i < 0 for i in indices):
        raise ValueError(f"{path}: negative frame index in {list(indices)}")
    with np.load(path) as archive:
        if "keypoints" not in archive:
            raise ValueError(f"{path}: no 'keypoints' array (has {sorted(archive.files)})")
        keypoints = archive["keypoints"]
    if keypoints.ndim != 3 or keypoints.shape[-1] != 3:
        raise ValueError(f"{path}: 'keypoints' must be (T, J, 3), got {keypoints.shape}")
    return keypoints[np.minimum(indices, len(keypoints) - 1)].astype(np.float32)


class ClipDataset(Dataset):
    """Reads ``records[index]``: decode, sample frames, transform; the base of every video dataset.

    ``clip_stride=None`` samples ``num_segments`` TSN segments; an integer samples one dense clip
    of ``num_segments`` frames ``clip_stride`` apart. ``transform`` takes ``(sample, rng)`` (see
    :mod:`actattn.data.transforms`); ``rng`` is ``None`` when ``train`` is false.

    A sample is ``{"video": (3, T, H, W) float32, "label": int64 scalar (-1 if unlabelled) or
    float32 (K,) multi-hot,
    "index": int}`` plus ``"keypoints"`` ``(T, J, 3)`` float32 where records name a keypoint file
    and ``"objects"`` ``(2,)`` int64 where records carry object labels. With ``object_source``
    (:mod:`actattn.data.objects`, keyed by the video's file stem) it also carries the sampled
    frames' instances, moved by the transform: ``"object_masks"`` ``(T, K, h, w)`` float32 in
    [0, 1] on the source's ``mask_size`` grid and ``"object_classes"`` ``(T, K)`` int64, -1 for
    an empty slot.
    A missing or undecodable video raises :class:`VideoDecodeError`, a video whose objects cannot
    be read :class:`~actattn.data.objects.ObjectSourceError`; with ``skip_bad_videos`` such a
    video warns once naming the file, is remembered (:attr:`bad_videos`), and yields ``None``.

    Videos may be frame folders or images (:func:`~actattn.data.frames.read_source`;
    ``frame_pattern`` names the frames, default: detected). A record's segment restricts the
    sampling to its frames; a segment that ends after the video is clipped, with a warning per
    record, counted in :attr:`num_clipped`.

    Views (evaluation only): ``num_clips`` evenly placed clips (see :func:`frame_indices`), each
    through ``transform``, which may return a list of samples (crops, e.g.
    :func:`~actattn.data.transforms.eval_views`). With more than one view in all, ``"video"`` is
    ``(V, 3, T, H, W)`` and the per-frame entries ``(V, T, ...)`` (:data:`VIEW_KEYS`; object slots
    padded to the views' largest K), clip-major (clip 0's crops first); one view keeps the
    single-clip layout.
    """

    def __init__(
        self,
        records: Sequence[ClipRecord],
        *,
        num_segments: int,
        train: bool,
        transform: Callable[[dict, np.random.Generator | None], dict],
        seed: int = 0,
        skip_bad_videos: bool = False,
        clip_stride: int | None = None,
        object_source: ObjectSource | None = None,
        num_clips: int = 1,
        frame_pattern: str | None = None,
    ):
        if num_clips < 1 or (train and num_clips != 1):
            raise ValueError(f"num_clips must be >= 1 (and 1 in training), got {num_clips}")
        self.records = list(records)
        self.num_clips = num_clips
        self.frame_pattern = frame_pattern
        self._clipped = torch.zeros(len(self.records), dtype=torch.bool).share_memory_()
        self.num_segments = num_segments
        self.train = train
        self.transform = transform
        self.seed = seed
        self.skip_bad_videos = skip_bad_videos
        self.clip_stride = clip_stride
        self.object_source = object_source
        self._bad = torch.zeros(len(self.records), dtype=torch.bool).share_memory_()

    def __len__(self) -> int:
        return len(self.records)

    @property
    def num_classes(self) -> int:
        """The number of classes, from the ``class_names`` that each dataset format sets."""
        return len(self.class_names)

    @property
    def bad_videos(self) -> list[Path]:
        """Videos skipped so far for failing to decode or to read their objects (shared across workers)."""
        return [self.records[i].path for i in torch.nonzero(self._bad).flatten().tolist()]

    @property
    def num_bad_videos(self) -> int:
        return int(self._bad.sum())

    @property
    def num_clipped(self) -> int:
        """Segments read so far that end after their video and were clipped (shared across workers)."""
        return int(self._clipped.sum())

    def __getitem__(self, key: int | tuple[int, int]) -> dict | None:
        """``key`` is an index, or ``(index, epoch)`` from :class:`EpochSampler` in training."""
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        record = self.records[index]
        if self._bad[index]:
            return None
        rng = sample_rng(self.seed, epoch, index) if self.train else None
        clips = self.num_clips
        try:
            frames, indices, span = read_source(
                record.path, lambda n: [i for clip in range(clips) for i in frame_indices(
                    n, self.num_segments, self.clip_stride, train=self.train, rng=rng, clip=clip, num_clips=clips)],
                segment=record.segment, frames=record.frames, frame_rate=record.frame_rate,
                frame_pattern=self.frame_pattern)
            instances = self._instances(record, indices, frames.shape[1:3], epoch, index)
        except (VideoDecodeError, ObjectSourceError) as err:
            if not self.skip_bad_videos:
                raise
            self._bad[index] = True
            warnings.warn(f"skipping a bad video: {err}", stacklevel=2)
            return None
        if span.clipped and not self._clipped[index]:
            self._clipped[index] = True
            warnings.warn(f"{record.path}: segment {record.segment or record.frames} ends after the video's last "
                          f"frame; clipped to frames {span.first}..{span.stop - 1}", stacklevel=2)
        if len(span) == 1 and self.num_segments > 1:
            warnings.warn(f"{record.path}: a single frame; every sampled frame repeats it", stacklevel=2)
        length = len(indices) // clips
        views = []
        for clip in range(clips):
            part = slice(clip * length, (clip + 1) * length)
            sample = {"frames": frames[part], "label": record.label, **{k: v[part] for k, v in instances.items()}}
            if record.keypoints_file is not None:
                sample["keypoints"] = read_keypoints(record.keypoints_file, indices[part])
            out = self.transform(sample, rng)
            views.extend(out if isinstance(out, list) else [out])
        views = [self._output(view, record, index, bool(instances)) for view in views]
        return views[0] if len(views) == 1 else stack_views(views)

    def _output(self, sample: dict, record: ClipRecord, index: int, objects: bool) -> dict:
        label = -1 if sample["label"] is None else sample["label"]
        dtype = torch.float32 if np.ndim(label) else torch.int64  # multi-hot or class id
        out = {"video": sample["video"], "label": torch.as_tensor(label, dtype=dtype), "index": index}
        if "keypoints" in sample:
            out["keypoints"] = sample["keypoints"]
        if record.objects is not None:
            out["objects"] = torch.tensor(record.objects, dtype=torch.int64)
        if objects:
            out["object_masks"], out["object_classes"] = paste_objects(
                sample["object_boxes"], sample["object_box_masks"], sample["object_classes"],
                tuple(sample["video"].shape[-2:]), self.object_source.mask_size)
        return out

    def _instances(self, record: ClipRecord, indices: list[int], size: tuple[int, int], epoch: int,
                 index: int) -> dict[str, np.ndarray]:
        """The object source's instances of the sampled frames (nothing without a source)."""
        if self.object_source is None:
            return {}
        return self.object_source.read(record.object_key, indices, size, noise_rng(self.seed, epoch, index))


VIEW_KEYS = ("video", "keypoints", "object_masks", "object_classes")
"""The entries that differ between the views of one video (stacked on a leading view axis)."""


def stack_views(views: list[dict]) -> dict:
    """The views of one video as one sample: :data:`VIEW_KEYS` stacked ``(V, ...)`` (object slots
    padded to the largest K first), the rest (label, index, ...) taken from the first view."""
    views = pad_object_slots(views)
    return {key: torch.stack([view[key] for view in views]) if key in VIEW_KEYS else value
            for key, value in views[0].items()}


class EpochSampler(DistributedSampler):
    """A DistributedSampler (seeded shuffle per epoch; one replica without DDP) that yields
    ``(index, epoch)``, so that a sample's augmentation follows the epoch Lightning set.

    ``skip`` drops that many of the next pass's first indices (a run resumed mid-epoch), once.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.skip = 0

    def __iter__(self):
        skip, self.skip = self.skip, 0
        return ((index, self.epoch) for index in itertools.islice(super().__iter__(), skip, None))


class ShardSampler(DistributedSampler):
    """Every index exactly once over the ranks, in order (rank ``r`` reads ``r, r + world, ...``).

    Unlike a DistributedSampler it never pads a split to a multiple of the world size, so an
    evaluation under DDP counts each clip once (47 clips on 2 ranks: 24 + 23, not 24 + 24).
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False)
        self.num_samples = len(range(rank, len(dataset), num_replicas))
        self.total_size = len(dataset)

    def __iter__(self):
        return iter(range(self.rank, len(self.dataset), self.num_replicas))
