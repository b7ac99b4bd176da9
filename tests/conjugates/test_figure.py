"""The picture of mined pairs: any source's samples beside their conjugates; SynthHOI's by default."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from actattn.conjugates import Conjugate, SampleClip, from_synthhoi, pairs_figure


def test_the_picture_needs_only_the_samples_clips(tiny_synth: Path, tmp_path: Path) -> None:
    mined = from_synthhoi(tiny_synth, "train", min_frames=1)
    given = pairs_figure(tiny_synth, mined.pairs, tmp_path / "given.png", count=2, samples=mined.samples)
    default = pairs_figure(tiny_synth, mined.pairs, tmp_path / "default.png", count=2)  # the demo's call
    assert np.array_equal(np.asarray(Image.open(given)), np.asarray(Image.open(default)))


def test_people_of_one_image_are_drawn_once(tmp_path: Path) -> None:
    for name, level in (("photo", 60), ("empty", 180)):
        Image.fromarray(np.full((30, 40, 3), level, np.uint8)).save(tmp_path / f"{name}.png")
    clip, conjugate = SampleClip("photo.png", 0, 1), Conjugate("empty.png", 0, 1, "inpainted")
    pairs = {"photo_1": [conjugate], "photo_2": [conjugate]}
    one = pairs_figure(tmp_path, pairs, tmp_path / "one.png", samples={"photo_1": clip, "photo_2": clip})
    two = pairs_figure(tmp_path, pairs, tmp_path / "two.png", samples={"photo_1": clip,
                                                                       "photo_2": SampleClip("empty.png", 0, 1)})
    assert Image.open(two).size[1] > 1.5 * Image.open(one).size[1]
