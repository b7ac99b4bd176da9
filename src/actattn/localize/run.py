"""Weakly-supervised localisation with a trained model (Dual Attention Network, Section 4).

A video -> the attention map of every frame -> per frame the object boxes and their scores, the
action's interval, per frame the affordance mask -> ``localization.json`` and pictures; where
SynthHOI ground truth exists, box AP at IoU 0.3/0.4/0.5 (Table 4), temporal IoU and mask IoU.

Choices (the paper's numbers where it gives them):
- Input: every decoded frame, resized so that its short side is the checkpoint's crop size,
  not cropped (ground-truth pixels map back by a scale factor), ImageNet-normalised.
- Maps of all T frames (Sec. 4.1). Heads with TSN consensus (average and attentional pooling,
  DualAttention with ``temporal="tsn"``) take any T: one forward on all frames gives the
  prediction and the maps. DualAttention with ``temporal="trn"`` needs T = ``num_frames``: the
  prediction comes from a forward on that many test-sampled frames (TSN segment centres); its
  priors (first-step softmax in ``"dual"``, one-hot ground truth in ``"gt_priors"``, none in
  ``"self"``) then steer the dual attention module alone on the features of all frames.
- Map: ``map_key=None`` takes ``"object"`` if the head returns it (DualAttention), else
  ``"combined"`` (attentional pooling), else ``"top_down"`` (average pooling).
- Weights: a map that is a distribution over each frame's positions (DualAttention's softmax) is
  used as it is; any other map (unnormalised scores) is made one by a softmax over each frame's
  positions, the form of eq. 8-9, since eq. 12 compares distributions and the 60%-of-maximum
  rule needs a positive maximum.
- Geometry: feature cell (i, j) covers input pixels [i s, (i + 1) s) x [j s, (j + 1) s) for the
  backbone's output stride s; maps are upsampled bilinearly over that extent at the original
  frame's scale and cropped to the frame, so boxes and masks are in original-frame pixels.
- Boxes: at 60% of each frame's maximum; the number of objects is the number of ``something``
  placeholders in the predicted class's name, clipped to 1..2. Interval: 1/3 s segments at the
  video's fps, KL threshold 0.06, 1 s minimum. Affordance: 60% of the maximum of the same map;
  the paper segments the ground-truth-object-guided map (the ``"object"`` map of a ``gt_priors``
  model given the true labels), and the JSON says which map was used.
- Evaluation: see :mod:`actattn.localize.evaluate`.
- ``localization.json`` stores each frame's affordance mask as COCO uncompressed RLE
  (``{"size": [H, W], "counts": [...]}``: column-major runs, starting with a run of zeros), which
  ``pycocotools.mask.frPyObjects`` reads, as does :func:`decode_mask`.
"""
from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from einops import rearrange
from torch import Tensor
from tqdm import tqdm

from actattn.data.sampling import segment_indices
from actattn.data.ssv2 import read_split, release_file
from actattn.data.transforms import Compose, Normalize, Resize
from actattn.data.video import read_video, video_fps
from actattn.heads import DualAttention
from actattn.localize.affordance import affordance_mask
from actattn.localize.evaluate import EVALUATION_FRAMES, GroundTruth, LocalizationScores, evaluate_clip, summarize
from actattn.localize.spatial import Box, box_scores, boxes_from_attention, upsample_map
from actattn.localize.temporal import frames_per_segment, segment_changes, trim_interval
from actattn.train import ActionRecognizer, makes_maps
from actattn.viz.localization import affordance_figure, attention_strip, localization_figure

if TYPE_CHECKING:
    from actattn.data.ssv2_objects import ObjectVocabulary

BOX_THRESHOLD = AFFORDANCE_THRESHOLD = 0.6
SEGMENT_SECONDS, KL_THRESHOLD, MIN_SECONDS = 1 / 3, 0.06, 1.0
MAP_PREFERENCE = ("object", "combined", "top_down")
VIDEO_EXTENSIONS = (".mp4", ".webm")


