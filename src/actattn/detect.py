"""``actattn detect``: Mask R-CNN instances per frame of a folder of videos, cached for the data module.

The Object Relation Network (object-relation-network.md) reasons over the Mask R-CNN instances
of each frame. This offline stage runs torchvision's COCO Mask R-CNN (``maskrcnn_resnet50_fpn``,
or ``maskrcnn_resnet50_fpn_v2``) once over every video under a folder and keeps, per detected
frame, at most ``max_objects`` instances scoring at least ``min_score``: people first (the ORN
authors' ordering), then by score (:func:`select_instances`).

Cache (:class:`Detections`): ``OUT/{video stem}.npz`` per video, written atomically, arrays
- ``frames`` (F,) int64: the detected frames, 0-based in decode order (every ``every``-th one);
- ``counts`` (F,) int64: instances per detected frame; the instance arrays hold frame 0's
  instances, then frame 1's, ...;
- ``labels`` (N,) int64: torchvision's COCO category index (1..90 with "N/A" gaps, see
  :data:`COCO_CATEGORIES`; the data module maps it to 80 contiguous classes);
- ``scores`` (N,) float32; ``boxes`` (N, 4) float32 ``x1, y1, x2, y2`` in pixels of the frames;
- mask format ``"box"`` (the default): ``masks`` (N, M, M) uint8, the mask head's probabilities
  x 255 inside each box (Mask R-CNN's own layout, M = ``mask_size``, natively 28); format
  ``"rle"``: ``rle`` (N,) bytes, the COCO run-length counts (pycocotools) of each full-frame
  mask thresholded at 0.5, ``image_size`` giving its size;
- ``image_size`` (2,) int64 ``H, W`` of the frames;
- ``settings``: the JSON text of :class:`DetectSettings`. A file that does not load, or whose
  settings differ from the run's, is not complete and is detected again (resume).

Each rank also writes ``OUT/summary.rank{R}.json`` (settings, counts, bad videos and why). Under
``torchrun`` rank ``r`` of ``w`` takes videos ``r, r + w, ...`` of the sorted list (:func:`shard`).
"""
from __future__ import annotations

import argparse
import json
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torchvision.models.detection import (
    MaskRCNN_ResNet50_FPN_V2_Weights,
    MaskRCNN_ResNet50_FPN_Weights,
    maskrcnn_resnet50_fpn,
    maskrcnn_resnet50_fpn_v2,
)
from torchvision.models.detection.roi_heads import maskrcnn_inference, paste_masks_in_image
from torchvision.models.detection.transform import resize_boxes

from actattn.data.video import VideoDecodeError, iter_frames
from actattn.files import atomic_write
from actattn.jobs import cache_jobs, default_device, world_position, write_summary

ARCHS = {"v1": (maskrcnn_resnet50_fpn, MaskRCNN_ResNet50_FPN_Weights),
         "v2": (maskrcnn_resnet50_fpn_v2, MaskRCNN_ResNet50_FPN_V2_Weights)}
