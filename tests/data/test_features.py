"""actattn.data.features: temporal and spatial crops of stored maps, whole maps at test, and heads trained on them."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from actattn.conjugates import Conjugate, save_pairs
from actattn.data.features import (
    FeatureDataModule,
    FeatureDataset,
    FeatureFileError,
    FeatureRecord,
    crop_steps_indices,
)
from actattn.data.sampling import sample_rng
from actattn.extract import ExtractSettings
from actattn.feature_files import FeatureMap, conjugate_file
from actattn.train import ActionRecognizer

C, H, W = 8, 4, 5
LENGTHS = {"v0": 12, "v1": 3, "v2": 20, "v3": 10}
CONJUGATES = {"v0": [Conjugate("v0.mp4", 0, 4, "before")], "v1": [Conjugate("v1.mp4", 0, 2, "before")],
              "v2": [Conjugate("v2.mp4", 15, 20, "after"), Conjugate("v2.mp4", 0, 5, "before")],
              "v3": [Conjugate("v3.mp4", 0, 9, "before")]}


def write_map(path: Path, steps: int, seed: int) -> None:
    features = torch.randn(steps, C, H, W, generator=torch.Generator().manual_seed(seed)).half()
    settings = ExtractSettings(backbone="small_cnn", weights="random").to_json()
    meta = {"version": 1, "settings": settings, "video": "x.mp4", "frames": [0, steps], "fps": 12.0,
            "input_size": [32, 40], "out_channels": C, "output_stride": 8, "temporal_stride": 1}
    FeatureMap(features, torch.stack([torch.arange(steps), torch.arange(1, steps + 1)], 1), meta).save(path)


@pytest.fixture
def features_dir(tmp_path: Path) -> Path:
    """Maps of 4 clips (12, 3, 20, 10 steps of 8 x 4 x 5) and of their conjugates, a CSV split and a pairs file."""
    out = tmp_path / "features"
    for seed, (name, steps) in enumerate(LENGTHS.items()):
        write_map(out / f"{name}.pt", steps, seed)
        for k, conjugate in enumerate(CONJUGATES[name]):
            write_map(conjugate_file(out, conjugate), conjugate.stop - conjugate.start, 100 + 10 * seed + k)
    rows = "".join(f"videos/{name}.mp4,{i % 3}\n" for i, name in enumerate(LENGTHS))
    (tmp_path / "train.csv").write_text("path,label\n" + rows)
    (tmp_path / "test.csv").write_text("path,label\nvideos/v1.mp4,1\nvideos/v2.mp4,2\n")
    save_pairs(CONJUGATES, tmp_path / "pairs.json")
    return out


def dataset(features_dir: Path, train: bool = True, **kwargs) -> FeatureDataset:
    records = [FeatureRecord(name, i) for i, name in enumerate(LENGTHS)]
    return FeatureDataset(records, features_dir, train=train, **kwargs)


def module(features_dir: Path, **kwargs) -> FeatureDataModule:
    root = features_dir.parent
    datamodule = FeatureDataModule("csv", features_dir=features_dir, train_file=root / "train.csv",
                                   test_file=root / "test.csv", batch_size=2, **kwargs)
    datamodule.setup("fit")
    return datamodule


def test_crop_indices_are_consecutive_and_repeat_a_short_map_cyclically() -> None:
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(50):
        steps = crop_steps_indices(20, 10, rng)
        assert len(steps) == 10 and steps[0] + 9 == steps[-1] <= 19
        starts.add(int(steps[0]))
    assert starts == set(range(11))  # every start of a 20-step map can be drawn
    assert crop_steps_indices(3, 7, rng).tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert crop_steps_indices(10, 10, rng).tolist() == list(range(10))


def test_training_crops_are_fixed_length_and_a_function_of_seed_epoch_index(features_dir: Path) -> None:
    clips = dataset(features_dir, crop_steps=6, spatial_crop=(2, 3), seed=4)
    whole = FeatureMap.load(features_dir / "v2.pt").features.float()
    sample = clips[(2, 1)]
    assert sample["video"].shape == (6, C, 2, 3) and sample["video"].dtype == torch.float32
    torch.testing.assert_close(clips[(2, 1)]["video"], sample["video"])  # deterministic
    # it is the crop that sample_rng(seed, epoch, index) draws
    rng = sample_rng(4, 1, 2)
    start = crop_steps_indices(20, 6, rng)[0]
    top, left = int(rng.integers(H - 2 + 1)), int(rng.integers(W - 3 + 1))
    torch.testing.assert_close(sample["video"], whole[start:start + 6, :, top:top + 2, left:left + 3])
    assert any(not torch.equal(clips[(2, epoch)]["video"], sample["video"]) for epoch in range(2, 6))
    assert clips[(1, 0)]["video"].shape == (6, C, 2, 3)  # a 3-step map, repeated
    assert sample["label"].item() == 2 and sample["index"] == 2


def test_evaluation_takes_the_whole_map(features_dir: Path) -> None:
    clips = dataset(features_dir, train=False, crop_steps=6, spatial_crop=(2, 3))
    for index, steps in enumerate(LENGTHS.values()):
        torch.testing.assert_close(clips[index]["video"],
                                   FeatureMap.load(features_dir / f"v{index}.pt").features.float())
        assert clips[index]["video"].shape == (steps, C, H, W)


def test_conjugate_maps_come_cropped_in_training_only(features_dir: Path) -> None:
    root = features_dir.parent
    datamodule = module(features_dir, crop_steps=4, conjugates_file=root / "pairs.json")
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["video"].shape == (2, 4, C, H, W) and batch["conjugate"].shape == (2, 4, C, H, W)
    train = datamodule.datasets["train"]
    drawn = {tuple(train[(2, epoch)]["conjugate"][0, 0, 0, :2].tolist()) for epoch in range(8)}
    assert len(drawn) > 1  # v2's two conjugates (and crops) vary over epochs
    assert "conjugate" not in datamodule.datasets["test"][0]


def test_the_data_module_matches_the_video_data_modules_surface(features_dir: Path) -> None:
    datamodule = module(features_dir, crop_steps=5)
    assert datamodule.class_names == ["0", "1", "2"] and datamodule.num_classes == 3
    assert datamodule.backbone_facts == {"out_channels": C, "output_stride": 8, "temporal_stride": 1}
    assert datamodule.pipeline["features"]["backbone"] == "small_cnn" and datamodule.pipeline["crop_steps"] == 5
    assert datamodule.head_facts == {} and "train.csv" in datamodule.label_source
    assert set(datamodule.datasets) == {"train", "test"} and datamodule.val_dataloader() == []
    loader = datamodule.train_dataloader()
    batches = list(loader)
    assert [tuple(b["video"].shape) for b in batches] == [(2, 5, C, H, W)] * 2
    assert all(int(b["skipped"]) == 0 for b in batches)
    assert datamodule.state_dict() == {"train_loader": {"epoch": 0, "batches": 2}}
    test = list(datamodule.test_dataloader())
    assert [tuple(b["video"].shape) for b in test] == [(1, 3, C, H, W), (1, 20, C, H, W)]  # whole maps, one a batch
    resumed = module(features_dir, crop_steps=5)
    resumed.load_state_dict({"train_loader": {"epoch": 0, "batches": 1}})
    rest = list(resumed.train_dataloader())
    assert len(rest) == 1 and torch.equal(rest[0]["index"], batches[1]["index"])
    torch.testing.assert_close(rest[0]["video"], batches[1]["video"])


def test_ssv2_layout_reads_ids_and_labels(features_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "labels.json").write_text(json.dumps({"Pushing something": "0", "Pulling something": "1"}))
    split = [{"id": "v0", "template": "Pulling [something]", "label": "pulling a cup", "placeholders": ["cup"]},
             {"id": "v3", "template": "Pushing [something]", "label": "pushing a cup", "placeholders": ["cup"]}]
    (tmp_path / "train.json").write_text(json.dumps(split))
    datamodule = FeatureDataModule("ssv2", features_dir=features_dir, train_file=tmp_path / "train.json",
                                   labels_file=tmp_path / "labels.json", crop_steps=2)
    datamodule.setup()
    train = datamodule.datasets["train"]
    assert datamodule.class_names == ["Pushing something", "Pulling something"]
    assert [train[i]["label"].item() for i in range(2)] == [1, 0] and train[0]["video"].shape[0] == 2


def test_a_missing_map_is_an_error_or_a_counted_skip(features_dir: Path) -> None:
    (features_dir / "v1.pt").unlink()
    with pytest.raises(FeatureFileError, match="v1.pt: no feature file"):
        dataset(features_dir)[1]
    (features_dir / "v3.pt").write_bytes(b"truncated")
    skipping = dataset(features_dir, skip_bad_videos=True)
    with pytest.warns(UserWarning, match="v3.pt"):
        assert skipping[3] is None
    assert skipping.num_bad_videos == 1 and skipping[3] is None


def test_whole_maps_of_different_lengths_need_batches_of_one(features_dir: Path) -> None:
    datamodule = module(features_dir, eval_batch_size=2)
    with pytest.raises(ValueError, match="eval_batch_size 1"):
        next(iter(datamodule.test_dataloader()))


@pytest.mark.parametrize("name", ["average_pooling", "attentional_pooling", "action_context"])
def test_a_head_trains_on_stored_maps_through_the_precomputed_backbone(features_dir: Path, name: str) -> None:
    """Table 1's comparison on one set of features: the pooling baseline, AP and ActX (with its conjugates)."""
    datamodule = module(features_dir, crop_steps=4, conjugates_file=features_dir.parent / "pairs.json")
    torch.manual_seed(0)
    recognizer = ActionRecognizer(name, datamodule.num_classes, backbone="precomputed",
                                  backbone_kwargs=datamodule.backbone_facts, class_names=datamodule.class_names,
                                  pipeline=datamodule.pipeline, optimizer="adam", lr=1e-2)
    optimizer = recognizer.configure_optimizers()["optimizer"]
    batch = next(iter(datamodule.train_dataloader()))
    before = [p.detach().clone() for p in recognizer.parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log outside a Trainer
        loss = recognizer.training_step(batch, 0)
    assert torch.isfinite(loss)
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, recognizer.parameters()))
    if name == "action_context":
        out = recognizer.run(batch)
        assert "conjugate_feats" in out.aux and out.attention["action"].shape == (2, 4, H, W)
    with torch.no_grad():
        test_batch = next(iter(datamodule.test_dataloader()))
        assert recognizer.run(test_batch).logits["action"].shape == (1, 3)


