"""The demo runner: render, fit, choose on validation, test, pictures, Table 4 and attention scores."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch

from actattn.demo import run_demo, table


def test_table_shows_only_known_columns_and_rows_with_dashes_for_missing_ones() -> None:
    results = {"a": {"top1": 0.5}, "bb": {"top1": 0.25, "object_top1": 1.0}, "c": {"loss": 1.0}}
    text = table(results, ("top1", "object_top1", "top5"))
    header, first, second = text.splitlines()
    assert header.split() == ["model", "top1", "object_top1"]
    assert first.split() == ["a", "0.500", "-"] and second.split() == ["bb", "0.250", "1.000"]


def test_table_of_columns_no_model_has_says_so() -> None:
    assert table({"baseline": {"top1": 0.9}}, ("box_ap@0.3", "temporal_iou")) == "no model reports box_ap@0.3, temporal_iou"


DAN = {"name": "dual_attention", "backbone": "small_cnn", "optimizer": "adam", "lr": 0.001}
SELF = {**DAN, "head_kwargs": {"mode": "self", "embed_dim": 16, "prior_hidden": 16}}


def tiny_config(out: Path, models: dict[str, dict]) -> dict:
    """A demo config on 8/4/3 tiny scenes, one epoch, 3 clips localised."""
    return {
        "out": str(out),
        "pictures": 1,
        "localize": {"clips": 3},
        "synth": {"preset": "tiny", "seed": 0, "counts": {"train": 8, "validation": 4, "test": 3}, "workers": 1},
        "data": {"num_segments": 4, "size": 64, "short_side": 64, "batch_size": 4},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "num_sanity_val_steps": 0,
                    "enable_progress_bar": False, "enable_model_summary": False},
        "models": models,
    }


@pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning's small-dataset hints
def test_a_tiny_demo_with_localisation(tmp_path: Path, capsys) -> None:
    config = tiny_config(tmp_path / "out", {
        "baseline": {**DAN, "head_kwargs": {"mode": "baseline", "embed_dim": 16, "prior_hidden": 16}},
        "self": SELF,
        "average_pooling": {"name": "average_pooling", "backbone": "small_cnn"},  # no objects, maps all the same
    })
    results = run_demo(config)
    out = Path(config["out"])
    assert json.loads((out / "metrics.json").read_text()) == results
    assert len(list((out / "data" / "videos").glob("*.mp4"))) == 15
    assert all(results[name]["clips"] == 3 for name in results)  # the test split, not the validation one
    assert {"top1", "top5", "train_seconds", "eval_seconds"} <= set(results["baseline"])
    assert "object_top1" not in results["baseline"] and "object_top1" in results["self"]
    assert "box_ap@0.3" not in results["baseline"] and not (out / "pictures" / "baseline").exists()
    for name, maps in (("self", ("action", "object")), ("average_pooling", ("top_down",))):
        assert {"box_ap@0.3", "box_ap@0.4", "box_ap@0.5", "temporal_iou", "mask_iou"} <= set(results[name])
        for attention in maps:
            scores = {key: results[name][f"{attention}/{key}"] for key in ("pointing_game", "mass_in_box",
                                                                           "pointing_game_uniform")}
            assert all(0 <= value <= 1 for value in scores.values())
    report = json.loads((out / "localize" / "self" / "localization.json").read_text())
    assert len(report["clips"]) == 3
    first = report["clips"][0]["id"]
    assert {p.name for p in (out / "localize" / "self" / "pictures").iterdir()} == {
        f"{first}-attention.png", f"{first}-localization.png", f"{first}-affordance.png"}
    assert len(list((out / "pictures" / "self").glob("*.png"))) == 1
    printed = capsys.readouterr().out
    assert "localisation" in printed and "box_ap@0.5" in printed
    assert "self: object" in printed and "average_pooling: top_down" in printed and "pointing_game" in printed


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_seeds_render_once_train_each_seed_and_summarize(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    summary = run_demo(tiny_config(out, {"self": SELF}), seeds=[0, 1])
    saved = json.loads((out / "seeds.json").read_text())
    assert saved["seeds"] == [0, 1] and saved["summary"] == summary
    assert not (out / "seed-0" / "data").exists() and (out / "data" / "videos").is_dir()
    per_seed = [json.loads((out / f"seed-{s}" / "metrics.json").read_text()) for s in (0, 1)]
    assert saved["per_seed"] == {"0": per_seed[0], "1": per_seed[1]}
    for key in ("top1", "box_ap@0.3", "object/pointing_game"):
        values = [run["self"][key] for run in per_seed]
        assert summary["self"][key]["values"] == values
        assert summary["self"][key]["mean"] == pytest.approx(statistics.mean(values))
        assert summary["self"][key]["std"] == pytest.approx(statistics.stdev(values))
    weights = [torch.load(out / f"seed-{s}" / "self" / "checkpoints" / "best.ckpt", weights_only=False)["state_dict"]
               for s in (0, 1)]
    assert any(not torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # the seed reached training
    single = run_demo({**tiny_config(tmp_path / "single", {"self": SELF}), "seed": 1})
    timing = ("train_seconds", "eval_seconds")
    assert {k: v for k, v in single["self"].items() if k not in timing} == \
        {k: v for k, v in per_seed[1]["self"].items() if k not in timing}
    printed = capsys.readouterr().out
    assert "over seeds 0, 1" in printed and "box_ap@0.3" in printed and " +- " in printed
