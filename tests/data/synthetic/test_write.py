"""SynthHOI on disk: the Something-Something V2 layout, byte-identical videos, ground truth round trip."""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import numpy as np

from actattn.data.ssv2 import class_name, read_labels, read_split
from actattn.data.synthetic import PRESETS, TEMPLATES, Scene, preset, render_scene_for_label
from actattn.data.synthetic.write import load_groundtruth, write_dataset
from actattn.data.video import read_video


def test_write_dataset_is_ssv2_and_round_trips(tmp_path: Path) -> None:
    config, counts = PRESETS["tiny"], {"train": 6, "validation": 3}
    paths = write_dataset(tmp_path / "a", config, seed=1, counts=counts, workers=2, progress=False)
    again = write_dataset(tmp_path / "b", config, seed=1, counts=counts, workers=1, progress=False)
    raw = json.loads(paths["labels"].read_text())
    assert raw == {class_name(t.text): str(i) for i, t in enumerate(TEMPLATES[: config.num_classes])}
    labels = read_labels(paths["labels"])
    ids = []
    for split, count in counts.items():
        entries = json.loads(paths[split].read_text())
        assert len(entries) == count and len(read_split(paths[split], labels)) == count
        for entry in entries:
            assert isinstance(entry["id"], str) and class_name(entry["template"]) in raw
            assert entry["label"] == entry["label"].lower() and all(p in entry["label"] for p in entry["placeholders"])
            ids.append(entry["id"])
    assert len(set(ids)) == len(ids)
    entry = json.loads(paths["validation"].read_text())[0]
    video = paths["videos"] / f"{entry['id']}.mp4"
    assert read_video(video).shape == (8, 64, 64, 3)
    assert video.read_bytes() == (again["videos"] / video.name).read_bytes()
    truth = load_groundtruth(paths["groundtruth"] / f"{entry['id']}.npz")
    scene = render_scene_for_label(config, int(truth["seed"]), int(truth["label"]))
    assert scene.template == entry["template"] and scene.placeholders == entry["placeholders"]
    arrays = [f.name for f in fields(Scene) if f.name != "frames" and isinstance(getattr(scene, f.name), np.ndarray)]
    for name in arrays:
        np.testing.assert_array_equal(truth[name], getattr(scene, name), err_msg=name)
        assert truth[name].dtype == getattr(scene, name).dtype
    assert tuple(truth["interval"]) == scene.interval and int(truth["context"]) == scene.context
    meta = json.loads(paths["meta"].read_text())
    assert meta["counts"] == counts and len(meta["templates"]) == config.num_classes


def test_balanced_labels_per_split(tmp_path: Path) -> None:
    config = preset("tiny", num_classes=3)
    paths = write_dataset(tmp_path, config, seed=0, counts={"train": 6}, workers=1, progress=False)
    names = [class_name(e["template"]) for e in json.loads(paths["train"].read_text())]
    assert sorted(names.count(class_name(t.text)) for t in TEMPLATES[:3]) == [2, 2, 2]
