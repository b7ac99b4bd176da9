"""The conjugate cache: one JSON file ``{"pairs": {sample key: [{"video", "start", "stop", "kind"}...]}}``.

Each entry is frames ``[start, stop)`` of ``video``, a path relative to the cache's folder: a video
file, a frame folder or an image (one frame, ``[0, 1)``), of ``kind`` "before", "after",
"neighbour" or "inpainted". A sample listed with ``[]`` has none (the training paths refuse it, or
skip it with ``skip_bad_videos``). Keys: a format sample's id, ``/`` as ``_``
(:func:`actattn.data.records.sample_key`, the name of its feature map; a segment has its own key though
several share a video), or the video's stem for a whole-video sample of the SSv2 or CSV lists (the
feature files' names); see :mod:`actattn.data.conjugates` for how training matches them.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from actattn.files import save_json

KINDS = ("before", "after", "neighbour", "inpainted")


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


def relative_to(pairs: dict[str, list[Conjugate]], root: Path, folder: Path) -> dict[str, list[Conjugate]]:
    """The pairs with their videos (relative to ``root``) made relative to ``folder``, the cache's."""
    def moved(c: Conjugate) -> Conjugate:
        return replace(c, video=os.path.relpath((root / c.video).resolve(), folder.resolve()))
    return {key: [moved(c) for c in value] for key, value in pairs.items()}
