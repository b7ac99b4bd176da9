"""Conjugate clips in training samples: drawn from the cache, outside the action, deterministic."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actattn.conjugates import Conjugate, from_synthhoi, save_pairs
from actattn.data.conjugates import WithConjugates
from actattn.data.datamodule import VideoDataModule


def train_clips(tiny_config: dict):
    datamodule = VideoDataModule(**tiny_config["data"])
    datamodule.setup("fit")
    return datamodule.datasets["train"]


def test_each_sample_carries_a_conjugate_clip(tiny_config: dict, tiny_synth: Path, tmp_path: Path) -> None:
    clips = train_clips(tiny_config)
    pairs = from_synthhoi(tiny_synth, "train", min_frames=1).pairs
    wrapped = WithConjugates(clips, save_pairs(pairs, tmp_path / "pairs.json"), tiny_synth)
    index = next(i for i, record in enumerate(clips.records) if pairs[record.path.stem])
    sample = wrapped[(index, 3)]
    assert sample["conjugate"].shape == sample["video"].shape  # the same sampling and crop size
    torch.testing.assert_close(sample["video"], clips[(index, 3)]["video"])  # the sample itself unchanged
    torch.testing.assert_close(wrapped[(index, 3)]["conjugate"], sample["conjugate"])  # deterministic
    assert not torch.equal(wrapped[(index, 4)]["conjugate"], sample["conjugate"])  # another epoch, another draw
    assert len(wrapped) == len(clips) and wrapped.records is clips.records


def test_a_sample_without_conjugate_is_an_error_or_a_counted_skip(tiny_config: dict, tiny_synth: Path,
                                                                   tmp_path: Path) -> None:
    clips = train_clips(tiny_config)
    stem = clips.records[0].path.stem
    pairs = {stem: [], clips.records[1].path.stem: [Conjugate("videos/missing.mp4", 0, 4, "before")]}
    path = save_pairs(pairs, tmp_path / "pairs.json")
    with pytest.raises(ValueError, match=f"pairs.json: no usable conjugate for {stem}"):
        WithConjugates(clips, path, tiny_synth)[0]
    clips.skip_bad_videos = True
    wrapped = WithConjugates(clips, path, tiny_synth)
    with pytest.warns(UserWarning, match="missing.mp4"):
        assert wrapped[1] is None
    assert clips.num_bad_videos == 1


def test_the_data_module_puts_conjugates_in_training_batches_only(tiny_config: dict, tiny_synth: Path,
                                                                 tmp_path: Path) -> None:
    from actattn.conjugates import relative_to

    pairs = {key: value or [Conjugate(f"videos/{key}.mp4", 0, 2, "before")]
             for key, value in from_synthhoi(tiny_synth, "train", min_frames=1).pairs.items()}
    cache = save_pairs(relative_to(pairs, tiny_synth, tmp_path), tmp_path / "pairs.json")  # videos relative to it
    datamodule = VideoDataModule(**tiny_config["data"], conjugates_file=str(cache))
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["conjugate"].shape == batch["video"].shape
    assert "conjugate" not in next(iter(datamodule.val_dataloader()))


def gray_levels(clip: torch.Tensor) -> list[float]:
    """The gray level of each frame of a normalised clip (3, T, H, W) of uniformly gray frames."""
    from actattn.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    mean, std = (torch.tensor(v).view(3, 1, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    return ((clip * std + mean) * 255).mean(dim=(0, 2, 3)).tolist()


def test_segments_of_one_video_are_matched_by_sample_id(tmp_path: Path) -> None:
    import json

    import numpy as np

    from actattn.data.video import write_video

    write_video(tmp_path / "videos" / "v_A.mp4", np.stack([np.full((24, 32, 3), 7 * i, np.uint8) for i in range(32)]),
                fps=4)  # frame i is gray 7 i
    annotations = [{"label": "Archery", "segment": [2.0, 3.0]}, {"label": "Archery", "segment": [4.0, 5.0]}]
    (tmp_path / "hacs.json").write_text(json.dumps({"database": {"A": {
        "subset": "training", "duration": 8.0, "url": "", "annotations": annotations}}}))
    video = "videos/v_A.mp4"
    pairs = {"A_0": [Conjugate(video, 0, 8, "before")], "A_1": [Conjugate(video, 20, 26, "after")],
             "v_A": [Conjugate(video, 28, 32, "after")]}  # the video's stem: ids come first
    cache = save_pairs(pairs, tmp_path / "pairs.json")
    datamodule = VideoDataModule("activitynet", files={"path": str(tmp_path / "hacs.json")},
                                 video_dir=tmp_path / "videos",
                                 num_segments=4, size=16, conjugates_file=str(cache))
    datamodule.setup("fit")
    train = datamodule.datasets["train"]
    assert [sample.id for sample in train.samples] == [train.key(i) for i in range(2)] == ["A_0", "A_1"]
    for index, (start, stop) in enumerate([(0, 8), (20, 26)]):
        for epoch in range(3):
            frames = [round(level / 7) for level in gray_levels(train[(index, epoch)]["conjugate"])]
            assert all(start <= frame < stop for frame in frames), (index, frames)


def test_a_still_images_conjugate_is_one_image_found_by_key_or_by_the_images_stem(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    sets = tmp_path / "ImageSets" / "Action"
    sets.mkdir(parents=True)
    (sets / "jumping_trainval.txt").write_text("a 1 1\nb 1 -1\nb 2 1\n")
    for name, level in (("a", 10), ("b", 20), ("a-inpainted", 200), ("b2-inpainted", 90)):
        Image.fromarray(np.full((30, 40, 3), level, np.uint8)).save(tmp_path / f"{name}.png")
    (tmp_path / "JPEGImages").mkdir()
    for name in ("a", "b"):
        (tmp_path / f"{name}.png").rename(tmp_path / "JPEGImages" / f"{name}.jpg")  # PNG bytes: lossless
    pairs = {"a": [Conjugate("a-inpainted.png", 0, 1, "inpainted")], "b_2": [Conjugate("b2-inpainted.png", 0, 1,
                                                                                        "inpainted")]}
    cache = save_pairs(pairs, tmp_path / "pairs.json")
    datamodule = VideoDataModule("voc_action", files={"imagesets": [str(sets / "jumping_trainval.txt")]},
                                 video_dir=tmp_path, num_segments=1, size=16, conjugates_file=str(cache),
                                 skip_bad_videos=True)
    datamodule.setup("fit")
    train = datamodule.datasets["train"]
    assert [sample.id for sample in train.samples] == ["a/1", "b/1", "b/2"]
    assert np.allclose(gray_levels(train[(0, 0)]["conjugate"]), [200], atol=1)  # "a/1" by the stem "a"
    assert np.allclose(gray_levels(train[(2, 0)]["conjugate"]), [90], atol=1)  # "b/2" by its key b_2
    with pytest.warns(UserWarning, match="skipping b: no usable conjugate .*does not list it"):
        assert train[(1, 0)] is None  # "b/1": neither its id nor "b" is in the cache