MASK_FORMATS = ("box", "rle")
VIDEO_EXTENSIONS = (".mp4", ".webm", ".avi", ".mkv", ".mov")
# torchvision's 91 indices: "__background__" at 0, "N/A" where COCO retired an id; the same for v1 and v2
COCO_CATEGORIES: tuple[str, ...] = tuple(MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"])
PERSON = COCO_CATEGORIES.index("person")
NATIVE_MASK_SIZE = 28  # the mask head's output side for both architectures
_INSTANCE_KEYS = ("labels", "scores", "boxes")


@dataclass(frozen=True)
class DetectSettings:
    """What a cache file depends on; a cache made with other settings is redone on resume."""

    arch: str = "v1"
    weights: str = "pretrained"
    min_score: float = 0.5
    max_objects: int = 10
    mask_format: str = "box"
    mask_size: int = NATIVE_MASK_SIZE
    every: int = 1
    min_size: int = 800
    max_size: int = 1333

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {list(ARCHS)}, got {self.arch!r}")
        if self.mask_format not in MASK_FORMATS:
            raise ValueError(f"mask_format must be one of {MASK_FORMATS}, got {self.mask_format!r}")
        if self.max_objects < 1 or self.every < 1 or self.mask_size < 1:
            raise ValueError(f"max_objects, every and mask_size must be >= 1, got {self}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class Detections:
    """The instances of one video's detected frames, in the cache layout of the module docstring."""

    frames: np.ndarray
    counts: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    masks: np.ndarray | None  # mask format "box"
    rle: np.ndarray | None  # mask format "rle"
    image_size: tuple[int, int]
    settings: str

    def save(self, path: str | Path) -> Path:
        """Write ``path`` atomically (a kill leaves the old file or none, never part of one)."""
        masks = {"masks": self.masks} if self.masks is not None else {"rle": self.rle}
        arrays = dict(frames=self.frames, counts=self.counts, labels=self.labels, scores=self.scores,
                      boxes=self.boxes, image_size=np.array(self.image_size, np.int64),
                      settings=np.array(self.settings), **masks)
        return atomic_write(path, lambda file: np.savez_compressed(file, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> Detections:
        """Read a cache file; a missing, truncated or inconsistent one raises ValueError naming it."""
        try:
            with np.load(path) as archive:
                data = {key: archive[key] for key in archive.files}
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
            raise ValueError(f"{path}: not a readable detection cache ({err})") from err
        missing = {"frames", "counts", "image_size", "settings", *_INSTANCE_KEYS} - set(data)
        if missing or ("masks" in data) == ("rle" in data):
            raise ValueError(f"{path}: not a detection cache (missing {sorted(missing)} or no single mask array; "
                             f"has {sorted(data)})")
        masks = data.get("masks", data.get("rle"))
        total = int(data["counts"].sum())
        if len(data["frames"]) != len(data["counts"]) or any(len(data[k]) != total for k in _INSTANCE_KEYS) \
                or len(masks) != total:
            raise ValueError(f"{path}: inconsistent detection cache ({len(data['frames'])} frames, "
                             f"counts summing to {total}, {len(data['labels'])} labels, {len(masks)} masks)")
        return cls(data["frames"], data["counts"], data["labels"], data["scores"], data["boxes"],
                   data.get("masks"), data.get("rle"), tuple(int(n) for n in data["image_size"]),
                   str(data["settings"]))


def is_complete(path: Path, settings: DetectSettings) -> bool:
    """Whether ``path`` is a whole cache file made with ``settings`` (a resumed run skips it)."""
    if not path.is_file():
        return False
    try:
        return Detections.load(path).settings == settings.to_json()
    except ValueError:
        return False


def select_instances(labels: np.ndarray, scores: np.ndarray, min_score: float, max_objects: int) -> np.ndarray:
    """Indices of the instances to keep: score >= ``min_score``, people first then by score, at most
    ``max_objects``."""
    keep = np.flatnonzero(np.asarray(scores) >= min_score)
    order = np.lexsort((-np.asarray(scores)[keep], np.asarray(labels)[keep] != PERSON))  # last key sorts first
    return keep[order][:max_objects]


def list_videos(folder: str | Path, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[Path]:
    """The video files under ``folder`` (recursively), sorted; their stems name the cache files, so must differ."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder of videos")
    suffixes = {ext.lower() for ext in extensions}
    videos = sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() in suffixes)
    if not videos:
        raise ValueError(f"{folder}: no videos with extensions {sorted(suffixes)}")
    stems: dict[str, Path] = {}
    for video in videos:
        if video.stem in stems:
            raise ValueError(f"{stems[video.stem]} and {video} would share the cache file {video.stem}.npz")
        stems[video.stem] = video
    return videos


class MaskDetector(nn.Module):
    """torchvision's COCO Mask R-CNN returning, per image, the kept instances with box-relative masks.

    ``weights``: ``"pretrained"`` (torchvision's COCO weights through its weight enum, downloaded
    by torchvision if not cached), ``"random"`` (seeded random weights, for tests) or the path of a
    local state dict of the architecture. An image keeps :func:`select_instances` of its
    detections (``min_score``, ``max_objects``, people first); only those get masks. ``min_size``
    and ``max_size`` are the detector's input resizing (torchvision's defaults 800, 1333).
    """

    def __init__(self, arch: str = "v1", weights: str = "pretrained", min_score: float = 0.5,
                 max_objects: int = 10, min_size: int = 800, max_size: int = 1333):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {list(ARCHS)}, got {arch!r}")
        self.min_score, self.max_objects = min_score, max_objects
        build, enum = ARCHS[arch]
        options = dict(weights_backbone=None, box_score_thresh=min_score, min_size=min_size, max_size=max_size)
        if weights == "pretrained":
            self.model = build(weights=enum.DEFAULT, **options)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                self.model = build(weights=None, num_classes=len(COCO_CATEGORIES), **options)
        if weights not in ("pretrained", "random"):
            self._load(Path(weights), build.__name__)
        self.eval()

    def _load(self, path: Path, name: str) -> None:
        if not path.is_file():
            raise ValueError(f"--weights {path}: no such file (or pass 'pretrained' or 'random')")
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:
            self.model.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"{path}: not a {name} state dict ({err})") from err

    def _keep(self, labels: Tensor, scores: Tensor) -> Tensor:
        keep = select_instances(labels.cpu().numpy(), scores.cpu().numpy(), self.min_score, self.max_objects)
        return torch.as_tensor(keep, dtype=torch.int64, device=labels.device)

    @torch.no_grad()
    def forward(self, images: Tensor) -> list[dict[str, Tensor]]:
        """``(B, 3, H, W)`` float in [0, 1] -> per image ``labels`` (n,), ``scores`` (n,), ``boxes``
        (n, 4) in the images' pixels and ``masks`` (n, 28, 28) probabilities inside the boxes.

        torchvision's inference steps, except that the mask head runs on the kept instances only
        (not on up to 100 per image) and the masks are not pasted onto the full image.
        """
        model, heads = self.model, self.model.roi_heads
        batch, _ = model.transform(list(images))
        sizes = batch.image_sizes
        features = model.backbone(batch.tensors)
        proposals, _ = model.rpn(batch, features)
        box_features = heads.box_head(heads.box_roi_pool(features, proposals, sizes))
        class_logits, box_regression = heads.box_predictor(box_features)
        boxes, scores, labels = heads.postprocess_detections(class_logits, box_regression, proposals, sizes)
        keep = [self._keep(label, score) for label, score in zip(labels, scores)]
        boxes, scores, labels = ([x[k] for x, k in zip(xs, keep)] for xs in (boxes, scores, labels))
        mask_logits = heads.mask_predictor(heads.mask_head(heads.mask_roi_pool(features, boxes, sizes)))
        masks = maskrcnn_inference(mask_logits, labels)
        original = tuple(images.shape[-2:])
        return [{"labels": label, "scores": score, "boxes": resize_boxes(box, size, original), "masks": mask[:, 0]}
                for label, score, box, mask, size in zip(labels, scores, boxes, masks, sizes)]


def _frame_masks(detection: dict[str, Tensor], settings: DetectSettings, image_size: tuple[int, int]) -> np.ndarray:
    """A frame's masks in the cache's format: (n, M, M) uint8, or (n,) RLE counts bytes."""
    masks, boxes = detection["masks"], detection["boxes"]
    if settings.mask_format == "rle":
        if not len(masks):
            return np.zeros(0, bytes)
        full = paste_masks_in_image(masks[:, None], boxes, image_size)[:, 0] > 0.5
        fortran = np.asfortranarray(rearrange(full.cpu().numpy().astype(np.uint8), "n h w -> h w n"))
        return np.array([rle["counts"] for rle in mask_util.encode(fortran)], dtype=bytes)
    if settings.mask_size != masks.shape[-1] and len(masks):
        masks = F.interpolate(masks[:, None], size=settings.mask_size, mode="bilinear", align_corners=False)[:, 0]
    return (masks.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def _batches(path: str | Path, every: int, batch_size: int) -> Iterator[tuple[list[int], np.ndarray]]:
    """``(indices, (B, H, W, 3) frames)`` of :func:`iter_frames`, ``batch_size`` at a time."""
    indices, images = [], []
    for index, image in iter_frames(path, every):
        indices.append(index)
        images.append(image)
        if len(images) == batch_size:
            yield indices, np.stack(images)
            indices, images = [], []
    if images:
        yield indices, np.stack(images)


def detect_video(path: str | Path, detector: MaskDetector, settings: DetectSettings,
                 batch_size: int = 8) -> Detections:
    """Run ``detector`` over every ``settings.every``-th frame of ``path``, ``batch_size`` frames per
    call; memory holds one batch of frames and the kept instances."""
    device = next(detector.parameters()).device
    frames, parts = [], {"labels": [], "scores": [], "boxes": [], "masks": []}
    for indices, images in _batches(path, settings.every, batch_size):
        frames += indices
        size = images.shape[1:3]
        batch = rearrange(torch.from_numpy(images).to(device), "b h w c -> b c h w").float() / 255
        for detection in detector(batch):
            for key in ("labels", "scores", "boxes"):
                parts[key].append(detection[key].cpu().numpy())
            parts["masks"].append(_frame_masks(detection, settings, size))
    masks = np.concatenate(parts["masks"])
    if settings.mask_format == "box":
        masks = masks.reshape(-1, settings.mask_size, settings.mask_size)
    return Detections(
        frames=np.array(frames, np.int64), counts=np.array([len(x) for x in parts["labels"]], np.int64),
        labels=np.concatenate(parts["labels"]).astype(np.int64),
        scores=np.concatenate(parts["scores"]).astype(np.float32),
        boxes=np.concatenate(parts["boxes"]).reshape(-1, 4).astype(np.float32),
        masks=masks if settings.mask_format == "box" else None, rle=masks if settings.mask_format == "rle" else None,
        image_size=(int(size[0]), int(size[1])), settings=settings.to_json())


def detect_folder(videos: Sequence[Path], out: str | Path, detector: MaskDetector, settings: DetectSettings, *,
                  batch_size: int = 8, rank: int = 0, world_size: int = 1, progress: bool = True) -> dict:
    """Detect this rank's share of ``videos`` into ``out``; return (and write) its summary.

    A video whose cache is complete (:func:`is_complete`) is skipped; a bad video (missing,
    empty, undecodable or truncated) is skipped with a warning naming it and counted.
    """
    out = Path(out)
    counts = cache_jobs(videos, out, target=lambda video: out / f"{Path(video).stem}.npz", name=str,
                        complete=lambda cache: is_complete(cache, settings),
                        make=lambda video, cache: detect_video(video, detector, settings, batch_size).save(cache),
                        bad_errors=(VideoDecodeError,), rank=rank, world_size=world_size, desc="detect",
                        progress=progress)
    return write_summary({"settings": asdict(settings), "rank": rank, "world_size": world_size,
                          "videos": counts["jobs"], "detected": counts["done"], "resumed": counts["resumed"],
                          "bad": counts["bad"]}, out, rank)


def cmd_detect(args: argparse.Namespace) -> None:
    """Run ``actattn detect`` on this rank's share and print its counts."""
    settings = DetectSettings(arch=args.arch, weights=args.weights, min_score=args.min_score,
                              max_objects=args.max_objects, mask_format=args.mask_format, mask_size=args.mask_size,
                              every=args.every, min_size=args.min_size, max_size=args.max_size)
    rank, world_size = world_position()
    videos = list_videos(args.videos)
    detector = MaskDetector(args.arch, args.weights, args.min_score, args.max_objects, args.min_size, args.max_size)
    detector.to(args.device or default_device())
    summary = detect_folder(videos, args.out, detector, settings, batch_size=args.batch_size, rank=rank,
                            world_size=world_size)
    print(f"rank {rank}/{world_size}: {summary['detected']} videos detected, {summary['resumed']} already done, "
          f"{len(summary['bad'])} bad videos skipped; caches in {args.out}")


def add_detect_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``actattn detect`` to the CLI's subcommands."""
    p = sub.add_parser("detect", help="Mask R-CNN instances per frame of a folder of videos, cached as .npz "
                                      "(one command on a CPU or, under torchrun, sharded over GPUs)")
    p.add_argument("--videos", required=True,
                   help=f"folder of videos, searched recursively ({', '.join(VIDEO_EXTENSIONS)})")
    p.add_argument("--out", required=True, help="the cache folder: OUT/{video stem}.npz; a rerun resumes")
    p.add_argument("--arch", choices=list(ARCHS), default="v1",
                   help="maskrcnn_resnet50_fpn (v1) or maskrcnn_resnet50_fpn_v2 (v2)")
    p.add_argument("--weights", default="pretrained",
                   help="'pretrained' (torchvision's COCO weights), 'random' (tests), or a local state-dict file")
    p.add_argument("--min-score", type=float, default=0.5,
                   help="keep instances scoring at least this (the ORN authors suggest 0.8 for cleaner masks)")
    p.add_argument("--max-objects", type=int, default=10, help="instances kept per frame: people first, then by score")
    p.add_argument("--mask-format", choices=MASK_FORMATS, default="box",
                   help="box: MASK_SIZE^2 probabilities inside each box (compact); "
                        "rle: COCO RLE of the full-resolution mask (pycocotools)")
    p.add_argument("--mask-size", type=int, default=NATIVE_MASK_SIZE, help="side of a box-format mask")
    p.add_argument("--every", type=int, default=1, help="detect every N-th frame (the data module uses the nearest)")
    p.add_argument("--batch-size", type=int, default=8, help="frames per detector call")
    p.add_argument("--min-size", type=int, default=800, help="the detector's input short side")
    p.add_argument("--max-size", type=int, default=1333, help="the detector's input long side at most")
    p.add_argument("--device", help="default: cuda:LOCAL_RANK where CUDA is available, else cpu")
    p.set_defaults(func=cmd_detect)
    return p
