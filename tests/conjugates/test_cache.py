"""The conjugate cache: a JSON file that round-trips, and whose errors name the file and the sample."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from actattn.conjugates import Conjugate, load_pairs, relative_to, save_pairs


def test_the_cache_round_trips_and_a_bad_one_names_the_sample(tmp_path: Path) -> None:
    pairs = {"7": [Conjugate("videos/7.mp4", 0, 5, "before")], "8": []}
    assert load_pairs(save_pairs(pairs, tmp_path / "pairs.json")) == pairs
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"pairs": {"9": [{"video": "v", "start": 4, "stop": 4, "kind": "before"}]}}))
    with pytest.raises(ValueError, match="bad.json: sample 9: .*0 <= start < stop"):
        load_pairs(bad)


def test_videos_are_made_relative_to_the_caches_folder(tmp_path: Path) -> None:
    pairs = {"7": [Conjugate("videos/7.mp4", 0, 5, "before")]}
    moved = relative_to(pairs, tmp_path / "data", tmp_path / "caches")
    assert moved == {"7": [Conjugate("../data/videos/7.mp4", 0, 5, "before")]}
