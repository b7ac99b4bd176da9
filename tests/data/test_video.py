"""actattn.data.video: PyAV round trip, a real clip, and every failure naming the file."""
import av
import numpy as np
import pytest

from actattn.data.video import VideoDecodeError, probe, read_clip, read_video, video_fps, write_video


def _blocks(num_frames: int = 6, height: int = 48, width: int = 64) -> np.ndarray:
    """Frames of four flat colour blocks whose brightness changes per frame."""
    frames = np.zeros((num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        frames[t, : height // 2, : width // 2] = (200, 30, 30)
        frames[t, : height // 2, width // 2 :] = (30, 200, 30)
        frames[t, height // 2 :, : width // 2] = (30, 30, 200)
        frames[t, height // 2 :, width // 2 :] = 20 + 30 * t
    return frames


def test_round_trip_keeps_shape_and_colours(tmp_path):
    frames = _blocks()
    path = tmp_path / "clip.mp4"
    write_video(path, frames, fps=10)
    decoded = read_video(path)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    centres = (slice(6, 18), slice(8, 24))  # away from block edges (chroma subsampling)
    error = np.abs(decoded[:, centres[0], centres[1]].astype(int) - frames[:, centres[0], centres[1]])
    assert error.mean() < 6
    info = probe(path)
    assert (info.num_frames, info.height, info.width) == (6, 48, 64)
    assert info.fps == video_fps(path) == pytest.approx(10)


def test_real_clip_decodes(bikes):
    path = bikes
    info = probe(path)
    assert (info.num_frames, info.height, info.width) == (250, 272, 640)
    assert info.fps == video_fps(path) == pytest.approx(25)
    clip = read_video(path, [0, 125, 249])
    assert clip.shape == (3, 272, 640, 3) and clip.dtype == np.uint8
    assert clip.std() > 20  # real footage, not a flat frame
    assert np.abs(clip[0].astype(int) - clip[2]).mean() > 5  # frames far apart differ


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(VideoDecodeError, match="corrupt.mp4") as info:
        read_video(path)
    assert str(path) in str(info.value)
    with pytest.raises(VideoDecodeError, match="corrupt.mp4"):
        probe(path)


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere" / "missing.mp4"
    with pytest.raises(VideoDecodeError) as info:
        read_video(path)
    assert str(path) in str(info.value) and info.value.path == path


def test_indices_past_the_end_are_clamped_and_negative_rejected(tmp_path):
    path = tmp_path / "clip.mp4"
    write_video(path, _blocks(num_frames=4))
    full = read_video(path)
    picked = read_video(path, [0, 3, 7, 100, 2])
    assert picked.shape[0] == 5
    np.testing.assert_array_equal(picked[[1, 2, 3]], full[[3, 3, 3]])
    np.testing.assert_array_equal(picked[4], full[2])
    with pytest.raises(VideoDecodeError, match="negative"):
        read_video(path, [0, -1])


def test_one_frame_video(tmp_path):
    path = tmp_path / "one.mp4"
    write_video(path, _blocks(num_frames=1))
    assert probe(path).num_frames == 1
    clip = read_video(path, [0, 0, 5])
    assert clip.shape == (3, 48, 64, 3)
    np.testing.assert_array_equal(clip[0], clip[2])


def test_yuv444_keeps_colour_of_thin_details(tmp_path):
    """4:4:4 (SynthHOI's format) keeps full colour resolution; 4:2:0 smears a 1-px red line's colour."""
    frames = np.full((4, 32, 32, 3), 128, dtype=np.uint8)
    frames[:, :, 15] = (230, 20, 20)
    errors = {}
    for pix_fmt in ("yuv420p", "yuv444p"):
        path = tmp_path / f"{pix_fmt}.mp4"
        write_video(path, frames, fps=10, pix_fmt=pix_fmt)
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.pix_fmt == pix_fmt
        errors[pix_fmt] = np.abs(read_video(path)[:, :, 15].astype(int) - frames[:, :, 15]).mean()
    assert errors["yuv444p"] < 10 < errors["yuv420p"]


def test_a_truncated_mp4_is_reported_not_read_short(truncated_bikes, bikes):
    """Cut at 30%, a faststart MP4 still opens and its header still lists 250 frames; 74 decode."""
    with pytest.raises(VideoDecodeError, match=r"bikes-truncated.mp4: ends after 74 of the 250 frames its container"):
        read_video(truncated_bikes, [0, 125, 249])
    with pytest.raises(VideoDecodeError, match="ends after 74 of the 250"):
        probe(truncated_bikes)
    early = read_video(truncated_bikes, [0, 40, 73])  # decoding stops after the last wanted frame, before the damage
    np.testing.assert_array_equal(early, read_video(bikes, [0, 40, 73]))


def test_a_container_without_a_frame_count_counts_its_packets(tmp_path):
    """WebM (VP9) states no frame count: the packets are counted without decoding."""
    frames = _blocks(num_frames=7)
    path = tmp_path / "clip.webm"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=10)
        stream.height, stream.width = frames.shape[1:3]
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0
    assert probe(path).num_frames == 7
    clip, indices = read_clip(path, lambda n: [n - 1, 0])
    assert indices == [6, 0] and clip.shape == (2, 48, 64, 3)
    assert np.abs(clip[0].astype(int) - frames[6]).mean() < 6


def test_a_video_without_frames_is_an_error(tmp_path):
    path = tmp_path / "empty.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.height, stream.width = 48, 64
        container.start_encoding()  # a header and no frame: FFmpeg then lists no video stream
    with pytest.raises(VideoDecodeError, match="empty.mp4: has no video stream"):
        read_video(path)
