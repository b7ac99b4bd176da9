"""Video decoding and encoding through PyAV.

Every failure names the file: a missing file, a file FFmpeg cannot open, a file without a
video stream, and a file with no decodable frame all raise :class:`VideoDecodeError`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


class VideoDecodeError(RuntimeError):
    """A video could not be read; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    num_frames: int
    fps: float
    height: int
    width: int


def _open(path: str | Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(path, "no such file")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as err:
        raise VideoDecodeError(path, f"cannot be opened as a video ({err})") from err
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(path, "has no video stream")
    return container


def _fps(stream: av.video.stream.VideoStream) -> float:
    return float(stream.average_rate or stream.guessed_rate or 0.0)


def _decode_all(path: str | Path) -> tuple[list[av.VideoFrame], float]:
    """Every decodable frame, still in the stream's pixel format (converted only when picked)."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1  # loader workers parallelise across videos; threads per clip only cost
        fps = _fps(stream)
        frames = []
        try:
            frames.extend(container.decode(stream))
        except av.FFmpegError as err:
            if not frames:
                raise VideoDecodeError(path, f"decoding failed ({err})") from err
    if not frames:
        raise VideoDecodeError(path, "contains no decodable frame")
    return frames, fps


def video_fps(path: str | Path) -> float:
    """Frames per second from the stream's header, without decoding (0.0 when it gives none)."""
    with _open(path) as container:
        return _fps(container.streams.video[0])


def probe(path: str | Path) -> VideoInfo:
    """Frame count (by decoding, since container metadata is often wrong), fps and size."""
    frames, fps = _decode_all(path)
    return VideoInfo(len(frames), fps, frames[0].height, frames[0].width)


def read_clip(path: str | Path, choose: Callable[[int], Sequence[int]]) -> tuple[np.ndarray, list[int]]:
    """Decode ``path``, pick frames with ``choose(num_frames)``, return them ``(T, H, W, 3)`` uint8 RGB
    with the indices. Only the picked frames are converted to RGB."""
    frames, _ = _decode_all(path)
    indices = list(choose(len(frames)))
    if any(i < 0 for i in indices):
        raise VideoDecodeError(path, f"negative frame index in {indices}")
    last = len(frames) - 1
    # threads=1: swscale's default thread pool costs 70x the conversion of a small frame, and a pool
    # made before a DataLoader forks its workers deadlocks them
    return np.stack([frames[min(i, last)].to_ndarray(format="rgb24", threads=1) for i in indices]), indices


def read_video(path: str | Path, indices: Sequence[int] | None = None) -> np.ndarray:
    """Decode ``path`` to ``(T, H, W, 3)`` uint8 RGB; ``indices`` picks frames (repeats allowed).

    Indices beyond the last decodable frame are clamped to it, so a container whose header
    over-states its length still yields a clip; a negative index is an error.
    """
    return read_clip(path, lambda n: range(n) if indices is None else indices)[0]


def write_video(path: str | Path, frames: np.ndarray, fps: float = 12.0, crf: int = 18, pix_fmt: str = "yuv420p") -> None:
    """Encode ``(T, H, W, 3)`` uint8 RGB as H.264 MP4 (single-threaded, so bytes are reproducible).

    ``pix_fmt`` "yuv444p" keeps full colour resolution (High 4:4:4 profile; FFmpeg decodes it).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"{path}: expected (T, H, W, 3) uint8 frames, got {frames.shape} {frames.dtype}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"{path}: H.264 needs even height and width, got {frames.shape[1:3]}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = pix_fmt
        stream.thread_count = 1
        stream.options = {"crf": str(crf), "preset": "veryfast", "tune": "zerolatency"}
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