# ------------------------------------------------------------------------------ maps of every frame
@dataclass
class FrameAttention:
    """Every frame's attention: ``maps`` name -> (T, h, w) on the feature grid, as the head returns
    them; ``logits`` task -> (K,) of the forward whose prediction the maps go with."""

    maps: dict[str, Tensor]
    logits: dict[str, Tensor]


def video_input(frames: np.ndarray, image_size: int) -> Tensor:
    """(T, H, W, 3) uint8 -> (3, T, h, w) float32: short side ``image_size``, no crop, normalised."""
    return Compose([Resize(image_size), Normalize()])({"frames": frames})["video"]


@torch.no_grad()
def frame_attention(
    module: ActionRecognizer, video: Tensor, labels: tuple[int, tuple[int, int]] | None = None
) -> FrameAttention:
    """The maps of all T frames of ``video`` (3, T, h, w); see the module docstring.

    ``labels`` = (action, (object, object_2)) ground truth, required by a ``gt_priors`` model.
    """
    module.eval()
    head = module.model.head
    is_dual = isinstance(head, DualAttention)
    if not makes_maps(head):
        raise ValueError(f"DualAttention(mode={head.mode!r}) makes no attention maps to localise with")
    if is_dual and head.mode == "gt_priors" and labels is None:
        raise ValueError("a DualAttention 'gt_priors' model needs the ground-truth action and object labels: "
                         "localise dataset clips and give the object vocabulary")
    batch = {"video": video[None].to(module.device)}
    if labels is not None:
        batch["label"] = torch.tensor([labels[0]], device=module.device)
        batch["objects"] = torch.tensor([labels[1]], device=module.device)
    if not (is_dual and head.temporal == "trn"):
        out = module.run(batch)
        return FrameAttention({k: v[0] for k, v in out.attention.items()}, {k: v[0] for k, v in out.logits.items()})
    indices = segment_indices(video.shape[1], head.num_frames, train=False)
    out = module.run({**batch, "video": batch["video"][:, :, indices]})
    feats = module.model.backbone(batch["video"])
    priors = head.priors(out.logits, batch.get("label"), batch.get("objects"), feats)
    alpha, beta = head.attention(rearrange(feats, "b t c h w -> b t (h w) c"), *priors)
    height = feats.shape[-2]
    maps = {"action": rearrange(alpha[0], "t (h w) -> t h w", h=height),
            "object": rearrange(beta[0], "t (h w) -> t h w", h=height)}
    return FrameAttention(maps, {k: v[0] for k, v in out.logits.items()})


def choose_map(names: Sequence[str], map_key: str | None = None) -> str:
    """``map_key`` if the model returns it; for None the first of "object", "combined", "top_down"."""
    if map_key is not None and map_key not in names:
        raise ValueError(f"the model returns no {map_key!r} map; it returns {sorted(names)}")
    key = map_key or next((name for name in MAP_PREFERENCE if name in names), None)
    if key is None:
        raise ValueError(f"none of the maps {sorted(names)} is one of {MAP_PREFERENCE}: pass map_key")
    return key


def attention_weights(maps: Tensor) -> tuple[Tensor, bool]:
    """Maps (T, h, w) -> per-frame distributions over positions, and whether they already were ones."""
    flat = rearrange(maps.detach().float().cpu(), "t h w -> t (h w)")
    is_distribution = bool((flat >= 0).all()) and torch.allclose(flat.sum(-1), torch.ones(len(flat)), atol=1e-3)
    weights = flat if is_distribution else flat.softmax(dim=-1)
    return rearrange(weights, "t (h w) -> t h w", h=maps.shape[-2]), is_distribution


def objects_in_template(class_name: str) -> int:
    """Objects an action involves: its ``something`` placeholders, at least 1, at most 2."""
    return min(2, max(1, len(re.findall(r"\bsomething\b", class_name, re.IGNORECASE))))


