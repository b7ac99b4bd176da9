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
