"""Video decoding and encoding through PyAV.

Every failure names the file: a missing file, a file FFmpeg cannot open, a file without a
video stream, a file with no decodable frame, and a file that ends before the frames its
container lists (a truncated download) all raise :class:`VideoDecodeError`.

Reading a clip streams: the frame count comes from an MP4's sample table or, for other
containers (a WebM header states none, or an estimate), from counting packets without decoding;
the wanted frames are chosen from it, only those are converted to RGB, and decoding stops after
the last one, so memory holds the sampled frames only, whatever the video's length.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm


class VideoDecodeError(RuntimeError):
    """A video could not be read; the message names the file and the reason.

    ``VideoDecodeError(message)`` (the form a DataLoader worker re-raises it in) keeps the message.
    """

    def __init__(self, path: str | Path, reason: str | None = None):
        self.path = Path(path) if reason is not None else None
        self.reason = reason
        super().__init__(f"{path}: {reason}" if reason is not None else str(path))


@dataclass(frozen=True)
class VideoInfo:
    num_frames: int
    fps: float
    height: int
    width: int


def _open(path: str | Path, threads: int = 1) -> av.container.InputContainer:
    """``path`` opened for decoding with ``threads`` frame threads (1: loader workers parallelise across videos)."""
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
    stream = container.streams.video[0]
    stream.thread_count = threads
    if threads > 1:
        stream.thread_type = "FRAME"
    return container


def _fps(stream: av.video.stream.VideoStream) -> float:
    return float(stream.average_rate or stream.guessed_rate or 0.0)


def _count_packets(path: str | Path) -> int:
    """The number of non-empty video packets, demuxed without decoding (one per frame)."""
    with _open(path) as container:
        try:
            return sum(1 for packet in container.demux(container.streams.video[0]) if packet.size)
        except av.FFmpegError as err:
            raise VideoDecodeError(path, f"demuxing failed ({err})") from err


def _frame_count(path: str | Path, container: av.container.InputContainer) -> int:
    """The frames the container lists: an MP4/MOV sample table's count, else its packets (a
    Matroska/WebM header states none, or an estimate: 33 for a 60-frame VP9 file)."""
    listed = container.streams.video[0].frames if "mp4" in container.format.name else 0
    listed = listed or _count_packets(path)
    if listed == 0:
        raise VideoDecodeError(path, "contains no frame")
    return listed


def _decode(path: str | Path, container: av.container.InputContainer, listed: int, stop: int | None = None,
            progress: bool = False) -> Iterator[av.VideoFrame]:
    """Frames ``0 .. stop - 1`` (all if ``stop`` is None) in order. A stream that ends before
    ``min(stop, listed)`` frames raises: the file is shorter than its container lists."""
    wanted = listed if stop is None else min(stop, listed)
    decoded, error = 0, None
    with tqdm(total=wanted, desc=f"decode {Path(path).name}", unit="frame", disable=not progress,
              leave=False) as bar:
        try:
            for frame in container.decode(container.streams.video[0]):
                yield frame
                decoded += 1
                bar.update()
                if decoded == stop:
                    return
        except av.FFmpegError as err:
            error = err
    why = f" ({error})" if error is not None else ""
    if decoded == 0:
        raise VideoDecodeError(path, f"contains no decodable frame{why}")
    if decoded < wanted:
        raise VideoDecodeError(path, f"ends after {decoded} of the {listed} frames its container lists "
                                     f"(truncated or damaged){why}")


def video_fps(path: str | Path) -> float:
    """Frames per second from the stream's header, without decoding (0.0 when it gives none)."""
    with _open(path) as container:
        return _fps(container.streams.video[0])


def probe(path: str | Path) -> VideoInfo:
    """Frame count (by decoding every frame, converting none), fps and size."""
    with _open(path) as container:
        count, frame = 0, None
        for count, frame in enumerate(_decode(path, container, _frame_count(path, container)), start=1):
            pass
        return VideoInfo(count, _fps(container.streams.video[0]), frame.height, frame.width)


@dataclass(frozen=True)
class Span:
    """Frames ``first .. stop - 1`` (0-based) of a video or frame folder: a segment's frames.
    ``clipped``: the segment ended after the last frame and was cut there."""

    first: int
    stop: int
    clipped: bool = False

    def __len__(self) -> int:
        return self.stop - self.first


