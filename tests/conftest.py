"""Shared fixtures: a tiny SynthHOI dataset on disk and a fit config over it."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from actattn.data.synthetic import preset, write_dataset

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 training and 8 validation `tiny` scenes in Something-Something V2 layout."""
    root = tmp_path_factory.mktemp("synthhoi-tiny")
    write_dataset(root, preset("tiny"), seed=0, counts={"train": 24, "validation": 8}, workers=1, progress=False)
    return root


@pytest.fixture
def tiny_config(tiny_synth: Path, tmp_path: Path) -> dict:
    """A fit config: small CNN, 2 epochs of 3 steps on the tiny scenes, CPU, no workers."""
    config = {
        "seed": 0,
        "out": str(tmp_path / "run"),
        "data": {
            "format": "ssv2",
            "train_file": str(tiny_synth / "something-something-v2-train.json"),
            "val_file": str(tiny_synth / "something-something-v2-validation.json"),
            "test_file": str(tiny_synth / "something-something-v2-validation.json"),
            "labels_file": str(tiny_synth / "something-something-v2-labels.json"),
            "video_dir": str(tiny_synth / "videos"),
            "groundtruth_dir": str(tiny_synth / "groundtruth"),
            "video_ext": ".mp4",
            "num_segments": 2,
            "size": 48,
            "batch_size": 8,
        },
        "model": {"name": "attentional_pooling", "backbone": "small_cnn", "optimizer": "sgd", "lr": 0.05},
        "trainer": {
            "max_epochs": 2,
            "accelerator": "cpu",
            "devices": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "num_sanity_val_steps": 0,
            "log_every_n_steps": 1,
        },
    }
    return copy.deepcopy(config)
