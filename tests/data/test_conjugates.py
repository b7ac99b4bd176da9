"""Conjugate clips in training samples: drawn from the cache, outside the action, deterministic."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actattn.conjugates import Conjugate, mine_synthhoi, save_pairs
from actattn.data.conjugates import WithConjugates
from actattn.data.datamodule import VideoDataModule


def train_clips(tiny_config: dict):
    datamodule = VideoDataModule(**tiny_config["data"])
    datamodule.setup("fit")
    return datamodule.datasets["train"]


def test_each_sample_carries_a_conjugate_clip(tiny_config: dict, tiny_synth: Path, tmp_path: Path) -> None:
    clips = train_clips(tiny_config)
    pairs = mine_synthhoi(tiny_synth, "train", min_frames=1)
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
             for key, value in mine_synthhoi(tiny_synth, "train", min_frames=1).items()}
    cache = save_pairs(relative_to(pairs, tiny_synth, tmp_path), tmp_path / "pairs.json")  # videos relative to it
    datamodule = VideoDataModule(**tiny_config["data"], conjugates_file=str(cache))
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["conjugate"].shape == batch["video"].shape
    assert "conjugate" not in next(iter(datamodule.val_dataloader()))
