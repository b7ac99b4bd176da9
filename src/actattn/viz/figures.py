"""Pictures of what a model attends to: the Attentional Pooling paper's Fig. 2 for any head.

For one clip, every attention map the model returns becomes a column of overlays, one row per
sampled frame. A map that the head also returns per class (``aux[name]`` of shape
``(B, T, K, H, W)``, e.g. Attentional Pooling's top-down and combined maps, which heads return
when called with ``class_maps=True``) is shown for the ground-truth class and for the
lowest-scoring class, as the paper does; without them each map is shown as returned (the
predicted class's).
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from actattn.output import ModelOutput  # noqa: E402
from actattn.viz.overlay import overlay  # noqa: E402


def attention_columns(
    output: ModelOutput, index: int, class_names: list[str], target: int | None = None
) -> list[tuple[str, np.ndarray]]:
    """``(title, maps (T, h, w))`` for sample ``index`` of a batch output, in the paper's order."""
    logits = output.logits["action"][index].detach().float().cpu()
    lowest = int(logits.argmin())
    shown = int(logits.argmax()) if target is None else target
    role = "pred" if target is None else "GT"
    columns = []
    for name, maps in output.attention.items():
        per_class = output.aux.get(name)
        if per_class is None:
            columns.append((name, maps[index].detach().float().cpu().numpy()))
            continue
        for k, tag in ((shown, role), (lowest, "lowest")):
            columns.append((f"{name} [{tag}: {class_names[k]}]", per_class[index, :, k].detach().float().cpu().numpy()))
    return columns


def _clip_range(maps: np.ndarray) -> tuple[float, float]:
    return float(maps.min()), float(maps.max())


def attention_figure(
    frames: np.ndarray,
    columns: list[tuple[str, np.ndarray]],
    path: str | Path,
    title: str = "",
) -> Path:
    """Save a grid: rows are frames, first column the frame, then one overlay per map column.

    Each map is scaled over the whole clip, so that frames of one column compare directly.
    """
    rows, ncols = len(frames), 1 + len(columns)
    fig, axes = plt.subplots(rows, ncols, figsize=(2.0 * ncols, 2.0 * rows + 0.6), squeeze=False)
    ranges = [_clip_range(maps) for _, maps in columns]
    for t, frame in enumerate(frames):
        axes[t, 0].imshow(frame)
        axes[t, 0].set_ylabel(f"frame {t}", fontsize=7)
        for c, (name, maps) in enumerate(columns, start=1):
            axes[t, c].imshow(overlay(frame, maps[t], vmin=ranges[c - 1][0], vmax=ranges[c - 1][1]))
            if t == 0:
                axes[t, c].set_title(textwrap.fill(name, 30), fontsize=6)
        if t == 0:
            axes[t, 0].set_title("frame", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def attention_animation(
    frames: np.ndarray, columns: list[tuple[str, np.ndarray]], path: str | Path, fps: float = 4.0
) -> Path:
    """Save an animated GIF: each step shows the frame and its overlays side by side."""
    strips = []
    ranges = [_clip_range(maps) for _, maps in columns]
    for t, frame in enumerate(frames):
        panels = [frame] + [overlay(frame, maps[t], vmin=lo, vmax=hi) for (_, maps), (lo, hi) in zip(columns, ranges)]
        strips.append(Image.fromarray(np.concatenate(panels, axis=1)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    strips[0].save(path, save_all=True, append_images=strips[1:], duration=int(1000 / fps), loop=0)
    return path
