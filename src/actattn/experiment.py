"""Experiments from run configs (:mod:`actattn.config`): fit, test, and pictures of attention."""
from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from tqdm import tqdm

from actattn.checkpoint import AtomicCheckpointIO, LastCheckpoint, RunLogger, init_weights, load_module
from actattn.data.datamodule import VideoDataModule
from actattn.data.features import FeatureDataModule, data_module_class
from actattn.models import MODELS
from actattn.train import ActionRecognizer
from actattn.viz import attention_animation, attention_columns, attention_figure, denormalize
from actattn.viz.relations import RelationGraph, relation_pairs_figure

def build_datamodule(config: dict[str, Any]) -> VideoDataModule | FeatureDataModule:
    """The data module of the config's ``data`` section (videos, or stored feature maps), set up."""
    datamodule = data_module_class(config["data"])(seed=config.get("seed", 0), **config["data"])
    datamodule.setup("fit")
    return datamodule


def build_module(config: dict[str, Any], datamodule: VideoDataModule) -> ActionRecognizer:
    """The module for the data: class names, input pipeline, and the facts of the data that the
    backbone (stored maps' channels and strides) and the head (its ``from_data``, e.g. the object
    count) take, unless the config sets them."""
    model = config["model"]
    facts = {key: datamodule.head_facts[key] for key in MODELS[model["name"]].from_data if key in datamodule.head_facts}
    model = {**model, "head_kwargs": {**facts, **model.get("head_kwargs", {})}}
    if datamodule.backbone_facts:
        if model.get("backbone") != "precomputed":
            raise ValueError(f"the data are stored feature maps ({config['data'].get('features_dir')}): the model's "
                             f"backbone must be 'precomputed', not {model.get('backbone', 'resnet50')!r}")
        model["backbone_kwargs"] = {**datamodule.backbone_facts, **model.get("backbone_kwargs", {})}
    return ActionRecognizer(
        num_classes=datamodule.num_classes, class_names=datamodule.class_names, pipeline=datamodule.pipeline, **model
    )


def checkpoint_dir(config: dict[str, Any]) -> Path:
    return Path(config["out"]) / "checkpoints"


def build_trainer(config: dict[str, Any], monitor: str = "val/top1") -> L.Trainer:
    """A Trainer writing into ``config["out"]``: ``best.ckpt`` by ``monitor``, ``last.ckpt`` after
    every epoch (and every ``checkpoint_every_n_steps`` steps), both atomic; ``metrics.csv``."""
    folder = checkpoint_dir(config)
    callbacks = [
        ModelCheckpoint(dirpath=folder, filename="best", monitor=monitor, mode="max", enable_version_counter=False),
        LastCheckpoint(folder / "last.ckpt", every_n_steps=config.get("checkpoint_every_n_steps")),
    ]
    options = {"logger": RunLogger(config["out"]), "default_root_dir": config["out"], **config["trainer"]}
    return L.Trainer(callbacks=callbacks, plugins=[AtomicCheckpointIO()], **options)


def monitor_of(config: dict[str, Any]) -> str:
    """The metric that picks ``best.ckpt``: ``config["monitor"]``, else mAP (multi-label) or top-1."""
    return config.get("monitor", "val/mAP" if config["model"].get("multi_label") else "val/top1")


