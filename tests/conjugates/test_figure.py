"""The picture of mined pairs: any source's samples beside their conjugates."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from actattn.conjugates import Conjugate, SampleClip, from_synthhoi, pairs_figure


def test_the_picture_draws_a_row_per_sample(tiny_synth: Path, tmp_path: Path) -> None:
    mined = from_synthhoi(tiny_synth, "train", min_frames=1)
    one = pairs_figure(tiny_synth, mined.pairs, mined.samples, tmp_path / "one.png", count=1)
    two = pairs_figure(tiny_synth, mined.pairs, mined.samples, tmp_path / "two.png", count=2)
    assert Image.open(two).size[1] > 1.5 * Image.open(one).size[1]


def test_people_of_one_image_are_drawn_once(tmp_path: Path) -> None:
    for name, level in (("photo", 60), ("empty", 180)):
        Image.fromarray(np.full((30, 40, 3), level, np.uint8)).save(tmp_path / f"{name}.png")
    clip, conjugate = SampleClip("photo.png", 0, 1), Conjugate("empty.png", 0, 1, "inpainted")
    pairs = {"photo_1": [conjugate], "photo_2": [conjugate]}
    one = pairs_figure(tmp_path, pairs, {"photo_1": clip, "photo_2": clip}, tmp_path / "one.png")
    two = pairs_figure(tmp_path, pairs, {"photo_1": clip, "photo_2": SampleClip("empty.png", 0, 1)},
                       tmp_path / "two.png")
    assert Image.open(two).size[1] > 1.5 * Image.open(one).size[1]
