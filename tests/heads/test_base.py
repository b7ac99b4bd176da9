"""The head contract, for every listed model: one training step on SynthHOI through the experiment
layer, and, for each model that makes maps, localisation with its scores and the pictures, with
no stage naming a method. A new head is covered the moment it is in ``list_models()``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from actattn import list_models
from actattn.experiment import fit, merged, write_pictures
from actattn.heads import Head
from actattn.localize.dataset import localize_dataset
from actattn.models import MODELS

SMALL = {  # widths shrunk so that one step of every head stays fast; everything else the defaults
    "dual_attention": {"embed_dim": 16, "prior_hidden": 16, "trn_bottleneck": 16},
    "object_relation": {"relation_hidden": 16, "gru_hidden": 8, "activity_hidden": 8, "shape_hidden": 8},
}


def test_every_head_keeps_the_contract() -> None:
    for name in list_models():
        assert issubclass(MODELS[name], Head), name
        assert all(isinstance(key, str) for key in MODELS[name].from_data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning's small-dataset hints
@pytest.mark.parametrize("name", list_models())
def test_one_step_then_localisation_and_pictures(name: str, tiny_config: dict, tiny_synth: Path,
                                                 tmp_path: Path) -> None:
    config = merged(tiny_config,
                    data={"objects_file": str(tmp_path / "objects.json"), "object_source": "synthhoi"},
                    model={"name": name, "head_kwargs": SMALL.get(name, {})},
                    trainer={"max_epochs": 1, "max_steps": 1, "limit_val_batches": 1})
    module, datamodule, _ = fit(config)
    assert module.trainer.global_step == 1
    head = module.model.head
    assert {key: getattr(head, key, None) for key in head.from_data} == {
        key: datamodule.head_facts[key] for key in head.from_data}
    assert all(torch.isfinite(p).all() for p in module.parameters())
    module.eval()
    scores = localize_dataset(module, tiny_synth / "something-something-v2-validation.json", tmp_path / "loc",
                              count=2, objects=datamodule.objects, object_source=datamodule.object_source,
                              pictures=1, progress=False)
    pictures = write_pictures(module, datamodule.datasets["val"], tmp_path / "pictures", count=1, gif=False)
    if not head.makes_maps:
        assert pictures == []
        return
    report = json.loads((tmp_path / "loc" / "localization.json").read_text())
    assert len(report["clips"]) == 2 and scores is not None
    for map_name in report["clips"][0]["scores"]:
        assert "/" not in map_name or 0 <= report["clips"][0]["scores"][map_name] <= 1
    assert {f"{map_name}/pointing_game" for map_name in scores.interpretability} <= set(scores.as_dict())
    assert pictures and all(path.is_file() for path in pictures)
