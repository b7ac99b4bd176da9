from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torchvision.models.detection import keypointrcnn_resnet50_fpn

from actattn.cli import main
from actattn.data.video import write_video
from actattn.experiment import fit


@pytest.fixture
def trained(tiny_config: dict) -> tuple[dict, Path]:
    config = tiny_config | {"trainer": {**tiny_config["trainer"], "max_epochs": 1}}
    fit(config)
    return config, Path(config["out"]) / "checkpoints" / "last.ckpt"


def test_synth_subcommand_writes_ssv2_layout(tmp_path: Path) -> None:
    main(["synth", "--preset", "tiny", "--seed", "1", "--out", str(tmp_path), "--train", "3", "--validation", "2",
          "--workers", "1"])
    entries = json.loads((tmp_path / "something-something-v2-validation.json").read_text())
    assert len(entries) == 2 and all((tmp_path / "videos" / f"{e['id']}.mp4").is_file() for e in entries)


def test_keypoints_subcommand_caches_each_video_and_skips_bad_ones(tmp_path: Path, capsys) -> None:
    torch.manual_seed(0)
    weights = tmp_path / "keypointrcnn.pt"  # random weights: the cache's layout, not the detections, is tested
    torch.save(keypointrcnn_resnet50_fpn(weights=None, weights_backbone=None).state_dict(), weights)
    write_video(tmp_path / "a.mp4", np.random.default_rng(0).integers(0, 256, (3, 48, 64, 3), dtype=np.uint8))
    (tmp_path / "list.csv").write_text("a.mp4,0\nmissing.mp4,1\n", encoding="utf-8")
    args = ["keypoints", "--csv", str(tmp_path / "list.csv"), "--out", str(tmp_path / "cache")]
    with pytest.raises(SystemExit):
        main(args)
    assert "--pretrained (torchvision's COCO weights) or --weights FILE" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="missing.mp4"):
        main([*args, "--weights", str(weights), "--min-size", "64"])
    printed = capsys.readouterr().out.splitlines()[-1]
    assert printed.startswith("1 keypoint files in") and "1 bad videos skipped" in printed
    with np.load(tmp_path / "cache" / "a.npz") as cache:
        assert cache["keypoints"].shape == (3, 17, 3)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["a.npz"]


def test_predict_on_a_real_video_prints_top5_and_writes_overlays(trained, bikes: Path, tmp_path: Path, capsys) -> None:
    _, checkpoint = trained
    main(["predict", str(bikes), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "pred")])
    lines = [line for line in capsys.readouterr().out.splitlines() if line[:2] in {f"{i}." for i in range(1, 6)}]
    assert len(lines) == 5
    assert (tmp_path / "pred" / "attention.png").stat().st_size > 0
    assert (tmp_path / "pred" / "attention.gif").stat().st_size > 0
    assert len(json.loads((tmp_path / "pred" / "predictions.json").read_text())["top"]) == 5


def test_visualize_and_test_subcommands(trained, tmp_path: Path) -> None:
    config, checkpoint = trained
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    main(["visualize", "--config", str(path), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "pics"),
          "--count", "2"])
    assert sorted(p.name for p in (tmp_path / "pics").iterdir()) == ["clip000.gif", "clip000.png", "clip001.gif",
                                                                     "clip001.png"]
    main(["test", "--config", str(path), "--checkpoint", str(checkpoint)])
    assert "top1" in json.loads((Path(config["out"]) / "test_metrics.json").read_text())
