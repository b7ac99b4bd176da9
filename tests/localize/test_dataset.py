"""actattn.localize.dataset: a split or one video localised and scored, and `actattn localize`."""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask

from actattn.data.ssv2 import read_labels, read_split
from actattn.data.ssv2_objects import build_object_vocabulary
from actattn.data.synthetic import preset, write_dataset
from actattn.data.video import write_video
from actattn.localize.dataset import add_localize_parser, localize_dataset, localize_video
from actattn.localize.run import decode_mask
from actattn.train import ActionRecognizer


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory) -> Path:
    """Three 2 s `tiny` SynthHOI scenes in Something-Something V2 layout, with ground truth."""
    root = tmp_path_factory.mktemp("synth-localize")
    write_dataset(root, preset("tiny", num_frames=24), seed=0, counts={"validation": 3}, workers=1, progress=False)
    return root


def synth_model(root: Path, **head_kwargs) -> tuple[ActionRecognizer, object]:
    """An untrained small-CNN Dual Attention model for the scenes' classes, reading 32 px short sides."""
    labels = read_labels(root / "something-something-v2-labels.json")
    vocabulary = build_object_vocabulary(read_split(root / "something-something-v2-validation.json", labels))
    names = sorted(labels, key=labels.__getitem__)
    head_kwargs = {"num_objects": len(vocabulary), "embed_dim": 16, "prior_hidden": 16, "trn_bottleneck": 16,
                   **head_kwargs}
    torch.manual_seed(0)
    module = ActionRecognizer("dual_attention", len(names), backbone="small_cnn", head_kwargs=head_kwargs,
                              class_names=names, pipeline={"size": 32})
    return module.eval(), vocabulary


def test_dataset_localization_writes_json_pictures_and_scores(synth_root: Path, tmp_path: Path):
    module, vocabulary = synth_model(synth_root, mode="gt_priors")
    scores = localize_dataset(module, synth_root, tmp_path, count=2, objects=vocabulary, progress=False)
    interpretability = {f"{name}/{score}" for name in ("action", "object") for score in
                        ("pointing_game", "mass_in_box", "pointing_game_uniform", "mass_in_box_uniform")}
    box_ap = {f"box_ap{kind}@{iou}" for kind in ("", "_coverage") for iou in ("0.3", "0.4", "0.5")}
    assert set(scores.as_dict()) == {*box_ap, "temporal_iou", "mask_iou", *interpretability}
    assert all(0 <= value <= 1 for value in scores.as_dict().values())
    assert scores.interpretability["object"].frames == sum(
        len([t for t in range(*np.load(synth_root / "groundtruth" / f"{i}.npz")["interval"])]) for i in (1, 2))
    report = json.loads((tmp_path / "localization.json").read_text())
    assert report["scores"] == pytest.approx(scores.as_dict())
    assert "ground-truth labels" in report["affordance_map"]
    assert [clip["id"] for clip in report["clips"]] == ["1", "2"]
    for clip in report["clips"]:
        truth = np.load(synth_root / "groundtruth" / f"{clip['id']}.npz")
        assert len(clip["frames"]) == 24 and clip["frame_size"] == [64, 64] and clip["map"] == "object"
        assert clip["affordance_map"] == "action" and clip["num_objects"] in (1, 2)
        assert clip["true"]["label"] == int(truth["label"])
        start, end = truth["interval"]
        assert all(start <= t < end for t in clip["scores"]["evaluation_frames"])
        for frame in clip["frames"]:
            assert clip["num_objects"] >= len(frame["boxes"]) == len(frame["scores"]) >= 1
            assert all(0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64 for x1, y1, x2, y2 in frame["boxes"])
            assert decode_mask(frame["affordance"]).shape == (64, 64)
            assert coco_mask.decode(frame["affordance"]).shape == (64, 64)
        for kind in ("attention", "localization", "affordance"):
            assert (tmp_path / "pictures" / f"{clip['id']}-{kind}.png").stat().st_size > 0


def test_clips_without_ground_truth_are_localised_but_not_scored(synth_root: Path, tmp_path: Path):
    split = tmp_path / "data" / "split.json"
    split.parent.mkdir()
    shutil.copy(synth_root / "something-something-v2-validation.json", split)
    (tmp_path / "data" / "videos").symlink_to(synth_root / "videos")
    module, _ = synth_model(synth_root)
    assert localize_dataset(module, split, tmp_path / "out", count=1, progress=False) is None
    report = json.loads((tmp_path / "out" / "localization.json").read_text())
    assert report["scores"] is None and len(report["clips"]) == 1 and "scores" not in report["clips"][0]
    assert "own predictions" in report["affordance_map"]


def test_one_video_and_the_cli(synth_root: Path, tmp_path: Path, capsys):
    module, _ = synth_model(synth_root, temporal="trn", num_frames=4)
    path = tmp_path / "clip.mp4"
    write_video(path, np.random.default_rng(0).integers(0, 256, (14, 48, 64, 3), dtype=np.uint8), fps=12.0)
    record = localize_video(module, path, tmp_path / "one")
    assert len(record["frames"]) == 14 and record["frame_size"] == [48, 64] and record["fps"] == 12.0
    assert json.loads((tmp_path / "one" / "localization.json").read_text())["clips"][0]["id"] == "clip"
    assert (tmp_path / "one" / "pictures" / "clip-localization.png").is_file()

    trainer = L.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu", enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.strategy.connect(module)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    parser = argparse.ArgumentParser()
    add_localize_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["localize", "--checkpoint", str(tmp_path / "model.ckpt"), "--data", str(synth_root),
                              "--out", str(tmp_path / "cli"), "--count", "1", "--map", "action"])
    args.func(args)
    printed = capsys.readouterr().out
    assert "box_ap@0.5" in printed and "temporal_iou" in printed
    assert json.loads((tmp_path / "cli" / "localization.json").read_text())["clips"][0]["map"] == "action"
    with pytest.raises(SystemExit):
        parser.parse_args(["localize", "--checkpoint", "c", "--data", "d", "--video", "v", "--out", "o"])
