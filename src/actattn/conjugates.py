"""Conjugate samples for ActX (Wang et al., BMVC 2021, Sec. 3.1-3.2 and 4; supplement Sec. 1): clips of
the same context without the action, mined, cached and inspectable (``actattn conjugates``).

Three sources:
- **before and after the action** in the same video (Sec. 4: ActionThread and Hollywood2), for any
  dataset with temporal annotations: :func:`outside_action`, the frames before the action's start
  and after its end, each kept if at least ``min_frames`` long; they never overlap the action.
  SynthHOI's idle lead-in and tail are such conjugates with exact ground truth.
- **nearest negatives** (HACS-30: the top 3): :func:`nearest_negatives`, the k nearest clips of a
  negative pool by the cosine distance of pooled backbone features, through scikit-learn's
  ``NearestNeighbors`` (exact, brute force: the pools are thousands of clips, not millions).
- **still images** (supplement Sec. 1): :func:`remove_actor`, the actor's box removed and filled in.
  The supplement's completion network cannot be downloaded; OpenCV's implementation of Telea's
  fast-marching inpainting (the supplement's ref. 7) fills the box, and Poisson blending (ref. 5,
  :func:`poisson_blend`) blends the filled box, grown by a few pixels, into the photo, so the seam
  does not mark where the actor was. The blend is solved here (a sparse linear system, scipy):
  OpenCV 5's ``seamlessClone`` keeps the target's pixels inside the mask (the actor) where they
  differ from the source, which is the opposite of what is needed.

The cache is one JSON file: ``{"pairs": {sample id: [{"video", "start", "stop", "kind"}...]}}``,
frames ``[start, stop)`` of ``video`` (a path relative to the cache's folder), ``kind``
"before", "after", "neighbour" or "inpainted".
"""
from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve
from sklearn.neighbors import NearestNeighbors
from tqdm import tqdm

from actattn.files import save_json

KINDS = ("before", "after", "neighbour", "inpainted")
BLEND_MARGIN = 3  # pixels around the actor's box that the Poisson blend may change


@dataclass(frozen=True)
class Conjugate:
    """Frames ``[start, stop)`` of ``video``: a conjugate of one sample, of kind ``kind``."""

    video: str
    start: int
    stop: int
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS or not 0 <= self.start < self.stop:
            raise ValueError(f"conjugate of {self.video}: frames [{self.start}, {self.stop}) of kind {self.kind!r}; "
                             f"need 0 <= start < stop and a kind among {KINDS}")


def outside_action(video: str, interval: tuple[int, int], num_frames: int, min_frames: int = 4) -> list[Conjugate]:
    """The frames before and after the action ``interval`` [start, end) of a ``num_frames`` video,
    each if at least ``min_frames`` long."""
    start, end = interval
    if not 0 <= start < end <= num_frames:
        raise ValueError(f"{video}: action interval {interval} is not inside its {num_frames} frames")
    spans = (("before", 0, start), ("after", end, num_frames))
    return [Conjugate(video, a, b, kind) for kind, a, b in spans if b - a >= min_frames]