def frame_span(path: str | Path, num_frames: int, rate: float | None = None,
               segment: tuple[float, float] | None = None, frames: tuple[int, int] | None = None) -> Span:
    """The frames of a segment: ``segment`` ``(start, stop)`` seconds at ``rate`` frames per second
    (frame ``i`` shows time ``i / rate``; the frames whose time lies in ``[start, stop)``, at least
    one), or ``frames``, 1-based inclusive numbers (EPIC-KITCHENS' extracted frames); neither: every
    frame. A segment that ends after the last frame is clipped (``clipped``); one that starts
    after it raises :class:`VideoDecodeError` naming ``path``."""
    if frames is not None:
        first, stop = frames[0] - 1, frames[1]
        what = f"frames {frames[0]}..{frames[1]} (1-based)"
    elif segment is not None:
        if not rate or rate <= 0:
            raise VideoDecodeError(path, f"segment {segment[0]}-{segment[1]} s needs the frame rate, which is unknown")
        first = max(0, math.ceil(segment[0] * rate - 1e-6))
        stop = max(first + 1, math.ceil(segment[1] * rate - 1e-6))
        what = f"segment {segment[0]}-{segment[1]} s (frames {first}..{stop - 1} at {rate:g} fps)"
    else:
        return Span(0, num_frames)
    if first >= num_frames:
        raise VideoDecodeError(path, f"{what} starts after the last of its {num_frames} frames")
    return Span(first, min(stop, num_frames), stop > num_frames)


def _pick(path: str | Path, container: av.container.InputContainer, listed: int, chosen: Sequence[int],
          progress: bool) -> tuple[np.ndarray, list[int]]:
    if any(i < 0 for i in chosen):
        raise VideoDecodeError(path, f"negative frame index in {list(chosen)}")
    indices = [min(int(i), listed - 1) for i in chosen]
    wanted = set(indices)
    # threads=1: swscale's default thread pool costs 70x the conversion of a small frame, and a
    # pool made before a DataLoader forks its workers deadlocks them
    picked = {
        position: frame.to_ndarray(format="rgb24", threads=1)
        for position, frame in enumerate(_decode(path, container, listed, max(indices) + 1, progress))
        if position in wanted
    }
    return np.stack([picked[i] for i in indices]), indices


def read_clip(
    path: str | Path, choose: Callable[[int], Sequence[int]], *, progress: bool = False, threads: int = 1
) -> tuple[np.ndarray, list[int]]:
    """Pick frames with ``choose(num_frames)`` and return them ``(T, H, W, 3)`` uint8 RGB, with the
    indices; ``num_frames`` is the count the container lists (see the module docstring).

    Indices at or past ``num_frames`` read the last frame; a negative index is an error.
    ``progress`` shows a bar over the frames decoded and ``threads`` decodes with that many frame
    threads (both for one long video; a loader's workers each read one video single-threaded).
    """
    with _open(path, threads) as container:
        listed = _frame_count(path, container)
        return _pick(path, container, listed, list(choose(listed)), progress)


def read_segment(
    path: str | Path, choose: Callable[[int], Sequence[int]], segment: tuple[float, float] | None, *,
    threads: int = 1,
) -> tuple[np.ndarray, list[int], Span]:
    """:func:`read_clip` within ``segment`` ``(start, stop)`` seconds (None: the whole video):
    ``choose(len(span))`` picks among the segment's frames, converted to frames through the
    stream's own frame rate (:func:`frame_span`); the indices returned are the video's."""
    with _open(path, threads) as container:
        listed = _frame_count(path, container)
        span = frame_span(path, listed, _fps(container.streams.video[0]), segment)
        chosen = [span.first + min(int(i), len(span) - 1) if i >= 0 else i for i in choose(len(span))]
        frames, indices = _pick(path, container, listed, chosen, False)
    return frames, indices, span


def read_video(path: str | Path, indices: Sequence[int] | None = None, *, progress: bool = False) -> np.ndarray:
    """Decode ``path`` to ``(T, H, W, 3)`` uint8 RGB: every frame, or those at ``indices``
    (repeats allowed; past the end reads the last frame, see :func:`read_clip`)."""
    return read_clip(path, lambda n: range(n) if indices is None else indices, progress=progress)[0]


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


def iter_frames(path: str | Path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, (H, W, 3) uint8 RGB)`` for frames ``0, every, 2 every, ...``, decoded one at a time.

    Raises :class:`VideoDecodeError` for a missing, empty or damaged file, possibly after some frames.
    """
    with _open(path) as container:
        listed = _frame_count(path, container)
        for index, frame in enumerate(_decode(path, container, listed)):
            if index % every == 0:
                yield index, frame.to_ndarray(format="rgb24", threads=1)
