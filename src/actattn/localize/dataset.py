"""Localising a split or one video with a trained model, the scores over it, and ``actattn localize``.

Per clip, :func:`actattn.localize.run.localize_frames` gives the boxes, the interval and the
affordance masks (the Dual Attention paper's Sec. 4); where SynthHOI ground truth exists, a split
is scored by box AP, temporal IoU and mask IoU (:mod:`actattn.localize.evaluate`) and, for each
map the model returns, by the pointing game and the mass in box against the hand's and the
manipulated objects' boxes, beside a uniform map's (:mod:`actattn.localize.interpret`).
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm import tqdm

from actattn.data.object_slots import paste_objects
from actattn.data.ssv2 import read_split, release_file
from actattn.data.video import read_video, video_fps
from actattn.localize.evaluate import GroundTruth, LocalizationScores, box_average_precision, evaluate_clip, summarize
from actattn.localize.interpret import clip_interpretability, pool_scores
from actattn.localize.run import (
    NULL_OBJECT,
    clip_record,
    coverage_boxes,
    localize_frames,
    write_pictures,
    write_report,
)
from actattn.train import ActionRecognizer

if TYPE_CHECKING:
    from actattn.data.objects import ObjectSource
    from actattn.data.ssv2_objects import ObjectVocabulary

VIDEO_EXTENSIONS = (".mp4", ".webm")


def localize_video(module: ActionRecognizer, video_path: str | Path, out: str | Path, *,
                   map_key: str | None = None) -> dict[str, Any]:
    """Localise one video file; write ``out/localization.json`` and ``out/pictures/``; return its record."""
    path, out = Path(video_path), Path(out)
    video = localize_frames(module, read_video(path), video_fps(path), map_key=map_key)
    names = module.hparams.class_names
    write_pictures(path.stem, video, names, out / "pictures")
    record = clip_record(path.stem, video, names, video=str(path))
    write_report(out / "localization.json", module, [record], None)
    return record


def _video_file(folder: Path, clip_id: str, split: Path) -> Path:
    for extension in VIDEO_EXTENSIONS:
        if (folder / f"{clip_id}{extension}").is_file():
            return folder / f"{clip_id}{extension}"
    raise FileNotFoundError(f"{split}: no video for id {clip_id} in {folder} (tried {', '.join(VIDEO_EXTENSIONS)})")


def frame_objects(source: ObjectSource, video_id: str, shape: tuple[int, int, int]) -> dict[str, torch.Tensor]:
    """``object_masks`` (T, K, m, m) and ``object_classes`` (T, K) of every frame of a video of
    ``shape`` (T, H, W), on the source's grid over the whole frame (localisation resizes the frames
    without cropping them). Simulated detector noise, if the source has any, is drawn from seed 0."""
    num_frames, height, width = shape
    read = source.read(video_id, list(range(num_frames)), (height, width), np.random.default_rng(0))
    masks, classes = paste_objects(read["object_boxes"], read["object_box_masks"], read["object_classes"],
                                   (height, width), source.mask_size)
    return {"object_masks": masks, "object_classes": classes}


def localize_dataset(
    module: ActionRecognizer,
    data: str | Path,
    out: str | Path,
    *,
    count: int = 8,
    map_key: str | None = None,
    objects: ObjectVocabulary | None = None,
    object_source: ObjectSource | None = None,
    seed: int = 0,
    pictures: int | None = None,
    progress: bool = True,
) -> LocalizationScores | None:
    """Localise the first ``count`` clips of an SSv2-layout split; write ``out/localization.json``
    and ``out/pictures/`` (of the first ``pictures`` clips; all if None); return the scores over
    the clips with ground truth (None if none has): box AP (and that of the true boxes' own cell
    coverage, the grid's reference), temporal and mask IoU, and each map's pointing game and mass
    in box.

    ``data`` is a split file or a root holding ``something-something-v2-validation.json``; videos
    are ``videos/{id}.mp4`` or ``.webm`` beside it, ground truth ``groundtruth/{id}.npz`` (SynthHOI)
    where present. ``objects`` (the training run's object vocabulary) gives the clips their object
    labels, which a ``gt_priors`` model needs; ``object_source`` every frame's object instances,
    which an object-based model (ORN) needs (:func:`frame_objects`).
    """
    from actattn.data.synthetic import load_groundtruth

    data, out = Path(data), Path(out)
    split = release_file(data, "validation") if data.is_dir() else data
    names = module.hparams.class_names
    entries = read_split(split, {name: i for i, name in enumerate(names)})[:count]
    records, evaluations, coverage, interpretability = [], [], [], {}
    for position, entry in enumerate(tqdm(entries, desc=f"localize -> {out}", unit="clip", disable=not progress)):
        path = _video_file(split.parent / "videos", entry.id, split)
        labels = None
        if entry.label is not None and objects is not None:
            labels = (entry.label, objects.labels(entry.placeholders))
        frames = read_video(path)
        frame_inputs = None if object_source is None else frame_objects(object_source, entry.id, frames.shape[:3])
        video = localize_frames(module, frames, video_fps(path), map_key=map_key, labels=labels,
                                frame_inputs=frame_inputs, null_object=NULL_OBJECT if objects is None else objects.null)
        truth_file = split.parent / "groundtruth" / f"{entry.id}.npz"
        truth = GroundTruth.from_arrays(load_groundtruth(truth_file), str(truth_file)) if truth_file.is_file() else None
        extra = {"video": str(path)} | ({} if entry.label is None else {"true": {"label": entry.label,
                                                                               "name": names[entry.label]}})
        if truth is not None:
            evaluation = evaluate_clip(video.localization, truth, np.random.default_rng([seed, position]))
            evaluations.append(evaluation)
            coverage.append((*coverage_boxes(truth, video.geometry, evaluation.frames), evaluation.true_boxes))
            maps = {name: clip_interpretability(m, video.geometry, truth) for name, m in video.attention.maps.items()}
            for name, clip_scores in maps.items():
                interpretability.setdefault(name, []).append(clip_scores)
            clip = replace(summarize([evaluation]), interpretability=maps)
            extra["scores"] = {"evaluation_frames": evaluation.frames, **clip.as_dict()}
        if pictures is None or position < pictures:
            write_pictures(entry.id, video, names, out / "pictures", truth)
        records.append(clip_record(entry.id, video, names, **extra))
    scores = None
    if evaluations:
        pooled = {name: pool_scores(clips) for name, clips in interpretability.items()}
        scores = replace(summarize(evaluations), interpretability=pooled,
                         box_ap_coverage=box_average_precision(*(sum(lists, []) for lists in zip(*coverage))))
    write_report(out / "localization.json", module, records, scores)
    return scores


# -------------------------------------------------------------------------------------------- CLI
def add_localize_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``actattn localize`` to the CLI's subcommands."""
    p = sub.add_parser("localize", help="object boxes, action interval and affordance masks from attention maps")
    p.add_argument("--checkpoint", required=True)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="SSv2-layout root (its validation split) or a split JSON file")
    source.add_argument("--video", help="one video file")
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=8, help="clips of the split to localise (the first ones)")
    p.add_argument("--map", dest="map_key", help="attention map of the boxes and interval (default: object, "
                                                 "combined, top_down: the first the model has); the affordance "
                                                 "masks use the action map where the model has one")
    p.add_argument("--objects", help="the training run's object vocabulary (objects_file): ground-truth object "
                                     "labels for a gt_priors model")
    p.add_argument("--object-source", choices=("synthhoi", "detections"),
                   help="every frame's object instances, for an object-based model (ORN): SynthHOI's ground truth "
                        "(groundtruth/ beside the split) or an `actattn detect` cache (--object-dir)")
    p.add_argument("--object-dir", help="the detection cache (or another SynthHOI groundtruth folder)")
    p.set_defaults(func=cmd_localize)
    return p