def nearest_negatives(features: np.ndarray, negatives: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``features`` (N, D), the indices (N, k) of its k nearest rows of ``negatives``
    (M, D) by cosine distance, nearest first, and those distances (N, k)."""
    if features.ndim != 2 or negatives.ndim != 2 or features.shape[1] != negatives.shape[1]:
        raise ValueError(f"nearest_negatives: features (N, D) and negatives (M, D), got {features.shape} "
                         f"and {negatives.shape}")
    if not 1 <= k <= len(negatives):
        raise ValueError(f"nearest_negatives: k = {k} with {len(negatives)} negatives")
    index = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(negatives)
    distances, indices = index.kneighbors(features)
    return indices, distances


def remove_actor(image: np.ndarray, box: Sequence[float], radius: int = 5) -> np.ndarray:
    """``image`` (H, W, 3) uint8 RGB with the actor's ``box`` (x1, y1, x2, y2) pixels filled in by
    Telea inpainting and Poisson-blended into the photo (module docstring)."""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"remove_actor: box {tuple(box)} is empty inside the {width}x{height} image")
    mask = np.zeros((height, width), np.uint8)
    mask[y1:y2, x1:x2] = 255
    bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    filled = cv2.cvtColor(cv2.inpaint(bgr, mask, radius, cv2.INPAINT_TELEA), cv2.COLOR_BGR2RGB)
    blend = np.zeros((height, width), bool)
    blend[max(y1 - BLEND_MARGIN, 0):y2 + BLEND_MARGIN, max(x1 - BLEND_MARGIN, 0):x2 + BLEND_MARGIN] = True
    return poisson_blend(filled, image, blend)


def poisson_blend(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pérez et al.'s Poisson image editing: inside ``mask`` (H, W) bool the result has the
    gradients of ``source`` and agrees with ``target`` on the mask's border; outside it is
    ``target``. Images (H, W, C) uint8; pixels of the mask on the image's edge keep the target's."""
    height, width = mask.shape
    inside = mask.copy()
    inside[[0, -1], :] = inside[:, [0, -1]] = False
    ys, xs = np.nonzero(inside)
    if not len(ys):
        return target.copy()
    number = -np.ones((height, width), np.int64)
    number[ys, xs] = np.arange(len(ys))
    src, dst = source.astype(np.float64), target.astype(np.float64)
    rows, cols = [np.arange(len(ys))], [np.arange(len(ys))]
    values = [np.full(len(ys), 4.0)]
    rhs = 4 * src[ys, xs]
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        rhs -= src[ny, nx]
        known = number[ny, nx] < 0
        rhs[known] += dst[ny[known], nx[known]]
        rows.append(np.flatnonzero(~known))
        cols.append(number[ny[~known], nx[~known]])
        values.append(np.full(int((~known).sum()), -1.0))
    system = sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(len(ys), len(ys)))
    out = dst.copy()
    out[ys, xs] = spsolve(system.tocsc(), rhs).reshape(len(ys), -1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def mine_synthhoi(root: Path, split: str, min_frames: int = 4) -> dict[str, list[Conjugate]]:
    """Lead-in and tail conjugates of every scene of a SynthHOI split in SSv2 layout under ``root``."""
    from actattn.data.ssv2 import release_file
    from actattn.data.synthetic import load_groundtruth

    entries = json.loads(release_file(root, split).read_text())
    pairs = {}
    for entry in tqdm(entries, desc=f"conjugates of {split}", unit="clip"):
        truth = load_groundtruth(root / "groundtruth" / f"{entry['id']}.npz")
        interval = tuple(int(v) for v in truth["interval"])
        pairs[entry["id"]] = outside_action(f"videos/{entry['id']}.mp4", interval, len(truth["boxes"]), min_frames)
    return pairs


def save_pairs(pairs: dict[str, list[Conjugate]], path: Path) -> Path:
    """Write the cache (module docstring), atomically."""
    return save_json({"pairs": {key: [asdict(c) for c in value] for key, value in pairs.items()}}, path)


def load_pairs(path: str | Path) -> dict[str, list[Conjugate]]:
    """Read the cache; a malformed one is an error naming the file and the sample."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable conjugate file ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("pairs"), dict):
        raise ValueError(f"{path}: expected {{'pairs': {{sample id: [conjugates]}}}}")
    pairs = {}
    for key, items in data["pairs"].items():
        try:
            pairs[key] = [Conjugate(**item) for item in items]
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: sample {key}: {err}") from None
    return pairs


def pairs_figure(root: Path, pairs: dict[str, list[Conjugate]], out: Path, count: int = 4) -> Path:
    """A picture of ``count`` samples: the middle frame of the action beside each conjugate's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from actattn.data.synthetic import load_groundtruth
    from actattn.data.video import read_video

    shown = [key for key, value in pairs.items() if value][:count]
    columns = 1 + max((len(pairs[key]) for key in shown), default=0)
    fig, axes = plt.subplots(max(len(shown), 1), columns, figsize=(2.2 * columns, 2.2 * max(len(shown), 1)),
                             squeeze=False)
    for row, key in zip(axes, shown):
        interval = load_groundtruth(root / "groundtruth" / f"{key}.npz")["interval"]
        middle = (int(interval[0]) + int(interval[1])) // 2
        frames = [(f"{key}: action (frame {middle})", middle)]
        frames += [(f"{c.kind} [{c.start}, {c.stop})", (c.start + c.stop) // 2) for c in pairs[key]]
        video = read_video(root / "videos" / f"{key}.mp4", [index for _, index in frames])
        for ax, (title, _), frame in zip(row, frames, video):
            ax.imshow(frame)
            ax.set_title(title, fontsize=7)
        for ax in row:
            ax.axis("off")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out


def add_conjugates_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``actattn conjugates`` to the CLI's subcommands."""
    p = sub.add_parser("conjugates", help="mine the lead-in and tail conjugates of a SynthHOI split (ActX)")
    p.add_argument("--data", required=True, help="SynthHOI scenes in SSv2 layout (actattn synth, or a demo's data/)")
    p.add_argument("--split", default="train")
    p.add_argument("--out", required=True, help="the conjugate cache (JSON)")
    p.add_argument("--min-frames", type=int, default=4, help="the shortest lead-in or tail kept")
    p.add_argument("--pictures", type=int, default=4, help="samples drawn beside their conjugates (0: none)")
    p.set_defaults(func=cmd_conjugates)
    return p


def relative_to(pairs: dict[str, list[Conjugate]], root: Path, folder: Path) -> dict[str, list[Conjugate]]:
    """The pairs with their videos (relative to ``root``) made relative to ``folder``, the cache's."""
    def moved(c: Conjugate) -> Conjugate:
        return replace(c, video=os.path.relpath((root / c.video).resolve(), folder.resolve()))
    return {key: [moved(c) for c in value] for key, value in pairs.items()}


def cmd_conjugates(args: argparse.Namespace) -> None:
    root, out = Path(args.data), Path(args.out)
    pairs = mine_synthhoi(root, args.split, args.min_frames)
    save_pairs(relative_to(pairs, root, out.parent), out)
    counts = {kind: sum(c.kind == kind for value in pairs.values() for c in value) for kind in KINDS}
    lonely = sum(not value for value in pairs.values())
    print(f"{out}: {len(pairs)} samples; " + ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
          + f"; {lonely} without a conjugate")
    if args.pictures:
        print(f"picture: {pairs_figure(root, pairs, out.with_suffix('.png'), args.pictures)}")