@dataclass(frozen=True)
class FrameGeometry:
    """Where the feature grid lies on the original frame: ``frame_size`` (H, W) decoded,
    ``input_size`` (h, w) the model saw, ``stride`` input pixels per feature cell."""

    frame_size: tuple[int, int]
    input_size: tuple[int, int]
    stride: int

    def to_frame(self, maps: Tensor) -> Tensor:
        """Maps (T, h', w') on the feature grid -> (T, H, W) on the frame, bilinearly."""
        (height, width), (in_h, in_w), s = self.frame_size, self.input_size, self.stride
        grid = (-(-in_h // s), -(-in_w // s))
        if tuple(maps.shape[-2:]) != grid:
            raise ValueError(f"maps {tuple(maps.shape)}: expected a {grid} grid for {in_h}x{in_w} input at stride {s}")
        extent = (round(grid[0] * s * height / in_h), round(grid[1] * s * width / in_w))
        return upsample_map(maps, extent)[:, :height, :width]


# ------------------------------------------------------------------------------------ localisation
@dataclass
class Localization:
    """One video's localisation in original-frame pixels: per frame the ``boxes`` (x1, y1, x2, y2)
    and their ``scores``; the action ``interval`` (start, end), end exclusive; ``changes``, the KL
    divergence between consecutive segments of ``segment_frames`` frames (eq. 12); ``affordance``
    (T, H, W) bool."""

    boxes: list[list[Box]]
    scores: list[list[float]]
    interval: tuple[int, int]
    changes: list[float]
    segment_frames: int
    affordance: np.ndarray


def localize_maps(weights: Tensor, geometry: FrameGeometry, fps: float, num_objects: int) -> Localization:
    """Boxes, interval and affordance masks from per-frame distributions (T, h', w') (Sec. 4.1, 4.2)."""
    frame_maps = geometry.to_frame(weights)
    boxes = [boxes_from_attention(m, BOX_THRESHOLD, num_objects=num_objects) for m in frame_maps]
    return Localization(
        boxes=boxes,
        scores=[box_scores(m, b) for m, b in zip(frame_maps, boxes)],
        interval=trim_interval(weights, fps, SEGMENT_SECONDS, KL_THRESHOLD, MIN_SECONDS),
        changes=segment_changes(weights, fps, SEGMENT_SECONDS).tolist(),
        segment_frames=frames_per_segment(fps, SEGMENT_SECONDS),
        affordance=np.stack([affordance_mask(m, AFFORDANCE_THRESHOLD).numpy() for m in frame_maps]),
    )


@dataclass
class LocalizedVideo:
    """A video, the attention of all its frames, the map used (``map_key``; ``softmaxed`` if it was
    made a distribution), the predicted class and the localisation."""

    frames: np.ndarray
    fps: float
    attention: FrameAttention
    map_key: str
    softmaxed: bool
    predicted: int
    localization: Localization


def localize_frames(
    module: ActionRecognizer,
    frames: np.ndarray,
    fps: float,
    *,
    map_key: str | None = None,
    labels: tuple[int, tuple[int, int]] | None = None,
) -> LocalizedVideo:
    """Localise in decoded frames (T, H, W, 3) uint8 played at ``fps``; ``labels`` as in frame_attention."""
    hp = module.hparams
    video = video_input(frames, hp.pipeline["size"])
    attention = frame_attention(module, video, labels)
    key = choose_map(list(attention.maps), map_key)
    weights, is_distribution = attention_weights(attention.maps[key])
    geometry = FrameGeometry(frames.shape[1:3], tuple(video.shape[-2:]), module.model.backbone.output_stride)
    predicted = int(attention.logits["action"].argmax())
    localization = localize_maps(weights, geometry, fps, objects_in_template(hp.class_names[predicted]))
    return LocalizedVideo(frames, fps, attention, key, not is_distribution, predicted, localization)


# ------------------------------------------------------------------------------------- files
def encode_mask(mask: np.ndarray) -> dict[str, list[int]]:
    """A bool (H, W) mask as COCO uncompressed RLE (column-major runs, zeros first)."""
    flat = np.asarray(mask, bool).ravel(order="F")
    bounds = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]])
    counts = np.diff(bounds).tolist()
    return {"size": list(mask.shape), "counts": [0, *counts] if flat[0] else counts}


