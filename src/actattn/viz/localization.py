"""Pictures of weakly-supervised localisation, after the Dual Attention Network paper's figures.

- :func:`attention_strip` (Fig. 4): a row of frames, then one row of overlays per attention map
  (e.g. the maps for the action and for the object), each map scaled over the whole clip.
- :func:`localization_figure` (Fig. 6): one frame from each 1/3 s segment with the predicted boxes
  (red) and the ground-truth boxes (green), the frames outside the trimmed interval greyed out,
  and below them the KL divergence between consecutive segments (eq. 12) with the threshold.
- :func:`affordance_figure` (Fig. 7): frames of the action interval with the affordance mask
  tinted over them and the ground-truth contact region outlined (green) where given.

Every function takes plain arrays (frames (T, H, W, 3) uint8; boxes in frame pixels) and writes
a PNG through matplotlib; boxes, tints and outlines are drawn on the frames with numpy and Pillow.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from scipy import ndimage  # noqa: E402

from actattn.viz.overlay import overlay  # noqa: E402

Box = tuple[float, float, float, float]
PREDICTED = (255, 40, 40)
TRUE = (40, 230, 40)
MASK = (255, 200, 0)
COLUMNS = 8


def draw_boxes(frame: np.ndarray, boxes: Sequence[Box], colour: tuple[int, int, int]) -> np.ndarray:
    """A copy of an (H, W, 3) uint8 frame with pixel-edge boxes (x1, y1, x2, y2) outlined inside their
    edges, 1 px wide per 100 px of the short side (at least 1)."""
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    width = max(1, round(min(frame.shape[:2]) / 100))
    for x1, y1, x2, y2 in boxes:
        draw.rectangle((round(x1), round(y1), round(x2) - 1, round(y2) - 1), outline=colour, width=width)
    return np.asarray(image)


def grey_out(frame: np.ndarray) -> np.ndarray:
    """The frame desaturated and faded towards light grey: a frame outside the action."""
    luminance = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    grey = 0.4 * luminance + 0.6 * 200
    return np.repeat(grey[..., None], 3, axis=-1).round().astype(np.uint8)


def tint(frame: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], alpha: float = 0.55) -> np.ndarray:
    """The frame with the pixels of a bool (H, W) mask blended towards ``colour``."""
    out = frame.astype(np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * np.array(colour, np.float32)
    return out.round().astype(np.uint8)


def outline(frame: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """The frame with the boundary pixels of a bool (H, W) mask set to ``colour``."""
    out = frame.copy()
    out[mask & ~ndimage.binary_erosion(mask)] = colour
    return out


def spread(first: int, stop: int, count: int = COLUMNS) -> list[int]:
    """Up to ``count`` frame indices evenly spread over [first, stop)."""
    return sorted(set(np.linspace(first, stop - 1, min(count, stop - first)).round().astype(int).tolist()))


def _grid(count: int, aspect: float, extra_rows: int = 0, title: str = "") -> tuple[plt.Figure, list[plt.Axes],
                                                                                     plt.GridSpec]:
    """A figure with ``count`` image panels of height/width ``aspect`` in up to COLUMNS balanced
    columns, plus ``extra_rows`` full-width plot rows."""
    rows = -(-count // COLUMNS)
    cols = -(-count // rows)
    panel = 1.6 * aspect + 0.25
    fig = plt.figure(figsize=(1.6 * cols + 0.4, panel * rows + 1.8 * extra_rows + 0.5))
    spec = fig.add_gridspec(rows + extra_rows, cols, height_ratios=[panel] * rows + [1.8] * extra_rows)
    axes = [fig.add_subplot(spec[i // cols, i % cols]) for i in range(count)]
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=8)
    return fig, axes, spec


def _save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def attention_strip(frames: np.ndarray, maps: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Fig. 4: up to 8 evenly spread frames in the first row, one row of overlays per map (T, h, w)."""
    shown = spread(0, len(frames))
    rows = [("frame", [frames[t] for t in shown])]
    for name, clip in maps.items():
        low, high = float(clip.min()), float(clip.max())
        rows.append((name, [overlay(frames[t], clip[t], vmin=low, vmax=high) for t in shown]))
    panel = 1.6 * frames.shape[1] / frames.shape[2] + 0.25
    fig, axes = plt.subplots(len(rows), len(shown), figsize=(1.6 * len(shown) + 0.6, panel * len(rows) + 0.4),
                             squeeze=False)
    for r, (name, images) in enumerate(rows):
        for c, image in enumerate(images):
            axes[r, c].imshow(image)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(f"frame {shown[c]}", fontsize=7)
        axes[r, 0].set_ylabel(name, fontsize=8)
    fig.suptitle(title, fontsize=8)
    return _save(fig, path)


