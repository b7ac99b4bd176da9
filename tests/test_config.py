"""actattn.config: run configs checked against the constructors' signatures before anything runs."""
from __future__ import annotations

import re
from pathlib import Path

import lightning
import pytest
import yaml

from actattn.config import ConfigError, load_config, read_config
from actattn.data.features import FeatureDataModule, data_module_class
from actattn.demo import data_files, load_demo_config
from actattn.models import MODELS
from actattn.train import ActionRecognizer

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


@pytest.fixture
def config_file(tmp_path: Path, tiny_config: dict) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tiny_config))
    return path


def test_overrides_are_applied_and_coerced_to_the_signature_types(config_file: Path) -> None:
    config = load_config(config_file, ["trainer.max_epochs=7", "model.head_kwargs.rank=2", "model.lr=1e-3",
                                       "data.size=64"])
    assert config["trainer"]["max_epochs"] == 7 and config["model"]["head_kwargs"]["rank"] == 2
    assert config["model"]["lr"] == 0.001 and isinstance(config["model"]["lr"], float)  # YAML 1.1 reads a string


@pytest.mark.parametrize(("overrides", "message"), [
    (["data.num_segments=4.5"], "c.yaml: data.num_segments: Expected a int. Got value: 4.5"),
    (["data.nmu_segments=4"], "c.yaml: unknown key 'data.nmu_segments'; did you mean 'num_segments'?"),
    (["model.head_kwargs.rnak=2"], "unknown key 'model.head_kwargs.rnak'; did you mean 'rank'?"),
    (["model.backbone_kwargs.dilation=[1, 1]"], "unknown key 'model.backbone_kwargs.dilation'; did you mean 'dilations'"),
    (["trainer.max_epoch=3"], "unknown key 'trainer.max_epoch'; did you mean 'max_epochs'?"),
    (["mdoel.lr=0.1"], "unknown key 'mdoel'; did you mean 'model'?"),
    (["model.name=fancy_pooling"], "model.name: unknown model 'fancy_pooling'"),
    (["model.lr=fast"], "model.lr: Expected a float. Got value: fast"),
    (["trainer.callbacks=[]"], "unknown key 'trainer.callbacks'"),  # the experiment layer sets these
    (["trainer.max_epochs"], "is not of the form section.key=value"),
])
def test_mistakes_name_the_file_the_key_and_the_problem(config_file: Path, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(config_file, overrides)


def test_missing_keys_and_broken_files(tmp_path: Path, tiny_config: dict) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in tiny_config.items() if k != "out"}))
    with pytest.raises(ConfigError, match=re.escape(f"config {path}: missing out")):
        load_config(path)
    path.write_text("data:\n  size: 64\n   num_segments: 4\n")
    with pytest.raises(ConfigError, match=re.escape(f"config {path}: YAML syntax error at line 3, column")):
        load_config(path)
    with pytest.raises(ConfigError, match="nope.yaml: no such file"):
        load_config(tmp_path / "nope.yaml")
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        read_config(path)


def test_a_demo_config_given_to_fit_says_which_command_runs_it() -> None:
    with pytest.raises(ConfigError, match=re.escape("is a demo config (it has 'synth' and 'models'): run it with "
                                                    "`actattn demo --config")):
        load_config(Path(__file__).resolve().parents[1] / "configs" / "demo.yaml")


def test_demo_configs_are_checked_section_by_section(tmp_path: Path) -> None:
    demo = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "demo.yaml").read_text())
    for section, key, message in (("synth", "overrides", "unknown key 'synth.overrides.sise'; did you mean 'size'?"),
                                  ("data", "train_file", "unknown key 'data.train_file'"),  # the demo names the files
                                  ("models", "average_pooling", "models.average_pooling.lr: Expected a float")):
        broken = yaml.safe_load(yaml.safe_dump(demo))
        value = {"sise": 64} if key == "overrides" else "x.json" if section == "data" else {**demo["models"][key],
                                                                                          "lr": "fast"}
        broken[section][key] = value
        path = tmp_path / f"{section}.yaml"
        path.write_text(yaml.safe_dump(broken))
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_demo_config(path)


DATA_FACTS = {"num_objects": 5, "num_object_classes": 14}
STORED_MAPS = {"out_channels": 1024, "output_stride": 32}  # what a features data module tells the backbone


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_shipped_config_passes_the_command_its_header_names(path: Path) -> None:
    """The first line names the command; the config passes its checks and builds every constructor
    (no pretrained download; what a head takes from the data is made up here: ``DATA_FACTS``)."""
    command = re.fullmatch(r"# Run: actattn (fit|demo) --config configs/(.+)", path.read_text().splitlines()[0])
    assert command is not None and command.group(2) == path.name
    config = load_demo_config(path) if command.group(1) == "demo" else load_config(path)
    files = data_files(Path(config["out"]) / "data") if command.group(1) == "demo" else {}
    data_module_class(config["data"])(**config["data"], **files)
    lightning.Trainer(**{**config["trainer"], "accelerator": "cpu", "devices": 1, "strategy": "auto"}, logger=False)
    for section in config.get("models", {"run": config.get("model")}).values():
        model = {key: value for key, value in section.items() if key != "data"}
        data = {**config["data"], **section.get("data", {})}
        datamodule = data_module_class(data)(**data, **files)
        facts = {key: DATA_FACTS[key] for key in MODELS[model["name"]].from_data}
        head_kwargs = {**facts, **model.get("head_kwargs", {})}
        backbone_kwargs = {**(STORED_MAPS if isinstance(datamodule, FeatureDataModule) else {}),
                           **model.get("backbone_kwargs", {})}
        ActionRecognizer(**{**model, "pretrained": False, "head_kwargs": head_kwargs,
                            "backbone_kwargs": backbone_kwargs}, num_classes=7)
