"""actattn.detect: Mask R-CNN (random weights, 64-px input) over tiny videos -> per-video caches,
resumable and sharded."""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from actattn.cli import main
from actattn.data.video import write_video
from actattn.detect import (
    PERSON,
    DetectSettings,
    Detections,
    MaskDetector,
    detect_folder,
    is_complete,
    list_videos,
    select_instances,
)
from actattn.jobs import world_position

# random weights score ~0.5-0.57 on noise frames: at 0.5 a few instances survive in some frames
SETTINGS = DetectSettings(weights="random", min_score=0.5, max_objects=4, min_size=64, max_size=64)


@pytest.fixture(scope="module")
def detector() -> MaskDetector:
    return MaskDetector("v1", "random", SETTINGS.min_score, SETTINGS.max_objects, min_size=64, max_size=64)


@pytest.fixture
def videos(tmp_path: Path) -> Path:
    """Two 3-frame 48x64 videos, one in a subfolder, a corrupt file and an empty one."""
    rng = np.random.default_rng(0)
    write_video(tmp_path / "videos" / "a.mp4", rng.integers(0, 256, (3, 48, 64, 3), dtype=np.uint8))
    write_video(tmp_path / "videos" / "sub" / "b.mp4", rng.integers(0, 256, (3, 48, 64, 3), dtype=np.uint8))
    (tmp_path / "videos" / "corrupt.mp4").write_bytes(b"not a video at all")
    (tmp_path / "videos" / "empty.webm").write_bytes(b"")
    return tmp_path / "videos"


def test_people_come_first_then_by_score_above_the_threshold_and_at_most_k():
    labels = np.array([3, PERSON, 5, PERSON, 7, 9])
    scores = np.array([0.95, 0.6, 0.9, 0.85, 0.4, 0.7])
    assert select_instances(labels, scores, 0.5, 10).tolist() == [3, 1, 0, 2, 5]
    assert select_instances(labels, scores, 0.5, 3).tolist() == [3, 1, 0]
    assert select_instances(labels, scores, 0.8, 10).tolist() == [3, 0, 2]
    assert select_instances(labels, scores, 0.99, 10).tolist() == []


def test_detector_keeps_at_most_k_instances_above_the_score(detector):
    torch.manual_seed(0)
    detections = detector(torch.rand(2, 3, 48, 64))
    for detection in detections:
        n = len(detection["labels"])
        assert n <= SETTINGS.max_objects and bool((detection["scores"] >= SETTINGS.min_score).all())
        assert detection["boxes"].shape == (n, 4) and detection["masks"].shape == (n, 28, 28)
        assert bool((detection["boxes"][:, 2] <= 64).all()) and bool((detection["boxes"][:, 3] <= 48).all())


def test_cache_round_trips_in_both_mask_formats(tmp_path):
    rng = np.random.default_rng(0)
    common = dict(frames=np.array([0, 2]), counts=np.array([2, 1]), labels=np.array([1, 44, 3]),
                  scores=np.array([0.9, 0.8, 0.7], np.float32), boxes=rng.uniform(0, 40, (3, 4)).astype(np.float32),
                  image_size=(48, 64), settings=SETTINGS.to_json())
    for masks, rle in ((rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), None),
                       (None, np.array([b"abc", b"de", b"f0"]))):
        written = Detections(masks=masks, rle=rle, **common)
        read = Detections.load(written.save(tmp_path / "v.npz"))
        for key in ("frames", "counts", "labels", "scores", "boxes", "masks", "rle"):
            np.testing.assert_array_equal(getattr(read, key), getattr(written, key))
        assert read.image_size == (48, 64) and read.settings == SETTINGS.to_json()