def decode_mask(rle: Mapping[str, Sequence[int]]) -> np.ndarray:
    """COCO uncompressed RLE -> bool (H, W) mask."""
    height, width = rle["size"]
    flat = np.repeat(np.arange(len(rle["counts"])) % 2 == 1, rle["counts"])
    if flat.size != height * width:
        raise ValueError(f"RLE counts sum to {flat.size}, expected {height} x {width} = {height * width}")
    return flat.reshape((height, width), order="F")


def clip_record(clip_id: str, localized: LocalizedVideo, class_names: Sequence[str], **extra: Any) -> dict[str, Any]:
    """One clip's entry of ``localization.json``."""
    loc = localized.localization
    return {
        "id": clip_id, **extra, "fps": localized.fps, "frame_size": list(localized.frames.shape[1:3]),
        "predicted": {"label": localized.predicted, "name": class_names[localized.predicted]},
        "map": localized.map_key,
        "map_weights": "softmax over each frame's positions" if localized.softmaxed else "as returned",
        "interval": list(loc.interval), "segment_frames": loc.segment_frames, "segment_changes": [c if np.isfinite(c) else None for c in loc.changes],
        "frames": [{"boxes": [list(b) for b in boxes], "scores": scores, "affordance": encode_mask(mask)}
                   for boxes, scores, mask in zip(loc.boxes, loc.scores, loc.affordance)],
    }


def affordance_source(module: ActionRecognizer, map_key: str) -> str:
    """Which map the affordance masks come from, for the JSON."""
    head = module.model.head
    if isinstance(head, DualAttention) and head.mode == "gt_priors":
        paper = ", as the paper's Sec. 4.2" if map_key == "object" else ""
        return f"the {map_key} map guided by the ground-truth labels (gt_priors){paper}"
    return f"the {map_key} map with the model's own predictions; the paper uses a gt_priors model's object map"


def write_report(path: Path, module: ActionRecognizer, clips: list[dict], scores: LocalizationScores | None) -> Path:
    """Write ``localization.json`` (compact: one line; strict JSON, an infinite KL change is null)."""
    report = {
        "settings": {"box_threshold": BOX_THRESHOLD, "affordance_threshold": AFFORDANCE_THRESHOLD,
                     "segment_seconds": SEGMENT_SECONDS, "kl_threshold": KL_THRESHOLD, "min_seconds": MIN_SECONDS,
                     "evaluation_frames_per_video": EVALUATION_FRAMES},
        "affordance_map": affordance_source(module, clips[0]["map"]) if clips else None,
        "mask_encoding": "COCO uncompressed RLE: size [H, W], column-major run lengths starting with zeros",
        "scores": None if scores is None else scores.as_dict(),
        "clips": clips,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, allow_nan=False) + "\n", encoding="utf-8")
    return path


def write_pictures(clip_id: str, video: LocalizedVideo, class_names: Sequence[str], out: Path,
                   truth: GroundTruth | None = None) -> list[Path]:
    """The paper's Fig. 4 (maps), Fig. 6 (boxes, interval, KL changes) and Fig. 7 (affordance) for one clip."""
    loc, frames = video.localization, video.frames
    title = f"{clip_id}: predicted '{class_names[video.predicted]}'"
    maps = {name: m.float().cpu().numpy() for name, m in video.attention.maps.items()}
    true_boxes = None if truth is None else [truth.frame_boxes(t) for t in range(len(frames))]
    return [
        attention_strip(frames, maps, out / f"{clip_id}-attention.png", title),
        localization_figure(frames, loc.boxes, loc.interval, loc.changes, loc.segment_frames,
                            out / f"{clip_id}-localization.png", true_boxes=true_boxes, threshold=KL_THRESHOLD,
                            title=f"{title}; {video.map_key} map"),
        affordance_figure(frames, loc.affordance, out / f"{clip_id}-affordance.png", interval=loc.interval,
                          contact=None if truth is None else truth.contact, title=title),
    ]


