"""actattn.data.frames (and video.frame_span / read_segment): frame folders, images and segments
read like video files; segment -> frames through the video's own rate or the extraction rate."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from actattn.data.frames import open_folder, read_folder, read_source
from actattn.data.video import Span, VideoDecodeError, frame_span, write_video


def frame_folder(path, count, pattern="frame_%010d.jpg", first=1, size=(24, 32)):
    """``count`` JPEGs whose red channel is 8 x their 0-based index (readable through JPEG loss)."""
    path.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = np.zeros((*size, 3), np.uint8)
        image[..., 0] = 8 * i
        Image.fromarray(image).save(path / (pattern % (first + i)), quality=95)
    return path


def shade(frames):
    return [round(float(frame[..., 0].mean()) / 8) for frame in frames]


@pytest.mark.parametrize(("pattern", "first"), [("frame_%010d.jpg", 1), ("%05d.jpg", 1), ("img_%05d.jpg", 1),
                                                 ("%05d.jpg", 0)])
def test_patterns_are_detected_and_counted_without_listing(tmp_path, pattern, first):
    folder = open_folder(frame_folder(tmp_path / "v", 13, pattern, first))
    assert (folder.pattern, folder.first, folder.count) == (pattern, first, 13)
    assert shade(read_folder(folder, [0, 12, 5, 5, 40])) == [0, 12, 5, 5, 12]  # past the end: the last


def test_unpatterned_folders_read_in_sorted_order_and_errors_name_the_folder(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    for i, name in enumerate(["b.jpg", "a.jpg", "c.png"]):
        Image.fromarray(np.full((8, 8, 3), 8 * i, np.uint8)).save(folder / name)
    listed = open_folder(folder)
    assert listed.pattern is None and listed.names == ("a.jpg", "b.jpg", "c.png")
    assert shade(read_folder(listed, [0, 1, 2])) == [1, 0, 2]
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoDecodeError, match="empty: is a folder without JPEG or PNG frames"):
        open_folder(tmp_path / "empty")
    with pytest.raises(VideoDecodeError, match=r"has no frame named 'x_00001.jpg'"):
        open_folder(folder, "x_%05d.jpg")


def test_frame_span_seconds_frames_and_clipping():
    assert frame_span("v", 100) == Span(0, 100)
    assert frame_span("v", 100, 10.0, (1.0, 2.0)) == Span(10, 20)  # frames whose time is in [1, 2)
    assert frame_span("v", 100, 10.0, (1.05, 1.06)) == Span(11, 12)  # at least one frame
    assert frame_span("v", 100, frames=(8, 12)) == Span(7, 12)  # EPIC: 1-based inclusive
    assert frame_span("v", 15, 10.0, (1.0, 2.0)) == Span(10, 15, clipped=True)
    with pytest.raises(VideoDecodeError, match=r"v: segment 11.0-12.0 s .* starts after the last of its 100 frames"):
        frame_span("v", 100, 10.0, (11.0, 12.0))


def test_read_source_samples_within_the_segment(tmp_path):
    folder = frame_folder(tmp_path / "P01_01", 30)
    frames, indices, span = read_source(folder, lambda n: [0, n - 1], frames=(8, 12))  # EPIC frames 8..12
    assert indices == [7, 11] and shade(frames) == [7, 11] and span == Span(7, 12)
    frames, indices, span = read_source(folder, lambda n: [0, n - 1], segment=(0.5, 0.7), frame_rate=20.0)
    assert indices == [10, 13] and not span.clipped
    _, indices, span = read_source(folder, lambda n: [n - 1], segment=(1.0, 9.0), frame_rate=20.0)
    assert indices == [29] and span.clipped  # ends after the 30 frames: clipped
    with pytest.raises(VideoDecodeError, match="needs the rate its frames were extracted at"):
        read_source(folder, lambda n: [0], segment=(0.5, 0.7))


def test_video_segments_go_through_the_videos_own_frame_rate(tmp_path):
    video = np.zeros((40, 16, 16, 3), np.uint8)
    video[..., 0] = (8 * np.arange(40))[:, None, None]
    write_video(tmp_path / "v.mp4", video, fps=10)
    frames, indices, span = read_source(tmp_path / "v.mp4", lambda n: list(range(n)), segment=(1.0, 1.5))
    assert indices == [10, 11, 12, 13, 14] and span == Span(10, 15)
    assert [abs(a - b) <= 1 for a, b in zip(shade(frames), indices)] == [True] * 5
    _, indices, span = read_source(tmp_path / "v.mp4", lambda n: [n - 1], segment=(3.5, 9.0))
    assert indices == [39] and span.clipped


def test_an_image_is_one_frame(tmp_path):
    Image.fromarray(np.full((10, 12, 3), 80, np.uint8)).save(tmp_path / "x.jpg")
    frames, indices, span = read_source(tmp_path / "x.jpg", lambda n: [0, 0, 0], segment=(1.0, 2.0))
    assert frames.shape == (3, 10, 12, 3) and indices == [0, 0, 0] and span == Span(0, 1)
    with pytest.raises(VideoDecodeError, match="nope.jpg: no such file"):
        read_source(tmp_path / "nope.jpg", lambda n: [0])
