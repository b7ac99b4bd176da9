"""Pictures of object relations, for any head that returns pairwise relation strengths (the Object
Relation Network's ``aux["relation_strength"]`` (B, P, K, K) with ``aux["relation_frames"]`` (B, P, 2)).

- :func:`relation_pairs_figure`, the ORN paper's Fig. 5: the frame pairs (t', t) with the strongest
  relation, their objects' masks, and the strongest object pairs drawn as lines between the masks'
  centres, as wide as they are strong.
- :class:`RelationGraph`, the paper's Fig. 4: over a dataset, for each action class, a graph of the
  object classes whose edges are the relation strengths summed over the clips of that class and
  divided by how often the two classes met in a pair (co-occurrence), so that a pair common in
  every video does not win by frequency alone.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import Tensor  # noqa: E402

from actattn.viz.localization import tint  # noqa: E402

COLOURS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


def frame_masks(masks: Tensor, size: tuple[int, int]) -> np.ndarray:
    """Masks (T, K, h, w) in [0, 1] -> bool (T, K, H, W) at the frames' size (bilinear, then >= 0.5)."""
    resized = F.interpolate(masks.float(), size=size, mode="bilinear", align_corners=False)
    return (resized >= 0.5).cpu().numpy()


def centre(mask: np.ndarray) -> tuple[float, float] | None:
    """(x, y) of a bool mask's centre of mass in pixels; None for an empty mask."""
    ys, xs = np.nonzero(mask)
    return (float(xs.mean()) + 0.5, float(ys.mean()) + 0.5) if len(xs) else None


def strongest_frame_pairs(strength: Tensor, pair_frames: Tensor, count: int) -> list[int]:
    """Indices of the ``count`` frame pairs (t', t) whose strongest object pair is strongest."""
    peaks = strength.flatten(1).amax(dim=1) if strength.numel() else strength.new_zeros(len(pair_frames))
    order = torch.argsort(peaks, descending=True)
    return [int(p) for p in order[:count] if peaks[p] > 0]


def relation_pairs_figure(
    frames: np.ndarray, masks: Tensor, classes: Tensor, strength: Tensor, pair_frames: Tensor,
    object_names: Sequence[str], path: str | Path, title: str = "", rows: int = 3, lines: int = 3,
) -> Path:
    """Fig. 5 for one clip: frames (T, H, W, 3) uint8, masks (T, K, h, w), classes (T, K) (-1 empty),
    strength (P, K, K) and pair_frames (P, 2) of the head's output; the ``rows`` strongest frame
    pairs, each with its ``lines`` strongest object pairs."""
    shown = strongest_frame_pairs(strength, pair_frames, rows)
    bool_masks = frame_masks(masks, frames.shape[1:3])
    fig, axes = plt.subplots(max(len(shown), 1), 1, figsize=(6.4, 3.4 * max(len(shown), 1)), squeeze=False)
    peak = float(strength.max()) if strength.numel() else 0.0
    for ax, p in zip(axes[:, 0], shown):
        first, second = (int(t) for t in pair_frames[p])
        pictures, centres = [], []
        for offset, t in enumerate((first, second)):
            picture = frames[t].copy()
            for k in np.flatnonzero(classes[t].cpu().numpy() >= 0):
                picture = tint(picture, bool_masks[t, k], COLOURS[k % len(COLOURS)])
            pictures.append(picture)
            centres.append([centre(bool_masks[t, k]) for k in range(bool_masks.shape[1])])
        width = frames.shape[2]
        ax.imshow(np.concatenate(pictures, axis=1))
        flat = torch.argsort(strength[p].flatten(), descending=True)[:lines]
        for index in flat.tolist():
            j, k = divmod(index, strength.shape[-1])
            a, b = centres[0][j], centres[1][k]
            value = float(strength[p, j, k])
            if a is None or b is None or value <= 0:
                continue
            ax.plot([a[0], b[0] + width], [a[1], b[1]], color="white", linewidth=1 + 5 * value / peak, alpha=0.9)
            ax.text(b[0] + width, b[1], f"{object_names[int(classes[second, k])]}", color="white", fontsize=7)
            ax.text(a[0], a[1], f"{object_names[int(classes[first, j])]}", color="white", fontsize=7)
        ax.set_title(f"frames {first} -> {second}", fontsize=8)
        ax.axis("off")
    if not shown:
        axes[0, 0].text(0.5, 0.5, "no relation between real objects", ha="center", va="center")
        axes[0, 0].axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


class RelationGraph:
    """Fig. 4: relation strengths between object classes, per action class, over many clips."""

    def __init__(self, num_actions: int, num_object_classes: int) -> None:
        self.sums = np.zeros((num_actions, num_object_classes, num_object_classes))
        self.counts = np.zeros_like(self.sums)

    def add(self, action: int, classes: Tensor, strength: Tensor, pair_frames: Tensor) -> None:
        """One clip of class ``action``: classes (T, K), strength (P, K, K), pair_frames (P, 2)."""
        earlier = classes[pair_frames[:, 0]].cpu().numpy()  # (P, K)
        later = classes[pair_frames[:, 1]].cpu().numpy()
        values = strength.cpu().double().numpy()
        real = (earlier[:, :, None] >= 0) & (later[:, None, :] >= 0)
        p, j, k = np.nonzero(real)
        np.add.at(self.sums[action], (earlier[p, j], later[p, k]), values[p, j, k])
        np.add.at(self.counts[action], (earlier[p, j], later[p, k]), 1)

    def weights(self, action: int) -> np.ndarray:
        """(N, N) summed strength over co-occurrence for one action class (0 where never met)."""
        counts = self.counts[action]
        return np.divide(self.sums[action], counts, out=np.zeros_like(counts), where=counts > 0)

    def figure(self, action_names: Sequence[str], object_names: Sequence[str], path: str | Path,
               actions: int = 6, edges: int = 5) -> Path:
        """The ``actions`` classes with the most pairs, each a circle of object classes with its
        ``edges`` heaviest edges, as wide as they are heavy."""
        ranked = [a for a in np.argsort(-self.counts.sum(axis=(1, 2))) if self.counts[a].sum() > 0][:actions]
        n = len(object_names)
        angle = 2 * np.pi * np.arange(n) / max(n, 1)
        xy = np.stack([np.cos(angle), np.sin(angle)], axis=1)
        cols = min(3, max(len(ranked), 1))
        rows = max(1, -(-len(ranked) // cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.8 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, action in zip(axes.flat, ranked):
            weights = self.weights(action)
            top = np.argsort(-weights, axis=None)[:edges]
            peak = weights.max()
            used = set()
            for flat in top:
                i, j = np.unravel_index(flat, weights.shape)
                if weights[i, j] <= 0:
                    continue
                used |= {i, j}
                ax.plot(*zip(xy[i], xy[j]), color="tab:red", linewidth=0.5 + 5 * weights[i, j] / peak, alpha=0.8)
            for i in sorted(used):
                ax.scatter(*xy[i], s=30, color="tab:blue", zorder=3)
                ax.text(*(xy[i] * 1.12), object_names[i], fontsize=7, ha="center", va="center")
            ax.set_xlim(-1.5, 1.5)
            ax.set_ylim(-1.4, 1.4)
            ax.set_title(action_names[action], fontsize=8, wrap=True)
        fig.suptitle("object-class relations per action (summed strength / co-occurrence)", fontsize=9)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        return path