# ---------------------------------------------------------------------------------- entry points
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


def localize_dataset(
    module: ActionRecognizer,
    data: str | Path,
    out: str | Path,
    *,
    count: int = 8,
    map_key: str | None = None,
    objects: ObjectVocabulary | None = None,
    seed: int = 0,
    pictures: int | None = None,
    progress: bool = True,
) -> LocalizationScores | None:
    """Localise the first ``count`` clips of an SSv2-layout split; write ``out/localization.json``
    and ``out/pictures/`` (of the first ``pictures`` clips; all if None); return the scores over
    the clips with ground truth (None if none has).

    ``data`` is a split file or a root holding ``something-something-v2-validation.json``; videos
    are ``videos/{id}.mp4`` or ``.webm`` beside it, ground truth ``groundtruth/{id}.npz`` (SynthHOI)
    where present. ``objects`` (the training run's object vocabulary) gives the clips their object
    labels, which a ``gt_priors`` model needs.
    """
    from actattn.data.synthetic import load_groundtruth

    data, out = Path(data), Path(out)
    split = release_file(data, "validation") if data.is_dir() else data
    names = module.hparams.class_names
    entries = read_split(split, {name: i for i, name in enumerate(names)})[:count]
    records, evaluations = [], []
    for position, entry in enumerate(tqdm(entries, desc=f"localize -> {out}", unit="clip", disable=not progress)):
        path = _video_file(split.parent / "videos", entry.id, split)
        labels = None
        if entry.label is not None and objects is not None:
            labels = (entry.label, objects.labels(entry.placeholders))
        video = localize_frames(module, read_video(path), video_fps(path), map_key=map_key, labels=labels)
        truth_file = split.parent / "groundtruth" / f"{entry.id}.npz"
        truth = GroundTruth.from_arrays(load_groundtruth(truth_file), str(truth_file)) if truth_file.is_file() else None
        extra = {"video": str(path)} | ({} if entry.label is None else {"true": {"label": entry.label,
                                                                               "name": names[entry.label]}})
        if truth is not None:
            evaluation = evaluate_clip(video.localization, truth, np.random.default_rng([seed, position]))
            evaluations.append(evaluation)
            extra["scores"] = {"evaluation_frames": evaluation.frames, **summarize([evaluation]).as_dict()}
        if pictures is None or position < pictures:
            write_pictures(entry.id, video, names, out / "pictures", truth)
        records.append(clip_record(entry.id, video, names, **extra))
    scores = summarize(evaluations) if evaluations else None
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
    p.add_argument("--map", dest="map_key", help="attention map to localise with (default: object, combined, "
                                                 "top_down: the first the model has)")
    p.add_argument("--objects", help="the training run's object vocabulary (objects_file): ground-truth object "
                                     "labels for a gt_priors model")
    p.set_defaults(func=cmd_localize)
    return p


def format_scores(scores: LocalizationScores) -> str:
    """The scores as a two-column table."""
    return "\n".join(f"{name:<14}{value:8.3f}" for name, value in scores.as_dict().items())


def cmd_localize(args: argparse.Namespace) -> None:
    """Run ``actattn localize`` and print the scores table (or the one video's result)."""
    from actattn.checkpoint import load_module
    from actattn.data.ssv2_objects import ObjectVocabulary

    module = load_module(args.checkpoint, "cuda" if torch.cuda.is_available() else "cpu")
    out = Path(args.out)
    if args.video:
        record = localize_video(module, args.video, out, map_key=args.map_key)
        print(f"{args.video}: predicted '{record['predicted']['name']}', action in frames "
              f"{record['interval'][0]}..{record['interval'][1] - 1}")
    else:
        objects = ObjectVocabulary.load(args.objects) if args.objects else None
        scores = localize_dataset(module, args.data, out, count=args.count, map_key=args.map_key, objects=objects)
        print(format_scores(scores) if scores is not None else "no ground truth: nothing to score")
    print(f"localization: {out / 'localization.json'}   pictures: {out / 'pictures'}")
