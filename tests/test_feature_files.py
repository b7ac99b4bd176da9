"""actattn.feature_files: a stored map reads back as written; a damaged or foreign file is an error naming it."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actattn.conjugates import Conjugate
from actattn.feature_files import FeatureMap, conjugate_file


def _map(steps: int = 3, channels: int = 4) -> FeatureMap:
    features = torch.randn(steps, channels, 2, 3).half()
    spans = torch.stack([torch.arange(steps) * 2, torch.arange(steps) * 2 + 2], 1)
    return FeatureMap(features, spans, {"settings": "{}", "out_channels": channels, "version": 1})


def test_a_saved_map_loads_back_memory_mapped_or_not(tmp_path: Path) -> None:
    stored = _map()
    path = stored.save(tmp_path / "a.pt")
    for mmap in (True, False):
        loaded = FeatureMap.load(path, mmap=mmap)
        torch.testing.assert_close(loaded.features, stored.features, rtol=0, atol=0)
        torch.testing.assert_close(loaded.step_frames, stored.step_frames, rtol=0, atol=0)
        assert loaded.meta == stored.meta


@pytest.mark.parametrize("damage, problem", [
    (lambda path: path.write_bytes(path.read_bytes()[:100]), "not a readable feature file"),
    (lambda path: path.write_bytes(b""), "not a readable feature file"),
    (lambda path: torch.save({"features": torch.zeros(1)}, path), "not a feature file"),
    (lambda path: torch.save({"features": torch.zeros(3, 4, 2, 3), "step_frames": torch.zeros(3, 2),
                              "meta": {"settings": "{}", "out_channels": 4}}, path), "inconsistent feature file"),
    (lambda path: torch.save({"features": torch.zeros(3, 4, 2, 3).half(), "step_frames": torch.zeros(2, 2),
                              "meta": {"settings": "{}", "out_channels": 4}}, path), "inconsistent feature file"),
    (lambda path: torch.save({"features": torch.zeros(3, 4, 2, 3).half(), "step_frames": torch.zeros(3, 2),
                              "meta": {"settings": "{}", "out_channels": 8}}, path), "whose out_channels is not C = 4"),
])
def test_a_damaged_or_foreign_file_names_itself_and_its_problem(tmp_path: Path, damage, problem: str) -> None:
    path = _map().save(tmp_path / "clip.pt")
    damage(path)
    with pytest.raises(ValueError, match=rf"clip.pt: .*{problem}"):
        FeatureMap.load(path)
    with pytest.raises(ValueError, match="missing.pt: not a readable feature file"):
        FeatureMap.load(tmp_path / "missing.pt")


def test_a_conjugate_clip_is_stored_by_video_stem_and_frames(tmp_path: Path) -> None:
    conjugate = Conjugate("videos/kitchen/P01_01.mp4", 40, 72, "before")
    assert conjugate_file(tmp_path, conjugate) == tmp_path / "conjugates" / "P01_01_40-72.pt"