def test_multi_label_csv_gives_multi_hot_labels(features_dir: Path) -> None:
    (features_dir.parent / "multi.csv").write_text("videos/v0.mp4,0;2\nvideos/v1.mp4,1;?0\n")
    datamodule = FeatureDataModule("csv", features_dir=features_dir, train_file=features_dir.parent / "multi.csv",
                                   multi_label=True, crop_steps=2)
    datamodule.setup()
    assert datamodule.multi_label and datamodule.class_names == ["0", "1", "2"]
    train = datamodule.datasets["train"]
    assert train[0]["label"].tolist() == [1.0, 0.0, 1.0] and train[1]["label"].tolist() == [-1.0, 1.0, 0.0]


@pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning's small-dataset hints
def test_a_run_config_on_stored_maps_fits_and_tests(features_dir: Path, tmp_path: Path) -> None:
    """``features_dir`` in the data section builds the features data module; the backbone is the
    precomputed one, its channels and strides taken from the maps."""
    from actattn.config import check_run_config
    from actattn.experiment import evaluate, fit

    root = features_dir.parent
    config = check_run_config({
        "out": str(tmp_path / "run"),
        "data": {"format": "csv", "features_dir": str(features_dir), "train_file": str(root / "train.csv"),
                 "val_file": str(root / "test.csv"), "test_file": str(root / "test.csv"), "crop_steps": 4,
                 "batch_size": 2},
        "model": {"name": "attentional_pooling", "backbone": "precomputed", "optimizer": "adam", "lr": 0.01},
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "enable_progress_bar": False,
                    "enable_model_summary": False, "num_sanity_val_steps": 0}}, tmp_path / "run.yaml")
    module, _, _ = fit(config)
    assert module.model.backbone.out_channels == C and module.model.backbone.output_stride == 8
    metrics, _ = evaluate(config, tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert metrics["clips"] == 2
    with pytest.raises(ValueError, match="backbone must be 'precomputed', not 'small_cnn'"):
        fit({**config, "out": str(tmp_path / "other"), "model": {**config["model"], "backbone": "small_cnn"}})
