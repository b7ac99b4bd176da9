"""The main job on the embedded default: render SynthHOI, train each model, evaluate, picture.

Everything goes into one folder (``out`` of the demo config): ``data/`` (the rendered scenes in
Something-Something V2 layout), ``<model>/checkpoints``, ``<model>/metrics.csv``,
``metrics.json`` (held-out metrics per model) and ``pictures/<model>/`` (attention figures).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from actattn.data.synthetic import preset, write_dataset
from actattn.experiment import evaluate, fit, save_json, write_pictures

COLUMNS = ("top1", "top5", "mean_class_accuracy", "train_seconds", "eval_seconds")


def render(synth: dict[str, Any]) -> Path:
    """Render the scenes unless ``root`` already holds this exact rendering."""
    root = Path(synth["root"])
    stamp = {k: synth[k] for k in ("preset", "seed", "counts", "overrides") if k in synth}
    stamp_file = root / "demo-stamp.json"
    if stamp_file.is_file() and stamp_file.read_text() == json.dumps(stamp, sort_keys=True):
        print(f"SynthHOI scenes already in {root}")
        return root
    if root.exists():
        shutil.rmtree(root)
    config = preset(synth["preset"], **synth.get("overrides", {}))
    write_dataset(root, config, seed=synth["seed"], counts=synth["counts"], workers=synth.get("workers", 2))
    stamp_file.write_text(json.dumps(stamp, sort_keys=True))
    return root


def table(results: dict[str, dict[str, float]]) -> str:
    """The comparison as a plain-text table."""
    width = max(len(name) for name in results)
    lines = [f"{'model':<{width}}  " + "  ".join(f"{c:>19}" for c in COLUMNS)]
    for name, metrics in results.items():
        lines.append(f"{name:<{width}}  " + "  ".join(f"{metrics[c]:>19.3f}" for c in COLUMNS))
    return "\n".join(lines)


def run_demo(config: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Render, then for each model: fit, test on the held-out split, draw pictures."""
    out = Path(config["out"])
    render(config["synth"])
    results = {}
    for name, model in config["models"].items():
        run = {"seed": config.get("seed", 0), "out": out / name, "data": config["data"],
               "model": model, "trainer": config["trainer"]}
        if run["out"].exists():
            shutil.rmtree(run["out"])
        print(f"\n=== training {name} ===")
        module, datamodule, train_seconds = fit(run)
        metrics, eval_seconds = evaluate(run, run["out"] / "checkpoints" / "last.ckpt")
        results[name] = {**metrics, "train_seconds": train_seconds, "eval_seconds": eval_seconds}
        write_pictures(module, datamodule.datasets["test"], out / "pictures" / name, count=config.get("pictures", 4))
    save_json(results, out / "metrics.json")
    print("\nHeld-out SynthHOI results\n" + table(results))
    print(f"\nmetrics: {out / 'metrics.json'}   pictures: {out / 'pictures'}")
    return results