def localization_figure(
    frames: np.ndarray,
    boxes: Sequence[Sequence[Box]],
    interval: tuple[int, int],
    changes: Sequence[float],
    segment_frames: int,
    path: str | Path,
    *,
    true_boxes: Sequence[Sequence[Box]] | None = None,
    threshold: float = 0.06,
    presence: Sequence[float] | None = None,
    title: str = "",
) -> Path:
    """Fig. 6: the middle frame of each segment with predicted (red) and true (green) boxes, frames
    outside ``interval`` greyed out; below, what chose the interval (shaded): the change between
    segments k and k + 1 drawn at their boundary frame, or, where the interval came from a per-frame
    ``presence`` (a head's interval map), that level per frame; and the ``threshold`` (dashed) it was
    held against."""
    start, end = interval
    shown = [min(k + segment_frames // 2, len(frames) - 1) for k in range(0, len(frames), segment_frames)]
    legend = "red: predicted" + (", green: ground truth" if true_boxes is not None else "")
    aspect = frames.shape[1] / frames.shape[2]
    fig, axes, spec = _grid(len(shown), aspect, 1, f"{title}\n{legend}; action in frames {start}..{end - 1}")
    for ax, t in zip(axes, shown):
        image = frames[t] if start <= t < end else grey_out(frames[t])
        if true_boxes is not None:
            image = draw_boxes(image, true_boxes[t], TRUE)
        ax.imshow(draw_boxes(image, boxes[t], PREDICTED))
        ax.set_title(f"frame {t}", fontsize=7)
    plot = fig.add_subplot(spec[-1, :])
    plot.axvspan(start, end, color="0.85", label="interval")
    if presence is None:
        _plot_changes(plot, changes, segment_frames, threshold)
    else:
        _plot_presence(plot, presence, threshold)
    plot.set_xlim(0, len(frames))
    plot.set_xlabel("frame", fontsize=7)
    plot.tick_params(labelsize=7)
    plot.legend(fontsize=6, loc="upper right")
    return _save(fig, path)


def _plot_changes(plot, changes: Sequence[float], segment_frames: int, threshold: float) -> None:
    """The KL change between consecutive segments (eq. 12) and its threshold."""
    boundaries = np.arange(1, len(changes) + 1) * segment_frames
    values = np.asarray(changes, dtype=np.float64)
    infinite = np.isinf(values)
    top = 1.2 * max([threshold, *values[~infinite]])
    plot.plot(boundaries, np.where(infinite, np.nan, values), "o-", color="C0", label="KL(segment k || k+1)")
    if infinite.any():
        plot.plot(boundaries[infinite], np.full(infinite.sum(), top), "^", color="C0", label="infinite")
    plot.axhline(threshold, color="C3", linestyle="--", label=f"threshold {threshold:g}")
    plot.set_ylim(0, 1.05 * top)


def _plot_presence(plot, presence: Sequence[float], threshold: float) -> None:
    """The per-frame presence level (drawn over each frame's extent) and the level it had to reach."""
    levels = np.asarray(presence, dtype=np.float64)
    plot.step(np.arange(len(levels) + 1), np.append(levels, levels[-1]), where="post", color="C0",
              label="presence (mean of the interval map)")
    plot.axhline(threshold, color="C3", linestyle="--", label=f"midpoint of its range {threshold:.3g}")


def affordance_figure(
    frames: np.ndarray,
    masks: np.ndarray,
    path: str | Path,
    *,
    interval: tuple[int, int] | None = None,
    contact: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """Fig. 7: up to 8 frames spread over ``interval`` (default: the clip) with the bool (T, H, W)
    affordance masks tinted yellow and, where given, the contact region (T, H, W) outlined green."""
    shown = spread(*(interval or (0, len(frames))))
    legend = "yellow: affordance mask" + (", green: hand-object contact" if contact is not None else "")
    fig, axes, _ = _grid(len(shown), frames.shape[1] / frames.shape[2], title=f"{title}\n{legend}")
    for ax, t in zip(axes, shown):
        image = tint(frames[t], masks[t], MASK)
        ax.imshow(image if contact is None else outline(image, contact[t], TRUE))
        ax.set_title(f"frame {t}", fontsize=7)
    return _save(fig, path)
