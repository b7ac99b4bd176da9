"""actattn.predict: one video through the checkpoint's own evaluation pipeline."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actattn.checkpoint import CheckpointError, load_module
from actattn.experiment import build_datamodule, fit, merged
from actattn.predict import predict_video
from actattn.train import ActionRecognizer


def test_predict_sees_each_clip_as_test_does(tiny_config: dict) -> None:
    """Without the config, from the checkpoint alone: the same frames, pixels and probabilities."""
    config = merged(tiny_config, data={"size": 48, "short_side": 60}, trainer={"max_epochs": 1})
    fit(config)
    module = load_module(Path(config["out"]) / "checkpoints" / "last.ckpt")
    test_split = build_datamodule(config).datasets["test"]
    for index in range(3):
        sample = test_split[index]
        prediction = predict_video(module, test_split.records[index].path, top=len(test_split.class_names))
        torch.testing.assert_close(prediction.video, sample["video"], rtol=0, atol=0)
        with torch.no_grad():
            expected = module(sample["video"][None]).logits["action"][0].softmax(-1)
        probabilities = {item["label"]: item["probability"] for item in prediction.ranked}
        for name, p in zip(test_split.class_names, expected.tolist()):
            assert probabilities[name] == pytest.approx(p, abs=1e-6)
    assert [item["probability"] for item in prediction.ranked] == sorted(probabilities.values(), reverse=True)


def test_a_module_without_a_recorded_pipeline_is_refused(tiny_synth: Path) -> None:
    module = ActionRecognizer("average_pooling", 6, backbone="small_cnn")
    with pytest.raises(CheckpointError, match="records no input pipeline"):
        predict_video(module, next((tiny_synth / "videos").glob("*.mp4")))


def test_epic100_submission_from_the_official_files(tmp_path: Path, capsys) -> None:
    """`actattn test --submission` on EPIC-100's real test timestamps: an action model's verb and noun
    marginals for every test segment (one stand-in video), averaged over 2 clips x 3 crops."""
    import json

    import numpy as np
    import yaml

    from actattn.cli import main
    from actattn.config import load_config
    from actattn.data.video import write_video

    epic = Path(__file__).resolve().parents[2] / "shared" / "annotations" / "epic-kitchens-100"
    if not epic.is_dir():
        pytest.skip(f"the shared annotation excerpts are not at {epic}")
    rng = np.random.default_rng(0)
    write_video(tmp_path / "P01" / "videos" / "P01_101.MP4", rng.integers(0, 256, (300, 16, 24, 3), np.uint8), fps=1)
    write_video(tmp_path / "P01" / "videos" / "P01_11.MP4", rng.integers(0, 256, (40, 16, 24, 3), np.uint8), fps=4)
    files = {"verb_classes": str(epic / "EPIC_100_verb_classes.csv"),
             "noun_classes": str(epic / "EPIC_100_noun_classes.csv"),
             "validation": str(epic / "EPIC_100_validation.csv"), "test": str(epic / "EPIC_100_test_timestamps.csv")}
    config = {
        "seed": 0, "out": str(tmp_path / "run"), "monitor": "train/loss",
        "data": {"format": "epic100", "files": files, "task": "action", "video_dir": str(tmp_path),
                 "splits": {"train": "validation", "val": None, "test": "test"}, "skip_bad_videos": True,
                 "num_segments": 2, "size": 16, "short_side": 16, "batch_size": 8, "test_clips": 2, "test_crops": 3},
        "model": {"name": "average_pooling", "backbone": "small_cnn", "lr": 0.01},
        "trainer": {"max_epochs": 1, "limit_train_batches": 1, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False, "num_sanity_val_steps": 0},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.warns(UserWarning):
        fit(load_config(path))
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    with pytest.raises(SystemExit):
        main(["test", "--config", str(path), "--checkpoint", str(checkpoint), "--submission", str(tmp_path / "s.json")])
    assert "--submission needs --sls" in capsys.readouterr().err
    main(["test", "--config", str(path), "--checkpoint", str(checkpoint), "--submission", str(tmp_path / "s.json"),
          "--sls", "1", "2", "3"])
    submission = json.loads((tmp_path / "s.json").read_text())
    assert (submission["version"], submission["sls_pt"], submission["sls_td"]) == ("0.2", 1, 3)
    assert len(submission["results"]) == 30 and "P01_101_10" in submission["results"]
    first = submission["results"]["P01_101_0"]
    assert len(first["verb"]) == 97 and len(first["noun"]) == 300
    assert sum(first["verb"].values()) == pytest.approx(1.0, abs=1e-4)  # marginals of the action probabilities
