"""``actattn conjugates SOURCE`` end to end: the cache, the report, the picture, and both training
paths reading what was mined."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from actattn.cli import main
from actattn.conjugates import load_pairs
from actattn.data.datamodule import VideoDataModule
from actattn.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from actattn.data.video import write_video
from actattn.feature_files import FeatureMap, conjugate_file


def frame_numbers(clip: torch.Tensor, step: int = 7) -> list[int]:
    """The frame index each frame of a normalised clip (3, T, H, W) of the gray test videos shows."""
    mean, std = (torch.tensor(v).view(3, 1, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    return [round(level / step) for level in ((clip * std + mean) * 255).mean(dim=(0, 2, 3)).tolist()]


def run(capsys: pytest.CaptureFixture, *argv: object) -> list[str]:
    main(["conjugates", *map(str, argv)])
    return capsys.readouterr().out.splitlines()


def test_synthhoi(tiny_synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "caches" / "pairs.json"
    lines = run(capsys, "synthhoi", "--data", tiny_synth, "--min-frames", 1, "--out", out)
    assert lines[0].startswith(f"{out}: 24 samples; ") and " before" in lines[0]
    assert lines[-1] == f"picture: {out.with_suffix('.png')}" and Image.open(out.with_suffix(".png")).size[0] > 100
    for conjugates in load_pairs(out).values():
        assert all((out.parent / c.video).is_file() for c in conjugates)  # relative to the cache's folder


def test_segments(hacs: Path, capsys: pytest.CaptureFixture) -> None:
    out = hacs / "pairs.json"
    with pytest.warns(UserWarning, match="v_C.mp4: no such video"):
        lines = run(capsys, "segments", "--format", "activitynet", hacs / "hacs.json", "--video-dir", hacs / "videos",
                    "--out", out)
    assert lines[0] == f"{out}: 4 samples; 4 before, 4 after; 0 without a conjugate"
    assert lines[1] == "skipped 3:" and "v_D.mp4" in lines[3] and "without start/stop times" in lines[4]
    assert Image.open(out.with_suffix(".png")).size[1] > 100
    # the pixel path: each segment's conjugate frames lie outside every segment of the video
    datamodule = VideoDataModule("activitynet", files={"path": str(hacs / "hacs.json")}, video_dir=hacs / "videos",
                                 num_segments=4, size=16, conjugates_file=str(out), skip_bad_videos=True)
    datamodule.setup("fit")
    train = datamodule.datasets["train"]
    segments = [(8, 12), (16, 20), (26, 28)]  # A's, at 4 fps
    for index in range(3):  # A_0, A_1, A_2
        for epoch in range(3):
            frames = frame_numbers(train[(index, epoch)]["conjugate"])
            assert not any(a <= frame < b for frame in frames for a, b in segments), frames
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["conjugate"].shape == batch["video"].shape


def test_neighbours(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from actattn.data.features import FeatureDataModule

    rng = np.random.default_rng(0)
    clips = {name: rng.integers(0, 256, (6, 32, 48, 3), dtype=np.uint8) for name in ("a", "b", "c")}
    for name, frames in (("p0", clips["a"]), ("p1", clips["b"])):
        write_video(tmp_path / "positives" / f"{name}.mp4", frames)
    for name, frames in (("n0", clips["a"]), ("n1", clips["b"]), ("n2", clips["c"])):  # n0 shows what p0 does
        write_video(tmp_path / "negatives" / f"{name}.mp4", frames)
    for folder in ("positives", "negatives"):
        main(["extract", "--videos", str(tmp_path / folder), "--out", str(tmp_path / f"{folder}-features"),
              "--backbone", "small_cnn", "--weights", "random", "--device", "cpu"])
    out = tmp_path / "pairs.json"
    capsys.readouterr()
    lines = run(capsys, "neighbours", "--features", tmp_path / "positives-features",
                "--negatives", tmp_path / "negatives-features", "-k", 1, "--out", out)
    assert lines[0] == f"{out}: 5 samples; 5 neighbour; 0 without a conjugate"  # the negatives get theirs too
    pairs = load_pairs(out)
    assert {key: [(Path(c.video).name, c.start, c.stop) for c in pairs[key]] for key in ("p0", "p1")} == {
        "p0": [("n0.mp4", 0, 6)], "p1": [("n1.mp4", 0, 6)]}
    (tmp_path / "train.csv").write_text("path,label\np0.mp4,0\np1.mp4,1\n")
    pixels = VideoDataModule("csv", train_file=tmp_path / "train.csv", video_dir=tmp_path / "positives",
                             num_segments=2, size=16, batch_size=2, conjugates_file=str(out))
    pixels.setup("fit")
    batch = next(iter(pixels.train_dataloader()))
    assert batch["conjugate"].shape == batch["video"].shape == (2, 3, 2, 16, 16)
    features = FeatureDataModule("csv", features_dir=tmp_path / "positives-features", train_file=tmp_path / "train.csv",
                                 crop_steps=2, batch_size=2, conjugates_file=out)
    features.setup("fit")
    batch = next(iter(features.train_dataloader()))
    assert batch["conjugate"].shape == batch["video"].shape


def test_stills(voc: Path, capsys: pytest.CaptureFixture) -> None:
    sets = sorted((voc / "ImageSets" / "Action").glob("*.txt"))
    out = voc / "pairs.json"
    lines = run(capsys, "stills", *sets, "--file", f"annotations={voc / 'Annotations'}", "--video-dir", voc,
                "--split", "trainval", "--out", out)
    assert lines[0] == f"{out}: 3 samples; 3 inpainted; 0 without a conjugate"
    assert sorted(path.name for path in (voc / "pairs-inpainted").iterdir()) == ["2010_000002.png", "2012_004331.png"]
    datamodule = VideoDataModule("voc_action", files={"imagesets": [str(s) for s in sets],
                                                      "annotations": str(voc / "Annotations")},
                                 video_dir=voc, num_segments=1, size=32, batch_size=3, conjugates_file=str(out))
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["conjugate"].shape == batch["video"].shape == (3, 3, 1, 32, 32)
    # the feature path: actattn extract --conjugates reads the images (one frame each)
    main(["extract", "--conjugates", str(out), "--conjugate-root", str(voc), "--out", str(voc / "features"),
          "--backbone", "small_cnn", "--weights", "random", "--size", "32", "32", "--device", "cpu"])
    for conjugates in load_pairs(out).values():
        assert FeatureMap.load(conjugate_file(voc / "features", conjugates[0])).features.shape[0] == 1


def test_a_mistake_is_one_line(voc: Path, capsys: pytest.CaptureFixture) -> None:
    sets = sorted((voc / "ImageSets" / "Action").glob("*.txt"))
    with pytest.raises(SystemExit):
        main(["conjugates", "stills", *map(str, sets), "--video-dir", str(voc), "--out", str(voc / "pairs.json")])
    assert "actattn conjugates: error: the voc_action samples have no person boxes" in capsys.readouterr().err
