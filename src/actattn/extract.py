"""``actattn extract``: a backbone's feature maps of every video (and conjugate clip), stored once.

The ActX paper trains on I3D feature maps computed once (Sec. 4.1; supplement Sec. 2.1: the whole
clip at 256 x 352 through I3D to its ``Mixed_5c``, T/8 x 8 x 11 x 1024). This offline stage runs any
backbone of :data:`actattn.backbones.BACKBONES` (``s3d`` stands in for I3D, see
:mod:`actattn.backbones.video`) over every clip and stores its map in half precision; the features
data module (:mod:`actattn.data.features`) trains any head on them with the ``precomputed`` backbone.

Jobs (:func:`list_jobs`):
- every video under ``--videos`` (recursively; :func:`~actattn.detect.list_videos`) ->
  ``OUT/{video stem}.pt``: the stem is the sample id (SSv2's ``id``, a CSV row's file stem);
- or, with ``--config RUN.yaml`` naming a ``format`` and its ``files`` (:func:`format_jobs`), every
  sample of its data section's stages -> ``OUT/{sample id, / as _}.pt`` (:func:`~actattn.data.records.sample_key`), the
  name the features data module reads; a segment (HACS clip, EPIC segment) from its own frames
  (seconds through the video's frame rate, as :func:`~actattn.data.video.frame_span` rounds them);
- with ``--conjugates PAIRS.json`` (the cache of ``actattn conjugates``, videos relative to the
  cache's folder, as it writes them, or to ``--conjugate-root``), every distinct conjugate clip, frames ``[start, stop)`` of a video ->
  ``OUT/conjugates/{video stem}_{start}-{stop}.pt`` (:func:`~actattn.feature_files.conjugate_file`), extracted from those
  frames alone, so the map of a lead-in never sees the action that follows it.

Frames are decoded one at a time (PyAV), resized to ``--size H W`` (bilinear, antialiased; the
paper's 256 352; default: as decoded), scaled to [0, 1] and normalised with the backbone's
``mean``/``std`` (Kinetics' for the video trunks, ImageNet's for the others). The whole clip goes
through the backbone at once by default (the paper's way; memory grows with the clip's length). With
``--window N`` (``--stride S``, default N, at most N) windows of N frames start every S frames, a
window adding no new frame is not run and the last may be shorter; memory then holds one batch of
windows (``--batch-size`` of them). The map is the windows' maps concatenated in time; with
S < N consecutive windows' steps cover overlapping frames.

The file layout is :mod:`actattn.feature_files`'s. A file that does not load, or was made with other
settings, is not complete and is extracted again (resume); partial files of a killed run are removed.
Bad videos (missing, undecodable, truncated) are skipped with a warning and counted. Each rank
writes ``OUT/summary.rank{R}.json``; under ``torchrun`` rank ``r`` of ``w`` takes jobs ``r, r + w,
...`` of the sorted list (:func:`~actattn.detect.shard`), on ``cuda:LOCAL_RANK`` where there is
CUDA. Random weights (``--weights random``) are seeded, so every rank builds the same network.
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from actattn.backbones import BACKBONES, create_backbone
from actattn.conjugates import load_pairs
from actattn.data.records import load_format, sample_key
from actattn.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from actattn.data.video import VideoDecodeError, frame_span, iter_frames, video_fps
from actattn.detect import list_videos
from actattn.feature_files import SUFFIX, VERSION, FeatureMap, conjugate_name
from actattn.jobs import cache_jobs, default_device, world_position, write_summary

WEIGHTS_CHOICES = ("pretrained", "random")


class FeatureRangeError(ValueError):
    """A clip's map has values beyond float16's range (+-65504): it is not stored, and counted as bad."""


@dataclass(frozen=True)
class ExtractSettings:
    """What a feature file depends on; a file made with other settings is redone on resume.

    ``weights``: ``"pretrained"`` (the backbone's ``pretrained=True``), ``"random"`` (seeded, for
    tests) or a local state-dict file (the backbone's ``weights_path`` where it takes one, else
    loaded into the whole module). ``size``: ``(H, W)`` frames are resized to (None: as decoded).
    ``window``/``stride``: frames per backbone call and between window starts (None: the whole clip).
    """

    backbone: str = "s3d"
    backbone_kwargs: dict[str, Any] = field(default_factory=dict)
    weights: str = "pretrained"
    size: tuple[int, int] | None = None
    window: int | None = None
    stride: int | None = None

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES or self.backbone == "precomputed":
            choices = sorted(set(BACKBONES) - {"precomputed"})
            raise ValueError(f"backbone must be one of {choices}, got {self.backbone!r}")
        if self.size is not None:
            if len(self.size) != 2 or min(self.size) < 1:
                raise ValueError(f"size must be (H, W) >= 1, got {self.size}")
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))
        if self.window is None and self.stride is not None:
            raise ValueError("stride needs window (the whole clip has no stride)")
        if self.window is not None:
            stride = self.window if self.stride is None else self.stride
            if self.window < 1 or not 1 <= stride <= self.window:
                raise ValueError(f"need window >= 1 and 1 <= stride <= window, got window {self.window}, "
                                 f"stride {stride}")
            object.__setattr__(self, "stride", stride)
        if any(key in self.backbone_kwargs for key in ("pretrained", "weights_path")):
            raise ValueError("give the backbone's weights with weights ('pretrained', 'random' or a file), "
                             "not in backbone_kwargs")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class Job:
    """One clip to extract into ``OUT/{name}.pt``: frames ``frames`` (``[start, stop)``) of ``video``,
    or its ``segment`` (``(start, stop)`` seconds), or (neither) all of it."""

    video: Path
    name: str
    frames: tuple[int, int] | None = None
    segment: tuple[float, float] | None = None

    def frame_range(self) -> tuple[int, int] | None:
        """``frames``, or ``segment``'s through the video's frame rate (a segment past the end is cut where decoding ends)."""
        if self.segment is None:
            return self.frames
        span = frame_span(self.video, sys.maxsize, video_fps(self.video), self.segment)
        return span.first, span.stop


def format_jobs(data: Mapping[str, Any], video_dir: str | Path | None = None) -> list[Job]:
    """One job per sample of the stages of a run config's data section: its ``format``, ``files``,
    ``task``, ``split``, ``splits``, ``reader_options``, ``strict``, ``video_ext`` and ``video_dir``
    (else ``video_dir`` here), read as :mod:`actattn.data.records` reads them. Video files only (no
    frame folders); a missing video is a job that fails as a bad video; a sample of two stages is one job."""
    if "files" not in data:
        raise ValueError("the config's data section names no official files (format and files) to list samples from")
    if data.get("frames_dir") is not None:
        raise ValueError("actattn extract reads video files, not frame folders (data.frames_dir)")
    loaded = load_format(data.get("format", "ssv2"), data["files"], task=data.get("task"), split=data.get("split"),
                         splits=data.get("splits"), options=data.get("reader_options"),
                         strict=data.get("strict", True), video_dir=data.get("video_dir", video_dir),
                         video_ext=data.get("video_ext"))
    jobs = []
    for stage in loaded.stages.values():
        for sample, record in zip(stage.samples, stage.records):
            if record.path.is_dir():
                raise ValueError(f"actattn extract reads video files; {record.path} (sample {sample.id}) is a folder")
            jobs.append(Job(record.path, sample_key(sample.id), segment=record.segment))
        jobs += [Job(path, sample_key(sample_id)) for sample_id, path in stage.missing]
    return list(dict.fromkeys(jobs))


def list_jobs(videos: str | Path | None = None, conjugates: str | Path | None = None,
              conjugate_root: str | Path | None = None, data: Mapping[str, Any] | None = None) -> list[Job]:
    """The videos under ``videos`` (with ``data``, a run config's data section: its samples,
    :func:`format_jobs`, ``videos`` their folder where it names none) and the distinct conjugate
    clips of the cache ``conjugates`` (videos relative to ``conjugate_root``, default the cache's folder),
    sorted by name."""
    if videos is None and conjugates is None and data is None:
        raise ValueError("nothing to extract: give a folder of videos or a data config, a conjugate cache, or both")
    if data is not None:
        jobs = format_jobs(data, videos)
    else:
        jobs = [Job(video, video.stem) for video in list_videos(videos)] if videos is not None else []
    if conjugates is not None:
        root = Path(conjugate_root) if conjugate_root is not None else Path(conjugates).parent
        distinct = {(c.video, c.start, c.stop): c for items in load_pairs(conjugates).values() for c in items}
        jobs += [Job(root / c.video, conjugate_name(c), (c.start, c.stop)) for c in distinct.values()]
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise ValueError(f"two clips would share a feature file: {sorted(n for n in names if names.count(n) > 1)[:3]}")
    return sorted(jobs, key=lambda job: job.name)


def build_backbone(settings: ExtractSettings) -> nn.Module:
    """The backbone of ``settings`` with its weights, in eval mode (random weights are seeded: every
    rank builds the same network)."""
    kwargs = dict(settings.backbone_kwargs)
    path = None if settings.weights in WEIGHTS_CHOICES else Path(settings.weights)
    if path is not None and not path.is_file():
        raise ValueError(f"--weights {path}: no such file (or pass 'pretrained' or 'random')")
    takes_path = "weights_path" in inspect.signature(BACKBONES[settings.backbone]).parameters
    if settings.weights == "pretrained":
        kwargs["pretrained"] = True
    elif path is not None and takes_path:
        kwargs["weights_path"] = path
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        backbone = create_backbone(settings.backbone, **kwargs)
    if path is not None and not takes_path:
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:
            backbone.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as err:
            raise ValueError(f"{path}: not a state dict of backbone {settings.backbone} ({err})") from err
    return backbone.eval()


def _frame(image: np.ndarray, size: tuple[int, int] | None) -> Tensor:
    """(H, W, 3) uint8 -> (3, H', W') uint8, resized to ``size`` (bilinear, antialiased) if given."""
    frame = torch.from_numpy(image).permute(2, 0, 1)
    if size is None or tuple(frame.shape[1:]) == size:
        return frame.contiguous()
    resized = F.interpolate(frame[None].float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    return resized[0].round_().clamp_(0, 255).to(torch.uint8)


def iter_windows(path: str | Path, settings: ExtractSettings,
                 frames: tuple[int, int] | None = None) -> Iterator[tuple[int, Tensor]]:
    """``(first frame, (n, 3, H, W) uint8)`` per window of ``settings`` over frames ``frames`` of
    ``path`` (module docstring), decoded one frame at a time; at most one window is held."""
    start, stop = frames if frames is not None else (0, None)
    window, stride = settings.window, settings.stride
    buffer: list[Tensor] = []
    first, covered = start, start  # the frames before ``covered`` are in a window already given out
    for index, image in iter_frames(path):
        if index < start:
            continue
        if stop is not None and index >= stop:
            break
        buffer.append(_frame(image, settings.size))
        if window is not None and len(buffer) == window:
            yield first, torch.stack(buffer)
            covered = first + window
            del buffer[:stride]
            first += stride
    if buffer and first + len(buffer) > covered:
        yield first, torch.stack(buffer)
    elif covered == start:
        raise VideoDecodeError(path, f"has no frame in [{start}, {stop})")


def step_spans(first: int, length: int, steps: int, temporal_stride: int) -> np.ndarray:
    """(steps, 2) frames ``[first, stop)`` each output step of a ``length``-frame window covers."""
    if steps == -(-length // temporal_stride):
        starts = first + temporal_stride * np.arange(steps)
        return np.stack([starts, np.minimum(starts + temporal_stride, first + length)], axis=1)
    bounds = first + (np.arange(steps + 1) * length) // steps  # a backbone of other rounding: even split
    return np.stack([bounds[:-1], bounds[1:]], axis=1)


@torch.no_grad()
def _features(backbone: nn.Module, clips: Tensor, device: torch.device) -> Tensor:
    """(N, n, 3, H, W) uint8 windows -> (N, T', C, H', W') float16 on the CPU."""
    mean = torch.tensor(getattr(backbone, "mean", IMAGENET_MEAN), device=device).view(1, 3, 1, 1, 1)
    std = torch.tensor(getattr(backbone, "std", IMAGENET_STD), device=device).view(1, 3, 1, 1, 1)
    video = rearrange(clips.to(device), "b t c h w -> b c t h w").float().div_(255).sub_(mean).div_(std)
    return backbone(video).to(torch.float16).cpu()


def extract_clip(path: str | Path, backbone: nn.Module, settings: ExtractSettings,
                 frames: tuple[int, int] | None = None, batch_size: int = 1) -> FeatureMap:
    """The map of frames ``frames`` (all if None) of ``path``; a bad video raises
    :class:`VideoDecodeError`, a map beyond float16's range :class:`FeatureRangeError`."""
    device = next(backbone.parameters(), torch.empty(0)).device
    temporal_stride = getattr(backbone, "temporal_stride", 1)
    maps, spans, pending = [], [], []
    size = None

    def flush() -> None:
        if not pending:
            return
        out = _features(backbone, torch.stack([clip for _, clip in pending]), device)
        for (first, clip), feats in zip(pending, out):
            maps.append(feats)
            spans.append(step_spans(first, len(clip), len(feats), temporal_stride))
        pending.clear()

    start = stop = None
    for first, clip in iter_windows(path, settings, frames):
        if pending and (len(pending) == batch_size or len(pending[0][1]) != len(clip)):
            flush()
        pending.append((first, clip))
        start = first if start is None else start
        stop, size = first + len(clip), list(clip.shape[-2:])
    flush()
    features = torch.cat(maps)
    if not torch.isfinite(features).all():
        raise FeatureRangeError(f"{path}: feature values beyond float16's range (+-65504); not stored")
    meta = {"version": VERSION, "settings": settings.to_json(), "video": str(path), "frames": [start, stop],
            "fps": video_fps(path), "input_size": size, "out_channels": int(features.shape[1]),
            "output_stride": int(backbone.output_stride), "temporal_stride": int(temporal_stride)}
    return FeatureMap(features, torch.from_numpy(np.concatenate(spans)).long(), meta)


def is_complete(path: Path, settings: ExtractSettings) -> bool:
    """Whether ``path`` is a whole feature file made with ``settings`` (a resumed run skips it)."""
    if not path.is_file():
        return False
    try:
        return FeatureMap.load(path).meta["settings"] == settings.to_json()
    except ValueError:
        return False


def extract_jobs(jobs: Sequence[Job], out: str | Path, backbone: nn.Module, settings: ExtractSettings, *,
                 batch_size: int = 1, rank: int = 0, world_size: int = 1, progress: bool = True) -> dict:
    """Extract this rank's share of ``jobs`` into ``out``; returns (and writes) the rank's summary.

    Complete files are skipped (resume); a bad video (missing, undecodable or truncated) is skipped
    with a warning naming it and counted.
    """
    out = Path(out)
    counts = cache_jobs(jobs, out, target=lambda job: out / f"{job.name}{SUFFIX}", name=lambda job: job.name,
                        complete=lambda path: is_complete(path, settings),
                        make=lambda job, path: extract_clip(job.video, backbone, settings, job.frame_range(),
                                                            batch_size).save(path),
                        bad_errors=(VideoDecodeError, FeatureRangeError), rank=rank, world_size=world_size,
                        desc="extract", progress=progress)
    return write_summary({"settings": json.loads(settings.to_json()), "rank": rank, "world_size": world_size,
                          "clips": counts["jobs"], "extracted": counts["done"], "resumed": counts["resumed"],
                          "bad": counts["bad"]}, out, rank)


def cmd_extract(args: argparse.Namespace) -> None:
    """Run ``actattn extract`` on this rank's share and print its counts."""
    try:
        kwargs = json.loads(args.backbone_kwargs)
    except json.JSONDecodeError as err:
        raise ValueError(f"--backbone-kwargs {args.backbone_kwargs!r}: not JSON ({err})") from None
    if not isinstance(kwargs, dict):
        raise ValueError(f"--backbone-kwargs must be a JSON object, got {args.backbone_kwargs!r}")
    settings = ExtractSettings(backbone=args.backbone, backbone_kwargs=kwargs, weights=args.weights,
                               size=tuple(args.size) if args.size else None, window=args.window, stride=args.stride)
    data = None
    if args.config is not None:
        from actattn.config import read_config  # the config module builds on this one

        data = read_config(args.config).get("data") or {}
    jobs = list_jobs(args.videos, args.conjugates, args.conjugate_root, data)
    rank, world_size = world_position()
    backbone = build_backbone(settings).to(args.device or default_device())
    summary = extract_jobs(jobs, args.out, backbone, settings, batch_size=args.batch_size, rank=rank,
                           world_size=world_size)
    print(f"rank {rank}/{world_size}: {summary['extracted']} clips extracted, {summary['resumed']} already done, "
          f"{len(summary['bad'])} bad videos skipped; features in {args.out}")


def add_extract_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``actattn extract`` to the CLI's subcommands."""
    p = sub.add_parser("extract", help="backbone feature maps of a folder of videos (and conjugate clips), "
                                       "float16 per clip (one command on a CPU or, under torchrun, sharded over GPUs)")
    p.add_argument("--videos", help="folder of videos, searched recursively: OUT/{video stem}.pt each "
                                    "(with --config: the videos' folder where data.video_dir is not set)")
    p.add_argument("--config", help="a run config whose data section names a format and its files: every sample "
                                    "of its stages (a segment from its own frames) -> OUT/{sample id, / as _}.pt")
    p.add_argument("--conjugates", help="a conjugate cache (actattn conjugates): each distinct clip "
                                        "-> OUT/conjugates/{video stem}_{start}-{stop}.pt")
    p.add_argument("--conjugate-root", help="folder the cache's video paths start from (default: the cache's folder)")
    p.add_argument("--out", required=True, help="the feature folder; a rerun resumes")
    p.add_argument("--backbone", default="s3d", help="a backbone name (s3d stands in for the paper's I3D)")
    p.add_argument("--backbone-kwargs", default="{}",
                   help='the backbone\'s keywords as JSON, e.g. \'{"stride1_last": true}\'')
    p.add_argument("--weights", default="pretrained",
                   help="'pretrained' (torchvision's weights), 'random' (tests), or a local state-dict file")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"),
                   help="resize frames to H x W (the paper: 256 352); default: as decoded")
    p.add_argument("--window", type=int, help="frames per backbone call (default: the whole clip, as the paper)")
    p.add_argument("--stride", type=int, help="frames between window starts (default: --window)")
    p.add_argument("--batch-size", type=int, default=1, help="windows per backbone call")
    p.add_argument("--device", help="default: cuda:LOCAL_RANK where CUDA is available, else cpu")
    p.set_defaults(func=cmd_extract)
    return p