def format_scores(scores: LocalizationScores) -> str:
    """The scores as a two-column table."""
    values = scores.as_dict()
    width = max(map(len, values)) + 2
    return "\n".join(f"{name:<{width}}{value:8.3f}" for name, value in values.items())


def cmd_localize(args: argparse.Namespace) -> None:
    """Run ``actattn localize`` and print the scores table (or the one video's result)."""
    from actattn.checkpoint import load_module
    from actattn.data.object_sources import build_object_source
    from actattn.data.ssv2_objects import ObjectVocabulary

    module = load_module(args.checkpoint, "cuda" if torch.cuda.is_available() else "cpu")
    out = Path(args.out)
    if args.video:
        record = localize_video(module, args.video, out, map_key=args.map_key)
        print(f"{args.video}: predicted '{record['predicted']['name']}', action in frames "
              f"{record['interval'][0]}..{record['interval'][1] - 1}")
    else:
        objects = ObjectVocabulary.load(args.objects) if args.objects else None
        source = None
        if args.object_source:
            split = release_file(Path(args.data), "validation") if Path(args.data).is_dir() else Path(args.data)
            folder = args.object_dir or split.parent / "groundtruth"
            source = build_object_source(args.object_source, detections_dir=folder, groundtruth_dir=folder)
        scores = localize_dataset(module, args.data, out, count=args.count, map_key=args.map_key, objects=objects,
                                  object_source=source)
        print(format_scores(scores) if scores is not None else "no ground truth: nothing to score")
    print(f"localization: {out / 'localization.json'}   pictures: {out / 'pictures'}")
