"""Experiments from flat YAML configs: fit, test, and pictures of attention.

A config has four sections, each mapped onto one constructor's keyword arguments, so a config
reads without opening any other file::

    seed: 0
    monitor: val/top1                # optional: the metric that picks best.ckpt
    out: runs/my_experiment          # checkpoints, metrics.csv, metrics.json, pictures
    data: {...}                      # actattn.data.datamodule.VideoDataModule
    model: {...}                     # actattn.train.ActionRecognizer (name, backbone, head_kwargs, optimiser)
    trainer: {...}                   # lightning.Trainer (max_epochs, accelerator, devices, precision, ...)
"""
from __future__ import annotations

import copy
import inspect
import json
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from tqdm import tqdm

from actattn.data.datamodule import VideoDataModule
from actattn.models import MODELS
from actattn.train import ActionRecognizer, makes_maps
from actattn.viz import attention_animation, attention_columns, attention_figure, denormalize

SECTIONS = ("data", "model", "trainer")


def load_config(path: str | Path, overrides: list[str] = ()) -> dict[str, Any]:
    """Read a YAML config and apply ``section.key=value`` overrides (values parsed as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config {path} does not exist")
    config = yaml.safe_load(path.read_text()) or {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"override {item!r} is not of the form section.key=value")
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    missing = [s for s in SECTIONS if s not in config]
    if missing:
        raise ValueError(f"config {path} lacks the section(s) {missing}")
    return config


def build_datamodule(config: dict[str, Any]) -> VideoDataModule:
    datamodule = VideoDataModule(seed=config.get("seed", 0), **config["data"])
    datamodule.setup("fit")
    return datamodule


def build_module(config: dict[str, Any], datamodule: VideoDataModule) -> ActionRecognizer:
    """The module for the data: class names, input size, and the object count for a head that predicts objects."""
    model = config["model"]
    if datamodule.objects is not None and "num_objects" in inspect.signature(MODELS[model["name"]]).parameters:
        model = {**model, "head_kwargs": {"num_objects": datamodule.num_objects, **model.get("head_kwargs", {})}}
    return ActionRecognizer(
        num_classes=datamodule.num_classes,
        class_names=datamodule.class_names,
        image_size=datamodule.hparams.size,
        num_segments=datamodule.hparams.num_segments,
        **model,
    )


def build_trainer(config: dict[str, Any], monitor: str = "val/top1") -> L.Trainer:
    """A Trainer writing into ``config["out"]``: best and last checkpoints, CSV metrics."""
    out = Path(config["out"])
    checkpoint = ModelCheckpoint(
        dirpath=out / "checkpoints", filename="best", monitor=monitor, mode="max", save_last=True
    )
    options = {"logger": CSVLogger(out, name="", version=""), "default_root_dir": out, **config["trainer"]}
    return L.Trainer(callbacks=[checkpoint], **options)


def monitor_of(config: dict[str, Any]) -> str:
    """The metric that picks ``best.ckpt``: ``config["monitor"]``, else mAP (multi-label) or top-1."""
    return config.get("monitor", "val/mAP" if config["model"].get("multi_label") else "val/top1")


def fit(config: dict[str, Any], resume: bool = False) -> tuple[ActionRecognizer, VideoDataModule, float]:
    """Train; with ``resume`` continue exactly from ``out/checkpoints/last.ckpt``. Returns seconds."""
    L.seed_everything(config.get("seed", 0), workers=True)
    datamodule = build_datamodule(config)
    module = build_module(config, datamodule)
    trainer = build_trainer(config, monitor_of(config))
    last = Path(config["out"]) / "checkpoints" / "last.ckpt"
    if resume and not last.is_file():
        raise FileNotFoundError(f"cannot resume: {last} does not exist")
    start = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=last if resume else None)
    return module, datamodule, time.perf_counter() - start


def evaluate(config: dict[str, Any], checkpoint: str | Path) -> tuple[dict[str, float], float]:
    """Evaluate a checkpoint on the config's test split (its validation split if none)."""
    datamodule = build_datamodule(config)
    module = ActionRecognizer.load_from_checkpoint(checkpoint, map_location="cpu")
    trainer_options = {k: v for k, v in config["trainer"].items() if k in ("accelerator", "precision")}
    trainer = L.Trainer(logger=False, devices=1, **trainer_options)
    start = time.perf_counter()
    (metrics,) = trainer.test(module, datamodule=datamodule, verbose=False)
    seconds = time.perf_counter() - start
    return {k.removeprefix("test/"): float(v) for k, v in metrics.items()}, seconds


@torch.no_grad()
def write_pictures(
    module: ActionRecognizer, dataset: torch.utils.data.Dataset, out: str | Path, count: int = 4, gif: bool = True
) -> list[Path]:
    """The paper's Fig. 2 for the first ``count`` clips of ``dataset`` (PNG, plus a GIF each);
    nothing for a model without attention maps."""
    if not makes_maps(module.model.head):
        return []
    module.eval()
    names = module.hparams.class_names
    out = Path(out)
    written = []
    for index in tqdm(range(min(count, len(dataset))), desc=f"pictures -> {out}"):
        sample = dataset[index]
        if sample is None:
            continue
        batch = {k: torch.as_tensor(v)[None].to(module.device) for k, v in sample.items() if k in ("video", "label", "objects")}
        output = module.run(batch)
        label = torch.as_tensor(sample["label"])
        target = int(label) if label.ndim == 0 and label >= 0 else None
        columns = attention_columns(output, 0, names, target)
        frames = denormalize(sample["video"])
        predicted = names[int(output.logits["action"][0].argmax())]
        title = f"clip {index}: predicted '{predicted}'" + (f", true '{names[target]}'" if target is not None else "")
        written.append(attention_figure(frames, columns, out / f"clip{index:03d}.png", title))
        if gif:
            written.append(attention_animation(frames, columns, out / f"clip{index:03d}.gif"))
    return written


def save_json(data: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def merged(base: dict[str, Any], **sections: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with each given section updated key by key."""
    config = copy.deepcopy(base)
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    return config
