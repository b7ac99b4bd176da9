"""actattn.extract: feature maps of tiny videos (small_cnn, random weights) -> float16 files, resumable and sharded."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from einops import rearrange

from actattn.cli import main
from actattn.conjugates import Conjugate, save_pairs
from actattn.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from actattn.data.video import write_video
from actattn.extract import (
    ExtractSettings,
    Job,
    build_backbone,
    extract_clip,
    extract_jobs,
    is_complete,
    list_jobs,
    step_spans,
)
from actattn.feature_files import FeatureMap, conjugate_file
from actattn.files import partial_path

SETTINGS = ExtractSettings(backbone="small_cnn", weights="random", size=(32, 48))
FRAMES = {"a": 11, "b": 5}


@pytest.fixture(scope="module")
def backbone() -> torch.nn.Module:
    return build_backbone(SETTINGS)


@pytest.fixture
def videos(tmp_path: Path) -> Path:
    """Two 40x56 videos (11 and 5 frames, one in a subfolder) and a corrupt file."""
    rng = np.random.default_rng(0)
    write_video(tmp_path / "videos" / "a.mp4", rng.integers(0, 256, (11, 40, 56, 3), dtype=np.uint8))
    write_video(tmp_path / "videos" / "sub" / "b.mp4", rng.integers(0, 256, (5, 40, 56, 3), dtype=np.uint8))
    (tmp_path / "videos" / "corrupt.mp4").write_bytes(b"not a video at all")
    return tmp_path / "videos"


def quiet_extract(*args, **kwargs) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return extract_jobs(*args, progress=False, **kwargs)


def test_round_trip_stores_the_backbones_maps_in_float16(videos: Path, backbone, tmp_path: Path) -> None:
    out = tmp_path / "features"
    with pytest.warns(UserWarning, match="corrupt.mp4"):
        summary = extract_jobs(list_jobs(videos), out, backbone, SETTINGS, progress=False)
    assert (summary["extracted"], summary["resumed"], list(summary["bad"])) == (2, 0, ["corrupt"])
    assert json.loads((out / "summary.rank0.json").read_text())["extracted"] == 2
    stored = FeatureMap.load(out / "a.pt")
    assert stored.features.dtype == torch.float16 and stored.features.shape == (11, 128, 4, 6)
    assert stored.step_frames.tolist() == [[i, i + 1] for i in range(11)]
    meta = stored.meta
    assert (meta["frames"], meta["input_size"], meta["out_channels"], meta["output_stride"],
            meta["temporal_stride"]) == ([0, 11], [32, 48], 128, 8, 1)
    assert meta["fps"] == pytest.approx(12.0) and meta["video"].endswith("a.mp4")
    assert json.loads(meta["settings"]) == {"backbone": "small_cnn", "backbone_kwargs": {}, "weights": "random",
                                            "size": [32, 48], "window": None, "stride": None}
    # the same numbers as the backbone on the decoded, resized, normalised frames
    from actattn.data.video import read_video
    frames = torch.from_numpy(read_video(videos / "a.mp4")).permute(0, 3, 1, 2).float()
    frames = torch.nn.functional.interpolate(frames, size=(32, 48), mode="bilinear", antialias=True).round()
    video = (frames / 255 - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    with torch.no_grad():
        expected = backbone(rearrange(video, "t c h w -> 1 c t h w"))[0]
    torch.testing.assert_close(stored.features.float(), expected, atol=2e-2, rtol=1e-2)
    assert FeatureMap.load(out / "b.pt").features.shape[0] == 5


def test_windows_cover_every_frame_and_say_which(videos: Path, backbone) -> None:
    settings = ExtractSettings(backbone="small_cnn", weights="random", size=(32, 48), window=4, stride=2)
    stored = extract_clip(videos / "a.mp4", backbone, settings)
    # windows [0, 4), [2, 6), [4, 8), [6, 10), then the tail [8, 11): 4 * 4 + 3 steps
    assert stored.features.shape[0] == 19 and stored.step_frames[:, 0].tolist()[-3:] == [8, 9, 10]
    assert stored.step_frames[-1].tolist() == [10, 11]
    whole = extract_clip(videos / "a.mp4", backbone, SETTINGS)  # a per-frame net: windows change nothing
    torch.testing.assert_close(stored.features[:4], whole.features[:4])
    batched = extract_clip(videos / "a.mp4", backbone, settings, batch_size=3)
    torch.testing.assert_close(batched.features, stored.features, atol=2e-3, rtol=1e-3)


def test_step_spans_follow_the_temporal_stride() -> None:
    assert step_spans(16, 20, 3, 8).tolist() == [[16, 24], [24, 32], [32, 36]]
    assert step_spans(0, 9, 3, 8).tolist() == [[0, 3], [3, 6], [6, 9]]  # another rounding: an even split


def test_a_video_trunk_extracts_with_its_strides(videos: Path) -> None:
    settings = ExtractSettings(backbone="r3d_18", weights="random", size=(32, 48), window=8)
    stored = extract_clip(videos / "a.mp4", build_backbone(settings), settings)
    assert stored.features.shape == (2, 512, 2, 3)  # windows of 8 and 3 frames: one step each
    assert stored.step_frames.tolist() == [[0, 8], [8, 11]] and stored.meta["output_stride"] == 16


def test_resume_skips_complete_files_and_redoes_bad_ones(videos: Path, backbone, tmp_path: Path) -> None:
    out = tmp_path / "features"
    jobs = list_jobs(videos)
    quiet_extract(jobs, out, backbone, SETTINGS)
    before = (out / "b.pt").stat().st_mtime_ns
    data = (out / "a.pt").read_bytes()
    (out / "a.pt").write_bytes(data[: len(data) // 2])  # truncated
    partial_path(out / "b.pt").write_bytes(b"left by a kill")
    assert not is_complete(out / "a.pt", SETTINGS) and is_complete(out / "b.pt", SETTINGS)
    summary = quiet_extract(jobs, out, backbone, SETTINGS)
    assert (summary["extracted"], summary["resumed"]) == (1, 1)
    assert (out / "b.pt").stat().st_mtime_ns == before and not list(out.glob(".*.partial"))
    assert FeatureMap.load(out / "a.pt").features.shape[0] == 11
    other = ExtractSettings(backbone="small_cnn", weights="random", size=(32, 40))
    assert not is_complete(out / "a.pt", other)  # other settings: redone
    assert quiet_extract(jobs, out, backbone, other)["extracted"] == 2


def test_ranks_share_the_jobs_disjointly_and_completely(videos: Path, backbone, tmp_path: Path) -> None:
    out = tmp_path / "features"
    jobs = list_jobs(videos)
    summaries = [quiet_extract(jobs, out, backbone, SETTINGS, rank=rank, world_size=2) for rank in range(2)]
    assert sum(s["clips"] for s in summaries) == len(jobs) == 3
    assert sum(s["extracted"] for s in summaries) == 2 and sum(len(s["bad"]) for s in summaries) == 1
    assert sorted(path.name for path in out.glob("*.pt")) == ["a.pt", "b.pt"]
    assert {path.name for path in out.glob("summary.rank*.json")} == {"summary.rank0.json", "summary.rank1.json"}


def test_conjugate_clips_are_extracted_from_their_frames(videos: Path, backbone, tmp_path: Path) -> None:
    pairs = {"a": [Conjugate("a.mp4", 0, 3, "before"), Conjugate("a.mp4", 8, 11, "after")],
             "b": [Conjugate("a.mp4", 0, 3, "before"), Conjugate("a.mp4", 20, 30, "after")]}  # past the end
    pairs_file = save_pairs(pairs, tmp_path / "pairs.json")
    jobs = list_jobs(conjugates=pairs_file, conjugate_root=videos)
    assert [job.name for job in jobs] == ["conjugates/a_0-3", "conjugates/a_20-30", "conjugates/a_8-11"]
    out = tmp_path / "features"
    summary = quiet_extract(jobs, out, backbone, SETTINGS)
    assert summary["extracted"] == 2 and list(summary["bad"]) == ["conjugates/a_20-30"]
    after = FeatureMap.load(conjugate_file(out, pairs["a"][1]))
    assert after.features.shape[0] == 3 and after.meta["frames"] == [8, 11]
    assert after.step_frames.tolist() == [[8, 9], [9, 10], [10, 11]]
    whole = extract_clip(videos / "a.mp4", backbone, SETTINGS)
    torch.testing.assert_close(after.features, whole.features[8:11])  # per-frame net: the same steps


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="stride needs window"):
        ExtractSettings(backbone="small_cnn", stride=2)
    with pytest.raises(ValueError, match="1 <= stride <= window"):
        ExtractSettings(backbone="small_cnn", window=4, stride=5)
    with pytest.raises(ValueError, match="backbone must be one of"):
        ExtractSettings(backbone="precomputed")
    with pytest.raises(ValueError, match="not in backbone_kwargs"):
        ExtractSettings(backbone="s3d", backbone_kwargs={"pretrained": True})
    assert ExtractSettings(backbone="small_cnn", window=4).stride == 4


def test_weights_file_loads_into_a_backbone_without_weights_path(tmp_path: Path) -> None:
    torch.manual_seed(7)
    source = build_backbone(ExtractSettings(backbone="small_cnn", weights="random"))
    for parameter in source.parameters():
        parameter.data.normal_()
    torch.save(source.state_dict(), tmp_path / "small.pt")
    loaded = build_backbone(ExtractSettings(backbone="small_cnn", weights=str(tmp_path / "small.pt")))
    torch.testing.assert_close(loaded.state_dict(), source.state_dict())
    with pytest.raises(ValueError, match="no such file"):
        build_backbone(ExtractSettings(backbone="small_cnn", weights=str(tmp_path / "absent.pt")))


def test_cli_extracts_and_resumes(videos: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "features"
    args = ["extract", "--videos", str(videos), "--out", str(out), "--backbone", "small_cnn",
            "--backbone-kwargs", '{"dilations": [1]}', "--weights", "random", "--size", "32", "48",
            "--window", "4", "--device", "cpu"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(args)
        assert "2 clips extracted, 0 already done, 1 bad videos skipped" in capsys.readouterr().out
        main(args)
    assert "0 clips extracted, 2 already done" in capsys.readouterr().out
    stored = FeatureMap.load(out / "a.pt")
    assert stored.features.shape == (11, 128, 4, 6) and json.loads(stored.meta["settings"])["window"] == 4
    with pytest.raises(SystemExit):
        main(["extract", "--videos", str(videos), "--out", str(out), "--backbone-kwargs", "[1]"])
    assert "must be a JSON object" in capsys.readouterr().err


def test_jobs_name_their_files_uniquely(tmp_path: Path) -> None:
    assert Job(tmp_path / "x.mp4", "x").frames is None
    with pytest.raises(ValueError, match="nothing to extract"):
        list_jobs()


def test_a_map_beyond_float16_is_counted_not_stored(videos: Path, tmp_path: Path) -> None:
    class Huge(torch.nn.Module):
        output_stride = 1

        def forward(self, video: torch.Tensor) -> torch.Tensor:
            return rearrange(video, "b c t h w -> b t c h w") * 1e6

    with pytest.warns(UserWarning, match="float16's range"):
        summary = extract_jobs([Job(videos / "sub" / "b.mp4", "b")], tmp_path / "out", Huge(), SETTINGS,
                               progress=False)
    assert list(summary["bad"]) == ["b"] and not (tmp_path / "out" / "b.pt").exists()
