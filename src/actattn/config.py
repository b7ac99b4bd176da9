"""Configs: flat YAML files, checked before anything runs against the typed signatures of the
constructors their sections map onto (with jsonargparse, as LightningCLI does).

A run config (``actattn fit``, ``test``, ``visualize``; see :class:`RunConfig`)::

    seed: 0
    out: runs/my_experiment          # checkpoints, metrics.csv, metrics.json, pictures
    monitor: val/top1                # optional: the metric that picks best.ckpt
    checkpoint_every_n_steps: 500    # optional: last.ckpt also every N steps (always every epoch)
    init_weights: runs/a/checkpoints/best.ckpt  # optional: start from an earlier run's weights
                                     # (e.g. ORN's second training stage from its first)
    data: {...}                      # actattn.data.datamodule.VideoDataModule (with features_dir:
                                     # actattn.data.features.FeatureDataModule, stored feature maps)
    model: {...}                     # actattn.train.ActionRecognizer (head_kwargs: the head's
                                     # keywords, backbone_kwargs: the backbone's)
    trainer: {...}                   # lightning.Trainer (max_epochs, accelerator, devices, precision, ...)

Values are coerced to the annotated type where that is lossless (``"1e-3"`` -> 0.001 for a float)
and rejected otherwise; an unknown key at any level is rejected with the closest valid name. Every
problem is one :class:`ConfigError` line: the file, the key, what was expected and what was found.
"""
from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from jsonargparse import ArgumentParser

from actattn.backbones import BACKBONES
from actattn.data.datamodule import VideoDataModule
from actattn.data.features import data_module_class
from actattn.models import MODELS
from actattn.train import ActionRecognizer

# constructor arguments that the experiment layer fills in, never a config
FILLED_IN = {
    "data": {"seed"},
    "model": {"num_classes", "class_names", "pipeline"},
    "trainer": {"callbacks", "logger", "plugins", "default_root_dir", "enable_checkpointing"},
}


class ConfigError(ValueError):
    """A config that cannot run: the message names the file and the key."""


@dataclass
class RunConfig:
    """The top level of a run config (a schema: configs stay plain dicts)."""

    out: str
    data: dict[str, Any]
    model: dict[str, Any]
    trainer: dict[str, Any]
    seed: int = 0
    monitor: str | None = None
    checkpoint_every_n_steps: int | None = None
    init_weights: str | None = None


def read_config(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The YAML mapping in ``path`` with ``section.key=value`` overrides applied (values read as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config {path}: no such file")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"config {path}: YAML syntax error{where}: {problem}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config {path}: expected a mapping of sections, got {type(config).__name__}")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"config {path}: override {item!r}: {part} is not a section")
        node[leaf] = yaml.safe_load(value)
    return config


def check_keys(values: dict[str, Any], allowed: Iterable[str], where: str, path: Path) -> None:
    """Reject a key of ``values`` not in ``allowed``, naming the closest allowed one."""
    allowed = sorted(allowed)
    for key in values:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(allowed)}"
            raise ConfigError(f"config {path}: unknown key {_join(where, key)!r}{hint}")


def check_call(values: Any, target: Callable, where: str, path: Path, skip: Iterable[str] = ()) -> dict[str, Any]:
    """``values`` checked as keyword arguments of ``target`` (a class, dataclass or function),
    minus ``skip``; returns them coerced to the annotated types."""
    if not isinstance(values, dict):
        raise ConfigError(f"config {path}: {where or 'the file'} must be a mapping, got {values!r}")
    skip = frozenset(skip)
    check_keys(values, _parameters(target, skip), where, path)
    try:
        parsed = _parser(target, skip).parse_object(values)
    except Exception as err:  # jsonargparse's ArgumentError (or the argparse one it wraps)
        raise ConfigError(f"config {path}: {_describe(err, where)}") from None
    return {key: parsed[key] for key in values}


def check_model(model: Any, where: str, path: Path) -> dict[str, Any]:
    """A model section: :class:`~actattn.train.ActionRecognizer`'s keywords, its ``head_kwargs``
    against the named head's keyword-only parameters and ``backbone_kwargs`` against the backbone's."""
    model = check_call(model, ActionRecognizer, where, path, FILLED_IN["model"])
    if model["name"] not in MODELS:
        raise ConfigError(f"config {path}: {where}.name: unknown model {model['name']!r}; "
                          f"choose one of {sorted(MODELS)}")
    backbone = model.get("backbone", "resnet50")
    if backbone not in BACKBONES:
        raise ConfigError(f"config {path}: {where}.backbone: unknown backbone {backbone!r}; "
                          f"choose one of {sorted(BACKBONES)}")
    head = MODELS[model["name"]]
    positional = [p.name for p in inspect.signature(head).parameters.values() if p.kind is not p.KEYWORD_ONLY]
    if model.get("head_kwargs"):
        model["head_kwargs"] = check_call(model["head_kwargs"], head, f"{where}.head_kwargs", path, positional)
    trunk = BACKBONES[backbone]
    if model.get("backbone_kwargs"):
        target, bound = (trunk.func, {"arch"}) if hasattr(trunk, "func") else (trunk, set())
        model["backbone_kwargs"] = check_call(model["backbone_kwargs"], target, f"{where}.backbone_kwargs", path,
                                              bound | {"pretrained"})
    return model


def check_run_config(config: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """A run config checked and coerced (see the module docstring)."""
    path = Path(path)
    if "models" in config or "synth" in config:
        raise ConfigError(f"config {path} is a demo config (it has 'synth' and 'models'): run it with "
                          f"`actattn demo --config {path}`")
    config = check_call(config, RunConfig, "", path)
    data = config["data"]
    config["data"] = check_call(data, data_module_class(data) if isinstance(data, dict) else VideoDataModule, "data",
                                path, FILLED_IN["data"])
    config["model"] = check_model(config["model"], "model", path)
    config["trainer"] = check_call(config["trainer"], L.Trainer, "trainer", path, FILLED_IN["trainer"])
    return config


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read, override and check a run config."""
    return check_run_config(read_config(path, overrides), path)


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _parameters(target: Callable, skip: frozenset[str]) -> list[str]:
    signature = inspect.signature(target)
    return [name for name, p in signature.parameters.items()
            if name not in skip and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


@lru_cache(maxsize=None)
def _parser(target: Callable, skip: frozenset[str]) -> ArgumentParser:
    parser = ArgumentParser(exit_on_error=False)
    if inspect.isclass(target):
        parser.add_class_arguments(target, skip=set(skip))
    else:
        parser.add_function_arguments(target, skip=set(skip))
    return parser


def _describe(err: Exception, where: str) -> str:
    """jsonargparse's message as ``key: problem`` on one line."""
    text = re.sub(r"<class '([\w.]+)'>", r"\1", " ".join(str(err).split()))
    missing = re.search(r"required: (.+)$", text)
    if missing:
        keys = [_join(where, key.strip()) for key in missing.group(1).split(",")]
        return f"missing {', '.join(keys)}"
    keyed = re.match(r'Parser key "([^"]+)": (.*)', text)
    if keyed:
        return f"{_join(where, keyed.group(1))}: {keyed.group(2)}"
    return f"{where}: {text}" if where else text

