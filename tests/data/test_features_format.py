"""actattn extract and the features data module on a format with segments: HACS Clips (the reader's
fixture, ``formats/fixtures/hacs``), each 2-second clip of a long video its own map, named alike by
both sides; a head trains on them with the HACS-30 class weights."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from actattn.cli import main
from actattn.data.features import FeatureDataModule
from actattn.data.video import write_video
from actattn.extract import ExtractSettings, build_backbone, extract_clip, extract_jobs, list_jobs
from actattn.feature_files import FeatureMap
from actattn.train import ActionRecognizer

CLIPS = Path(__file__).resolve().parent / "formats" / "fixtures" / "hacs" / "HACS_clips_v1.1.1.csv"
SETTINGS = ExtractSettings(backbone="small_cnn", weights="random", size=(32, 32))
FPS = 2.0  # a 2-second clip is 4 frames
ARCHERY = ("a2X2hz1G6i8", "NUdji_CqvcY", "0O_qMHxBfXg", "-9Fh3yTfTVo")  # fewest_positives 1 keeps Archery
NAMES = ["Archery_-9Fh3yTfTVo_3.5-5.5", "Archery_-9Fh3yTfTVo_40.5-42.5", "Archery_0O_qMHxBfXg_24.5-26.5",
         "Archery_NUdji_CqvcY_77.5-79.5", "Archery_a2X2hz1G6i8_15.5-17.5"]


@pytest.fixture
def data(tmp_path: Path) -> dict:
    """The data section naming the fixture, HACS-30's way with one class; 81-s videos where HACS saves them."""
    rng = np.random.default_rng(0)
    for youtube_id in ARCHERY:
        write_video(tmp_path / "videos" / "Archery" / f"v_{youtube_id}.mp4",
                    rng.integers(0, 256, (162, 16, 16, 3), dtype=np.uint8), fps=FPS)
    return {"format": "hacs_clips", "files": {"path": str(CLIPS)}, "reader_options": {"fewest_positives": 1}}


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reader's note on the classes dropped; Lightning's hints
        return function(*args, **kwargs)


def test_every_clip_is_extracted_from_its_own_frames_under_its_sample_name(data: dict, tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    jobs = quiet(list_jobs, videos, data=data)
    assert [job.name for job in jobs] == NAMES  # validation serves val and test: each clip once
    out = tmp_path / "features"
    backbone = build_backbone(SETTINGS)
    summary = quiet(extract_jobs, jobs, out, backbone, SETTINGS, progress=False)
    assert (summary["extracted"], list(summary["bad"])) == (5, [])
    stored = FeatureMap.load(out / "Archery_a2X2hz1G6i8_15.5-17.5.pt")
    assert stored.meta["frames"] == [31, 35] and stored.features.shape[0] == 4  # 15.5-17.5 s at 2 fps
    whole = extract_clip(videos / "Archery" / "v_a2X2hz1G6i8.mp4", backbone, SETTINGS)
    torch.testing.assert_close(stored.features, whole.features[31:35])  # a per-frame net: the same steps
    datamodule = FeatureDataModule("hacs_clips", features_dir=out, files=data["files"],
                                   reader_options=data["reader_options"], crop_steps=2, batch_size=3)
    quiet(datamodule.setup, "fit")
    assert datamodule.class_names == ["Archery", "Negative"] and not datamodule.multi_label
    assert set(datamodule.datasets) == {"train", "val", "test"} and "hacs_clips files" in datamodule.label_source
    train = datamodule.datasets["train"]
    assert [record.id for record in train.records] == [NAMES[4], NAMES[3], NAMES[2]]
    assert [train[i]["label"].item() for i in range(3)] == [0, 1, 1]  # the positive, then two negatives
    torch.testing.assert_close(datamodule.datasets["val"][0]["video"],
                               FeatureMap.load(out / f"{NAMES[0]}.pt").features.float())
    recognizer = ActionRecognizer("average_pooling", datamodule.num_classes, backbone="precomputed",
                                  backbone_kwargs=datamodule.backbone_facts, class_names=datamodule.class_names,
                                  class_weights={"Negative": 0.01})
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["video"].shape == (3, 2, 128, 4, 4)
    assert torch.isfinite(quiet(recognizer.training_step, batch, 0))


def test_the_cli_takes_a_features_config_and_counts_missing_videos(data: dict, tmp_path: Path, capsys) -> None:
    (tmp_path / "videos" / "Archery" / "v_NUdji_CqvcY.mp4").unlink()
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"data": {**data, "features_dir": str(tmp_path / "features")}}))
    out = tmp_path / "features"
    quiet(main, ["extract", "--config", str(config), "--videos", str(tmp_path / "videos"), "--out", str(out),
                 "--backbone", "small_cnn", "--weights", "random", "--size", "32", "32", "--device", "cpu"])
    assert "4 clips extracted, 0 already done, 1 bad videos skipped" in capsys.readouterr().out
    assert sorted(path.stem for path in out.glob("*.pt")) == [name for name in NAMES if "NUdji" not in name]


def test_frame_folders_and_data_without_files_are_refused(data: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not frame folders"):
        list_jobs(data={**data, "frames_dir": str(tmp_path)})
    with pytest.raises(ValueError, match="names no official files"):
        list_jobs(data={"format": "csv", "train_file": "train.csv"})
    with pytest.raises(ValueError, match=r"the lists as \['train_file'\], not both"):
        FeatureDataModule("hacs_clips", features_dir=tmp_path, files=data["files"], train_file="train.csv")
    with pytest.raises(ValueError, match="format 'hacs_clips' reads its official files: give data.files"):
        FeatureDataModule("hacs_clips", features_dir=tmp_path)
