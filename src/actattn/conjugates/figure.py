"""A picture of mined pairs: each sample's middle frame beside the middle frame of each of its
conjugates, for any source (videos, frame folders or images)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from actattn.conjugates.cache import Conjugate
from actattn.conjugates.sources import SampleClip
from actattn.data.frames import read_source
from actattn.files import atomic_write


def middle_frame(path: Path, start: int, stop: int) -> np.ndarray:
    """Frame ``(start + stop) // 2`` of a video, frame folder or image: (H, W, 3) uint8."""
    return read_source(path, lambda n: [(start + stop) // 2])[0][0]


def pairs_figure(root: Path, pairs: dict[str, list[Conjugate]], samples: dict[str, SampleClip], out: Path,
                 count: int = 4) -> Path:
    """A picture of the first ``count`` samples with conjugates beside their own clips ``samples``
    (:attr:`~actattn.conjugates.sources.Mined.samples`), videos relative to ``root``; samples that
    show the same clip beside the same conjugates are drawn once."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clips: dict[str, SampleClip] = {}
    seen = set()
    for key, value in pairs.items():
        if len(clips) == count:
            break
        clip = samples[key]
        if value and (clip, tuple(value)) not in seen:  # VOC's persons of one image: one row
            seen.add((clip, tuple(value)))
            clips[key] = clip
    shown = list(clips)
    columns = 1 + max((len(pairs[key]) for key in shown), default=0)
    rows = max(len(shown), 1)
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.2 * rows), squeeze=False)
    for row, key in zip(axes, shown):
        clip = clips[key]
        frames = [(f"{key} [{clip.start}, {clip.stop})", clip.video, clip.start, clip.stop)]
        frames += [(f"{c.kind} [{c.start}, {c.stop})", c.video, c.start, c.stop) for c in pairs[key]]
        for ax, (title, video, start, stop) in zip(row, frames):
            ax.imshow(middle_frame(root / video, start, stop))
            ax.set_title(title, fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    try:
        return atomic_write(out, lambda file: fig.savefig(file, format="png", dpi=100, bbox_inches="tight"))
    finally:
        plt.close(fig)
