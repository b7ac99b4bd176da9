"""The main job on the embedded default: render SynthHOI, train each model, evaluate, picture.

Everything goes into one folder (``out`` of the demo config): ``data/`` (the rendered scenes in
Something-Something V2 layout, which the ``data`` section then reads without naming any file),
``<model>/checkpoints``, ``<model>/metrics.csv``, ``metrics.json`` (held-out metrics per model)
and ``pictures/<model>/`` (attention figures). The splits are honest: each model's
``best.ckpt`` is chosen on the ``validation`` scenes and everything reported is measured on the
separate ``test`` scenes. Each model that makes attention maps also localises the first
``localize.clips`` test clips (DAN Section 4) into ``localize/<model>/``: box AP, temporal IoU
and mask IoU (the paper's Table 4), and for each of its maps the pointing game and the mass in
box against the hand's and the manipulated objects' boxes, beside a uniform map's.

With several training seeds (``actattn demo --seeds 0 1 2``) the scenes are rendered once into
``data/``, each seed trains every model into ``seed-<s>/`` (the layout above), and ``seeds.json``
and a printed table give each metric's mean and spread over the seeds beside the per-seed values:
an order between models counts when it survives the seeds.
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np

from actattn.checkpoint import load_module
from actattn.conjugates import from_synthhoi, pairs_figure, save_pairs
from actattn.config import FILLED_IN, ConfigError, check_call, check_model, read_config
from actattn.data.datamodule import VideoDataModule
from actattn.data.ssv2 import release_file
from actattn.data.synthetic import SynthConfig, write_dataset
from actattn.data.synthetic import preset as synth_preset
from actattn.experiment import evaluate, fit, write_pictures
from actattn.files import save_json
from actattn.localize.dataset import localize_dataset
from actattn.train import ActionRecognizer

RECOGNITION = ("top1", "top5", "object_top1", "mean_class_accuracy", "train_seconds", "eval_seconds")
LOCALIZATION = ("box_ap@0.3", "box_ap@0.4", "box_ap@0.5", "temporal_iou", "mask_iou")
ATTENTION = ("pointing_game", "pointing_game_uniform", "mass_in_box", "mass_in_box_uniform")


@dataclass
class DemoConfig:
    """The top level of a demo config (a schema: configs stay plain dicts). ``synth`` holds
    :func:`render`'s keywords (its ``counts`` the train, validation and test scenes), ``models``
    one model section (as a run config's) per name, each optionally with a ``data`` section of its
    own that updates the common one (e.g. simulated detector noise), and ``localize`` ``clips``:
    how many test clips each model with maps localises and scores. ``conjugates``, where given,
    holds :func:`~actattn.conjugates.from_synthhoi`'s ``min_frames``: the lead-in and tail of every
    training scene become its conjugates (``conjugates_file`` of the data section; a model whose
    ``data`` sets it to null trains without)."""

    out: str
    synth: dict[str, Any]
    data: dict[str, Any]
    trainer: dict[str, Any]
    models: dict[str, dict[str, Any]]
    localize: dict[str, int]
    seed: int = 0
    pictures: int = 4
    conjugates: dict[str, int] | None = None


def localize_section(*, clips: int) -> None:
    """The ``localize`` section's schema: ``clips`` test clips localised and scored per model."""


def conjugates_section(*, min_frames: int = 4) -> None:
    """The ``conjugates`` section's schema: the shortest lead-in or tail kept as a conjugate."""


def load_demo_config(path: str | Path) -> dict[str, Any]:
    """Read and check a demo config: each section against what it is given to."""
    path = Path(path)
    config = check_call(read_config(path), DemoConfig, "", path)
    config["synth"] = check_call(config["synth"], render, "synth", path, {"root"})
    if config["synth"].get("overrides"):
        config["synth"]["overrides"] = check_call(config["synth"]["overrides"], SynthConfig, "synth.overrides", path)
    filled = FILLED_IN["data"] | set(data_files(Path(config["out"]))) | {"conjugates_file"}
    config["data"] = check_call(config["data"], VideoDataModule, "data", path, filled)
    config["trainer"] = check_call(config["trainer"], L.Trainer, "trainer", path, FILLED_IN["trainer"])
    config["models"] = {name: model_section(model, f"models.{name}", path, filled - {"conjugates_file"}) for name, model in config["models"].items()}
    check_call(config["localize"], localize_section, "localize", path)
    if config.get("conjugates") is not None:
        check_call(config["conjugates"], conjugates_section, "conjugates", path)
    missing = {"train", "validation", "test"} - set(config["synth"]["counts"])
    if missing:
        raise ConfigError(f"config {path}: synth.counts lacks the split(s) {sorted(missing)}: a demo chooses its "
                          "checkpoint on the validation scenes and reports the test scenes")
    return config


def model_section(model: dict[str, Any], where: str, path: Path, filled: set[str]) -> dict[str, Any]:
    """A model section, checked as a run config's, with its own ``data`` updates checked as a data section."""
    model = dict(model)
    data = model.pop("data", None)
    checked = check_model(model, where, path)
    if data is not None:
        checked["data"] = check_call(data, VideoDataModule, f"{where}.data", path, filled)
    return checked


def render(root: Path, *, preset: str, seed: int, counts: dict[str, int], overrides: dict[str, Any] | None = None,
           workers: int = 2) -> None:
    """Render ``counts`` scenes per split of SynthHOI ``preset`` (with ``overrides``) into ``root``,
    unless it already holds this exact rendering."""
    stamp = {"preset": preset, "seed": seed, "counts": counts} | ({"overrides": overrides} if overrides else {})
    stamp_file = root / "demo-stamp.json"
    if stamp_file.is_file() and stamp_file.read_text() == json.dumps(stamp, sort_keys=True):
        print(f"SynthHOI scenes already in {root}")
        return
    if root.exists():
        shutil.rmtree(root)
    write_dataset(root, synth_preset(preset, **(overrides or {})), seed=seed, counts=counts, workers=workers)
    stamp_file.write_text(json.dumps(stamp, sort_keys=True))


def data_files(root: Path) -> dict[str, str]:
    """The data section's files for scenes rendered into ``root``: its train, validation and test
    splits, the object clusters and the ground truth (keypoints and object instances)."""
    return {"format": "ssv2", "train_file": str(release_file(root, "train")),
            "val_file": str(release_file(root, "validation")), "test_file": str(release_file(root, "test")),
            "labels_file": str(release_file(root, "labels")), "video_dir": str(root / "videos"),
            "video_ext": ".mp4", "objects_file": str(root / "objects.json"),
            "groundtruth_dir": str(root / "groundtruth")}


def table(results: dict[str, dict[str, float]], columns: tuple[str, ...]) -> str:
    """The models with any of ``columns`` and the columns some model has, as a plain-text table
    ("-" where a model lacks one); a line saying so when no model has any."""
    rows = {name: metrics for name, metrics in results.items() if any(c in metrics for c in columns)}
    if not rows:
        return "no model reports " + ", ".join(columns)
    columns = tuple(c for c in columns if any(c in metrics for metrics in rows.values()))
    width = max(len(name) for name in rows)
    lines = [f"{'model':<{width}}  " + "  ".join(f"{c:>19}" for c in columns)]
    for name, metrics in rows.items():
        cells = (f"{metrics[c]:>19.3f}" if c in metrics else f"{'-':>19}" for c in columns)
        lines.append(f"{name:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def coverage_line(results: dict[str, dict[str, float]]) -> str:
    """A line giving the box AP of the true boxes' own cell coverage (the same clips and grid for
    every model), or nothing when no model was scored on boxes."""
    scored = [m for m in results.values() if "box_ap_coverage@0.3" in m]
    if not scored:
        return ""
    values = " / ".join(f"{scored[0][f'box_ap_coverage@{iou}']:.3f}" for iou in ("0.3", "0.4", "0.5"))
    return f"\nbox AP@0.3 / 0.4 / 0.5 of a map that is each cell's coverage by the true boxes: {values}"


def attention_table(results: dict[str, dict[str, float]]) -> str:
    """Per model and map: the pointing game and the mass in box, each beside a uniform map's."""
    rows = {}
    for name, metrics in results.items():
        for key in metrics:
            if key.endswith("/pointing_game"):
                attention = key.removesuffix("/pointing_game")
                rows[f"{name}: {attention}"] = {column: metrics[f"{attention}/{column}"] for column in ATTENTION}
    return table(rows, ATTENTION) if rows else "no model makes attention maps"


def localize(module: ActionRecognizer, datamodule: VideoDataModule, out: Path, clips: int,
             pictures: int) -> dict[str, float]:
    """Localisation and attention scores on the first ``clips`` test clips; none for a model without maps."""
    if not module.model.head.makes_maps:
        return {}
    scores = localize_dataset(module, datamodule.files["test"], out, count=clips, objects=datamodule.objects,
                              object_source=datamodule.object_source, pictures=pictures)
    return scores.as_dict() if scores is not None else {}


def run_demo(config: dict[str, Any], seeds: Sequence[int] | None = None) -> dict[str, dict[str, Any]]:
    """Render, then train and score every model (:func:`run_models`): once with the config's
    ``seed`` into ``out``, or once per seed of ``seeds`` into ``out/seed-<s>``. Returns the
    held-out metrics per model; over several seeds, their summary (:func:`summarize_seeds`)."""
    out = Path(config["out"])
    render(out / "data", **config["synth"])
    data = {**config["data"], **data_files(out / "data")}
    if config.get("conjugates") is not None:
        mined = from_synthhoi(out / "data", "train", **config["conjugates"])
        data["conjugates_file"] = str(save_pairs(mined.pairs, out / "data" / "conjugates-train.json"))
        pairs_figure(out / "data", mined.pairs, mined.samples, out / "pictures" / "conjugates.png",
                     count=config.get("pictures", DemoConfig.pictures))
    if seeds is None:
        return run_models(config, data, out, config.get("seed", DemoConfig.seed))
    per_seed = {seed: run_models(config, data, out / f"seed-{seed}", seed) for seed in seeds}
    summary = summarize_seeds(per_seed)
    save_json({"seeds": list(seeds), "summary": summary, "per_seed": per_seed}, out / "seeds.json")
    print(f"\nSynthHOI test scenes over seeds {', '.join(map(str, seeds))}: mean +- standard deviation "
          f"(per seed)\n" + seeds_table(summary))
    print(f"\nseeds: {out / 'seeds.json'}")
    return summary


def run_models(config: dict[str, Any], data: dict[str, Any], out: Path, seed: int) -> dict[str, dict[str, float]]:
    """For each model of the config, trained with ``seed`` into ``out/<model>`` on the ``data``
    section: fit, choose ``best.ckpt`` on the validation split, and with it test, draw pictures and
    localise on the test split; write ``out/metrics.json`` and print the three tables."""
    pictures = config.get("pictures", DemoConfig.pictures)
    results = {}
    for name, section in config["models"].items():
        model = {key: value for key, value in section.items() if key != "data"}
        run = {"seed": seed, "out": out / name, "data": {**data, **section.get("data", {})},
               "model": model, "trainer": config["trainer"]}
        if run["out"].exists():
            shutil.rmtree(run["out"])
        print(f"\n=== training {name} (seed {seed}) ===")
        _, datamodule, train_seconds = fit(run)
        best = run["out"] / "checkpoints" / "best.ckpt"
        metrics, eval_seconds = evaluate(run, best)
        results[name] = {**metrics, "train_seconds": train_seconds, "eval_seconds": eval_seconds}
        module = load_module(best)
        write_pictures(module, datamodule.datasets["test"], out / "pictures" / name, count=pictures)
        results[name] |= localize(module, datamodule, out / "localize" / name, config["localize"]["clips"], pictures)
    save_json(results, out / "metrics.json")
    print("\nSynthHOI test scenes: recognition\n" + table(results, RECOGNITION))
    print("\nSynthHOI test scenes: localisation\n" + table(results, LOCALIZATION) + coverage_line(results))
    print("\nSynthHOI test scenes: where each map points (hand and manipulated objects; uniform map beside)\n"
          + attention_table(results))
    print(f"\nmetrics: {out / 'metrics.json'}   pictures: {out / 'pictures'}")
    return results


def summarize_seeds(per_seed: dict[int, dict[str, dict[str, float]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per model and metric (those every seed reports): ``mean``, ``std`` (the sample standard
    deviation, ddof 1; 0 for one seed) and the per-seed ``values`` in the order of ``per_seed``."""
    runs = list(per_seed.values())
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for name in runs[0]:
        common = [key for key in runs[0][name] if all(key in run.get(name, {}) for run in runs)]
        summary[name] = {}
        for key in common:
            values = [float(run[name][key]) for run in runs]
            std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            summary[name][key] = {"mean": float(np.mean(values)), "std": std, "values": values}
    return summary


def seeds_table(summary: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One line per model and metric of the demo's tables (top-1, object top-1, box AP, IoUs, each
    map's pointing game and mass in box): mean +- std, then the per-seed values."""
    keys = ("top1", "object_top1", *LOCALIZATION)
    lines = []
    for name, metrics in summary.items():
        for key, m in metrics.items():
            if key in keys or key.endswith(("/pointing_game", "/mass_in_box")):
                values = " ".join(f"{v:.3f}" for v in m["values"])
                lines.append(f"{name:<24} {key:<28} {m['mean']:.3f} +- {m['std']:.3f}   ({values})")
    return "\n".join(lines) if lines else "no model reports a metric in every seed"