def fit(config: dict[str, Any], resume: bool = False) -> tuple[ActionRecognizer, VideoDataModule, float]:
    """Train; with ``resume`` continue exactly from ``out/checkpoints/last.ckpt``. Returns seconds.

    A fresh run with ``init_weights`` starts from that checkpoint's weights (not its optimiser or
    position: e.g. the second of two training stages).

    A fresh run refuses an ``out`` that already holds one (its ``last.ckpt``) and starts a new
    ``metrics.csv``; a resumed run continues the checkpoint's rows.
    """
    last = checkpoint_dir(config) / "last.ckpt"
    if resume and not last.is_file():
        raise FileNotFoundError(f"cannot resume: {last} does not exist")
    if not resume and last.is_file():
        raise FileExistsError(f"{config['out']} already holds a run ({last}): continue it with --resume, "
                              "or give another out")
    if not resume:
        (Path(config["out"]) / "metrics.csv").unlink(missing_ok=True)
    L.seed_everything(config.get("seed", 0), workers=True)
    datamodule = build_datamodule(config)
    module = build_module(config, datamodule)
    if config.get("init_weights") and not resume:
        init_weights(module, config["init_weights"])
    trainer = build_trainer(config, monitor_of(config))
    start = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=last if resume else None)
    return module, datamodule, time.perf_counter() - start


def check_label_space(datamodule: VideoDataModule, module: ActionRecognizer, checkpoint: str | Path) -> None:
    """Refuse data whose classes (names, in order) are not the checkpoint's, naming both."""
    ours, theirs = datamodule.class_names, list(module.hparams.class_names or [])
    if ours == theirs:
        return
    if len(ours) != len(theirs):
        detail = f"{len(ours)} classes in the data, {len(theirs)} in the checkpoint"
    else:
        i = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
        detail = f"class {i} is {ours[i]!r} in the data, {theirs[i]!r} in the checkpoint"
    raise ValueError(f"the label space of {datamodule.label_source} differs from checkpoint {checkpoint}'s: {detail}")


def evaluate(config: dict[str, Any], checkpoint: str | Path) -> tuple[dict[str, float], float]:
    """Evaluate a checkpoint on the config's test split; the data must have the checkpoint's classes."""
    datamodule = build_datamodule(config)
    module = load_module(checkpoint)
    check_label_space(datamodule, module, checkpoint)
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
    """The Attentional Pooling paper's Fig. 2 for the first ``count`` clips of ``dataset`` (PNG,
    plus a GIF each); for a head that returns object-pair relation strengths also the ORN paper's
    Fig. 5 per clip and its Fig. 4 over those clips; nothing for a model without attention maps."""
    if not module.model.head.makes_maps:
        return []
    module.eval()
    names = module.hparams.class_names
    object_names = getattr(getattr(dataset, "object_source", None), "classes", None)
    out = Path(out)
    written, graph = [], None
    for index in tqdm(range(min(count, len(dataset))), desc=f"pictures -> {out}"):
        sample = dataset[index]
        if sample is None:
            continue
        batch = {k: torch.as_tensor(v)[None].to(module.device) for k, v in sample.items()}
        output = module.run(batch, class_maps=True)
        label = torch.as_tensor(sample["label"])
        target = int(label) if label.ndim == 0 and label >= 0 else None
        columns = attention_columns(output, 0, names, target)
        frames = denormalize(sample["video"])
        predicted = names[int(output.logits["action"][0].argmax())]
        title = f"clip {index}: predicted '{predicted}'" + (f", true '{names[target]}'" if target is not None else "")
        written.append(attention_figure(frames, columns, out / f"clip{index:03d}.png", title))
        if gif:
            written.append(attention_animation(frames, columns, out / f"clip{index:03d}.gif"))
        if "relation_strength" in output.aux and object_names is not None:  # relations between the source's objects
            strength, pair_frames = output.aux["relation_strength"][0], output.aux["relation_frames"][0]
            classes = sample["object_classes"]
            written.append(relation_pairs_figure(frames, sample["object_masks"], classes, strength, pair_frames,
                                                 object_names, out / f"clip{index:03d}-relations.png", title))
            graph = graph or RelationGraph(len(names), len(object_names))
            graph.add(target if target is not None else int(output.logits["action"][0].argmax()), classes,
                      strength, pair_frames)
    if graph is not None:
        written.append(graph.figure(names, object_names, out / "relation-graph.png"))
    return written


def merged(base: dict[str, Any], **sections: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with each given section updated key by key."""
    config = copy.deepcopy(base)
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    return config