def test_detect_folder_caches_skips_bad_videos_and_resumes(videos, detector, tmp_path):
    out = tmp_path / "cache"
    with pytest.warns(UserWarning, match="skipping a bad video") as caught:
        summary = detect_folder(list_videos(videos), out, detector, SETTINGS, batch_size=2, progress=False)
    named = " ".join(str(w.message) for w in caught)
    assert "corrupt.mp4" in named and "empty.webm" in named
    assert (summary["videos"], summary["detected"], summary["resumed"]) == (4, 2, 0)
    assert sorted(Path(bad).name for bad in summary["bad"]) == ["corrupt.mp4", "empty.webm"]
    assert json.loads((out / "summary.rank0.json").read_text())["detected"] == 2
    cache = Detections.load(out / "a.npz")
    assert cache.frames.tolist() == [0, 1, 2] and cache.image_size == (48, 64)
    assert cache.masks.shape == (int(cache.counts.sum()), 28, 28) and cache.counts.max() <= SETTINGS.max_objects
    assert (out / "b.npz").is_file()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the bad videos again
        again = detect_folder(list_videos(videos), out, detector, SETTINGS, progress=False)
    assert (again["detected"], again["resumed"], len(again["bad"])) == (0, 2, 2)

    data = (out / "a.npz").read_bytes()
    (out / "a.npz").write_bytes(data[: len(data) // 2])  # a file cut short (not written by this stage)
    (out / ".b.npz.123.partial").write_bytes(b"left by a killed run")
    assert not is_complete(out / "a.npz", SETTINGS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        redone = detect_folder(list_videos(videos), out, detector, SETTINGS, progress=False)
    assert (redone["detected"], redone["resumed"]) == (1, 1)
    assert is_complete(out / "a.npz", SETTINGS) and not (out / ".b.npz.123.partial").exists()
    assert not is_complete(out / "a.npz", DetectSettings(**{**json.loads(SETTINGS.to_json()), "min_score": 0.8}))


def test_rle_format_and_every_nth_frame(videos, detector, tmp_path):
    settings = DetectSettings(**{**json.loads(SETTINGS.to_json()), "mask_format": "rle", "every": 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detect_folder(list_videos(videos), tmp_path / "rle", detector, settings, progress=False)
    cache = Detections.load(tmp_path / "rle" / "a.npz")
    assert cache.frames.tolist() == [0, 2] and cache.masks is None and len(cache.rle) == cache.counts.sum()


def test_ranks_from_torchrun_env_write_their_own_videos(videos, detector, tmp_path, monkeypatch):
    good = [video for video in list_videos(videos) if video.stem in ("a", "b")]
    written = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        assert world_position() == (rank, 2)
        out = tmp_path / f"rank{rank}"
        detect_folder(good, out, detector, SETTINGS, rank=rank, world_size=2, progress=False)
        written.append({path.name for path in out.glob("*.npz")})
    assert written == [{"a.npz"}, {"b.npz"}]


def test_video_stems_must_differ_and_the_folder_must_hold_videos(tmp_path):
    write_video(tmp_path / "x" / "a.mp4", np.zeros((1, 16, 16, 3), np.uint8))
    write_video(tmp_path / "x" / "sub" / "a.mp4", np.zeros((1, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="share the cache file a.npz"):
        list_videos(tmp_path / "x")
    (tmp_path / "y").mkdir()
    with pytest.raises(ValueError, match="no videos"):
        list_videos(tmp_path / "y")


def test_cli_detect_with_local_weights(videos, detector, tmp_path, capsys):
    weights = tmp_path / "maskrcnn.pt"
    torch.save(detector.model.state_dict(), weights)
    args = ["detect", "--videos", str(videos), "--out", str(tmp_path / "cli"), "--min-size", "64", "--max-size", "64",
            "--device", "cpu"]
    with pytest.raises(SystemExit):
        main([*args, "--weights", str(tmp_path / "nope.pt")])
    assert "nope.pt: no such file" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="corrupt.mp4"):
        main([*args, "--weights", str(weights), "--max-objects", "3"])
    assert "2 videos detected, 0 already done, 2 bad videos skipped" in capsys.readouterr().out
    assert Detections.load(tmp_path / "cli" / "a.npz").counts.max() <= 3
