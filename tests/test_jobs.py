"""actattn.jobs: sharding over ranks, and the resumable pass that detect and extract share."""
from __future__ import annotations

from pathlib import Path

import pytest

from actattn.jobs import cache_jobs, shard, world_position


def test_shards_are_disjoint_and_complete():
    items = list(range(11))
    for world in (1, 2, 3, 4):
        shards = [shard(items, rank, world) for rank in range(world)]
        assert sorted(sum(shards, [])) == items
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
    with pytest.raises(ValueError, match="rank"):
        shard(items, 2, 2)


def test_ranks_come_from_torchrun_or_are_one(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert world_position() == (0, 1)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert world_position() == (3, 4)


def test_complete_files_are_kept_and_bad_jobs_counted(tmp_path: Path):
    (tmp_path / "a.txt").write_text("done")

    def make(job: str, path: Path) -> None:
        if job == "bad":
            raise OSError(f"{job}: unreadable")
        path.write_text("new")

    def run() -> dict:
        return cache_jobs(["a", "b", "bad"], tmp_path, target=lambda job: tmp_path / f"{job}.txt", name=str,
                          complete=Path.is_file, make=make, bad_errors=(OSError,), rank=0, world_size=1,
                          desc="test", progress=False)

    with pytest.warns(UserWarning, match="skipping a bad video: bad: unreadable"):
        first = run()
    assert (first["jobs"], first["done"], first["resumed"], first["bad"]) == (3, 1, 1, {"bad": "bad: unreadable"})
    assert (tmp_path / "a.txt").read_text() == "done"
    with pytest.warns(UserWarning):
        assert run()["resumed"] == 2  # a rerun resumes
