"""The three ways ActX gets a conjugate (Wang et al., BMVC 2021, Sec. 4; supplement Sec. 1), on
plain arrays; :mod:`actattn.conjugates.sources` applies them to datasets.

- **before and after the action** in the same video (Sec. 4: ActionThread, Hollywood2):
  :func:`outside_action`, the frames right before the action's start and right after its end,
  each kept if at least ``min_frames`` long. They never overlap the action, nor any other
  annotated segment of the video (``others``): a span stops where the nearest other segment
  begins (after) or ends (before), and there is none where another segment covers the action's
  boundary. ``max_frames`` keeps the frames nearest the action (the paper takes "the sequences
  right before and after"; it does not say how long).
- **nearest negatives** (HACS-30: the top 3): :func:`nearest_negatives`, the k nearest clips of a
  negative pool by the cosine distance of pooled backbone features, through scikit-learn's
  ``NearestNeighbors`` (exact, brute force: the pools are thousands of clips, not millions).
- **still images** (supplement Sec. 1): :func:`remove_actor`, the actors' boxes removed and filled
  in. The supplement's completion network cannot be downloaded; OpenCV's implementation of Telea's
  fast-marching inpainting (the supplement's ref. 7) fills the boxes, and Poisson blending (ref. 5,
  :func:`poisson_blend`) blends the filled boxes, grown by :data:`BLEND_MARGIN` pixels, into the
  photo, so the seam does not mark where the actors were. The blend is solved here (a sparse
  linear system, scipy): OpenCV 5's ``seamlessClone`` keeps the target's pixels inside the mask
  (the actor) where they differ from the source, which is the opposite of what is needed.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve
from sklearn.neighbors import NearestNeighbors

from actattn.conjugates.cache import Conjugate

BLEND_MARGIN = 3  # pixels around the actors' boxes that the Poisson blend may change


def outside_action(video: str, interval: tuple[int, int], num_frames: int, min_frames: int = 4, *,
                   others: Sequence[tuple[int, int]] = (), max_frames: int | None = None) -> list[Conjugate]:
    """The frames before and after the action ``interval`` [start, end) of a ``num_frames`` video
    that no segment of ``others`` ([start, end) each) overlaps, each span at most ``max_frames``
    long (the nearest the action) and kept if at least ``min_frames`` long (module docstring)."""
    start, end = interval
    if not 0 <= start < end <= num_frames:
        raise ValueError(f"{video}: action interval {interval} is not inside its {num_frames} frames")
    first = max([stop for begin, stop in others if begin < start] + [0])  # the nearest end before the action
    last = min([begin for begin, stop in others if stop > end] + [num_frames])  # the nearest start after it
    if max_frames is not None:
        first, last = max(first, start - max_frames), min(last, end + max_frames)
    spans = (("before", first, start), ("after", end, last))
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


def remove_actor(image: np.ndarray, boxes: Sequence[Sequence[float]], radius: int = 5) -> np.ndarray:
    """``image`` (H, W, 3) uint8 RGB with the pixels of every box of ``boxes`` (x1, y1, x2, y2 each,
    0-based, x2 and y2 exclusive) filled in by Telea inpainting and Poisson-blended into the photo
    (module docstring); pixels farther than :data:`BLEND_MARGIN` from every box are kept."""
    height, width = image.shape[:2]
    if not len(boxes):
        raise ValueError("remove_actor: no box to remove")
    mask = np.zeros((height, width), np.uint8)
    blend = np.zeros((height, width), bool)
    for box in boxes:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
        if x2 <= x1 or y2 <= y1:
            raise ValueError(f"remove_actor: box {tuple(box)} is empty inside the {width}x{height} image")
        mask[y1:y2, x1:x2] = 255
        blend[max(y1 - BLEND_MARGIN, 0):y2 + BLEND_MARGIN, max(x1 - BLEND_MARGIN, 0):x2 + BLEND_MARGIN] = True
    bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    filled = cv2.cvtColor(cv2.inpaint(bgr, mask, radius, cv2.INPAINT_TELEA), cv2.COLOR_BGR2RGB)
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
