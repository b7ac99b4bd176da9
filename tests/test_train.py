from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from actattn.checkpoint import CheckpointError
from actattn.experiment import evaluate, fit, merged
from actattn.output import ModelOutput
from actattn.train import ActionRecognizer, class_weight_vector, make_metrics


def test_fit_writes_checkpoints_and_reports_metrics(tiny_config: dict) -> None:
    module, datamodule, seconds = fit(tiny_config)
    checkpoints = Path(tiny_config["out"]) / "checkpoints"
    assert (checkpoints / "last.ckpt").is_file() and (checkpoints / "best.ckpt").is_file()
    assert module.trainer.global_step == 2 * 3  # 24 clips / batch 8, two epochs
    assert {"val/top1", "val/top5", "val/mean_class_accuracy", "val/mAP"} <= set(module.trainer.callback_metrics)
    metrics, _ = evaluate(tiny_config, checkpoints / "last.ckpt")
    assert 0.0 <= metrics["top1"] <= metrics["top5"] <= 1.0
    assert seconds > 0 and (Path(tiny_config["out"]) / "metrics.csv").is_file()


def test_metrics_stay_apart_when_the_first_batch_makes_them_agree() -> None:
    metrics = make_metrics(4, multi_label=False)
    metrics.update(torch.eye(4), torch.arange(4))  # all right: every accuracy's state is the same
    metrics.update(torch.tensor([[0.0, 1.0, 2.0, 3.0]]), torch.tensor([2]))  # wrong at top-1, right at top-5
    values = {name: float(value) for name, value in metrics.compute().items()}
    assert values["top1"] == pytest.approx(4 / 5) and values["top5"] == 1.0
    assert values["mean_class_accuracy"] == pytest.approx((1 + 1 + 0.5 + 1) / 4)


def test_resume_continues_the_same_run(tiny_config: dict, tmp_path: Path) -> None:
    """Two epochs in one go == one epoch, stop, resume for the second (weights and optimiser)."""
    straight, _, _ = fit(tiny_config | {"out": str(tmp_path / "straight")})
    broken_config = tiny_config | {"out": str(tmp_path / "broken")}
    fit(merged(broken_config, trainer={"max_epochs": 1}))
    resumed, _, _ = fit(broken_config, resume=True)
    assert resumed.trainer.global_step == straight.trainer.global_step
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{name} differs after resume")


def test_a_second_stage_starts_from_the_first_stages_weights(tiny_config: dict, tmp_path: Path) -> None:
    first, _, _ = fit(merged(tiny_config, trainer={"max_epochs": 1}) | {"out": str(tmp_path / "first")})
    best = tmp_path / "first" / "checkpoints" / "last.ckpt"
    second, _, _ = fit(merged(tiny_config, trainer={"max_epochs": 0}) | {"out": str(tmp_path / "second"),
                                                                       "init_weights": str(best)})
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{name} was not loaded")
    other = merged(tiny_config, model={"name": "average_pooling"}) | {"out": str(tmp_path / "other"),
                                                                        "init_weights": str(best)}
    with pytest.raises(CheckpointError, match="last.ckpt: its weights do not fit this run's model"):
        fit(other)


def test_resume_without_checkpoint_names_the_file(tiny_config: dict) -> None:
    with pytest.raises(FileNotFoundError, match="last.ckpt"):
        fit(tiny_config, resume=True)


def test_pose_regularised_training_uses_keypoints(tiny_config: dict) -> None:
    config = merged(tiny_config, data={"keypoints": True}, model={"head_kwargs": {"pose_joints": 5}},
                    trainer={"max_epochs": 1})
    module, _, _ = fit(config)
    assert torch.isfinite(module.trainer.callback_metrics["train/loss_pose"])


def _evaluate_in_batches(multi_label: bool, logits: torch.Tensor, labels: torch.Tensor,
                         batches: int) -> dict[str, float]:
    """The validation metrics of ``logits`` (as the model's output) and ``labels`` fed in ``batches`` batches."""
    module = ActionRecognizer("average_pooling", logits.shape[1], backbone="small_cnn", multi_label=multi_label)
    module.run = lambda batch: ModelOutput({"action": batch["logits"]})
    for chunk_logits, chunk_labels in zip(logits.chunk(batches), labels.chunk(batches)):
        batch = {"video": torch.zeros(len(chunk_logits), 3, 1, 8, 8), "logits": chunk_logits,
                 "label": chunk_labels, "skipped": torch.tensor(0)}
        module.validation_step(batch, 0)
    return {name: float(value) for name, value in module.val_metrics.compute().items()}


@pytest.mark.filterwarnings("ignore")  # `self.log` without a trainer
@pytest.mark.parametrize("multi_label", [False, True])
def test_metrics_do_not_depend_on_how_the_data_are_batched(multi_label: bool) -> None:
    """torchmetrics treats a batch as logits only if some value leaves [0, 1]: the metrics get
    probabilities, so a batch whose logits happen to lie in [0, 1] counts like the others."""
    generator = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(16, 5, generator=generator)
    logits[:4] = torch.rand(4, 5, generator=generator)  # the first of 4 batches lies in [0, 1]
    if multi_label:
        labels = (torch.rand(16, 5, generator=generator) < 0.4).float()
        labels[:, 0] = torch.tensor([1.0, 0.0] * 8)  # every label has a positive and a negative
        labels[:, 1] = torch.tensor([0.0, 1.0] * 8)
        labels[3, 2] = -1.0  # ambiguous
    else:
        labels = torch.arange(16) % 5
    whole = _evaluate_in_batches(multi_label, logits, labels, batches=1)
    assert set(whole) == ({"val/mAP"} if multi_label else {"val/top1", "val/top5", "val/mean_class_accuracy",
                                                            "val/mAP"})
    assert _evaluate_in_batches(multi_label, logits, labels, batches=4) == pytest.approx(whole, abs=1e-6)


@pytest.mark.filterwarnings("ignore")
def test_multi_label_map_leaves_ambiguous_labels_out() -> None:
    """An ambiguous (-1) entry changes nothing, whatever its score: HICO's official protocol."""
    logits = torch.tensor([[2.0, -1.0], [1.0, 1.0], [-1.0, 2.0], [0.5, -2.0]])
    labels = torch.tensor([[1.0, 0.0], [0.0, -1.0], [0.0, 1.0], [-1.0, 0.0]])
    known = _evaluate_in_batches(True, logits, labels, batches=1)["val/mAP"]
    assert known == pytest.approx(1.0)  # the known entries are ranked perfectly
    for value in (-5.0, 5.0):
        moved = logits.clone()
        moved[1, 1] = moved[3, 0] = value
        assert _evaluate_in_batches(True, moved, labels, batches=2)["val/mAP"] == pytest.approx(known)


def test_multi_label_loss_leaves_ambiguous_labels_out() -> None:
    module = ActionRecognizer("average_pooling", 3, backbone="small_cnn", multi_label=True, pos_weight=1.0)
    video = torch.zeros(2, 3, 1, 8, 8)
    target = torch.tensor([[1.0, -1.0, 0.0], [-1.0, 0.0, 1.0]])
    logits = torch.tensor([[0.5, 3.0, -1.0], [-2.0, 1.0, 2.0]])
    loss = module.losses(ModelOutput({"action": logits}), {"label": target, "video": video})["action"]
    known = target >= 0
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[known], target[known])
    torch.testing.assert_close(loss, expected)
    moved = logits.clone()
    moved[~known] = -7.0  # scores of ambiguous entries carry no loss
    torch.testing.assert_close(module.losses(ModelOutput({"action": moved}), {"label": target, "video": video})["action"],
                               expected)


def test_multi_label_loss_is_weighted_sigmoid_cross_entropy() -> None:
    module = ActionRecognizer("average_pooling", 3, backbone="small_cnn", multi_label=True, pos_weight=10.0)
    logits = torch.tensor([[0.0, 1.0, -1.0]])
    target = torch.tensor([[1.0, 0.0, 1.0]])
    losses = module.losses(ModelOutput({"action": logits}), {"label": target, "video": torch.zeros(1, 3, 1, 8, 8)})
    p = torch.sigmoid(logits)
    expected = -(10 * target * p.log() + (1 - target) * (1 - p).log()).mean()
    torch.testing.assert_close(losses["action"], expected)


def test_bad_optimiser_and_schedule_are_rejected() -> None:
    with pytest.raises(ValueError, match="optimizer"):
        ActionRecognizer("average_pooling", 3, backbone="small_cnn", optimizer="rmsprop")
    with pytest.raises(ValueError, match="schedule"):
        ActionRecognizer("average_pooling", 3, backbone="small_cnn", schedule="linear")


def test_adamw_decays_a_weight_without_gradient_by_lr_times_decay_of_itself() -> None:
    module = ActionRecognizer("average_pooling", 3, backbone="small_cnn", optimizer="adamw", lr=1e-3,
                              weight_decay=1e-4)
    optimizer = module.configure_optimizers()["optimizer"]
    weight = next(module.parameters())
    before = weight.detach().clone()
    for parameter in module.parameters():
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()
    torch.testing.assert_close(weight.detach(), before * (1 - 1e-3 * 1e-4))


def test_views_are_folded_and_their_logits_averaged_per_video() -> None:
    torch.manual_seed(0)
    module = ActionRecognizer("average_pooling", 5, backbone="small_cnn").eval()
    views = torch.randn(2, 3, 3, 2, 32, 32)  # 2 videos x 3 views (clips x crops), 2 frames
    batch = {"video": views, "label": torch.tensor([1, 4]), "index": torch.tensor([0, 1]), "skipped": torch.tensor(0)}
    with torch.no_grad():
        folded, out, logits = module.video_logits(batch)
        one_by_one = torch.stack([module(views[:, v]).logits["action"] for v in range(3)], 1).mean(1)
    assert folded["video"].shape == (6, 3, 2, 32, 32) and folded["label"].tolist() == [1, 1, 1, 4, 4, 4]
    assert out.logits["action"].shape == (6, 5) and folded["skipped"].ndim == 0
    torch.testing.assert_close(logits["action"], one_by_one, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        module.test_step(batch, 0)
        assert float(module.counts["test_clips"].compute()) == 2  # videos, not views
        single = {**batch, "video": views[:, 0]}
        assert torch.equal(module.video_logits(single)[2]["action"], module(views[:, 0]).logits["action"])


def test_views_carry_object_masks_to_an_object_head() -> None:
    module = ActionRecognizer("object_relation", 4, backbone="small_cnn", head_kwargs={"num_object_classes": 3}).eval()
    batch = {"video": torch.randn(2, 2, 3, 2, 32, 32), "label": torch.tensor([0, 3]),
             "object_masks": torch.rand(2, 2, 2, 3, 28, 28), "object_classes": torch.randint(-1, 3, (2, 2, 2, 3))}
    with torch.no_grad():
        folded, _, logits = module.video_logits(batch)
    assert folded["object_masks"].shape == (4, 2, 3, 28, 28) and logits["action"].shape == (2, 4)


def test_labels_of_the_wrong_kind_are_refused() -> None:
    module = ActionRecognizer("average_pooling", 3, backbone="small_cnn")
    batch = {"video": torch.randn(2, 3, 2, 32, 32), "label": torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),
             "skipped": torch.tensor(0)}
    with pytest.raises(ValueError, match="labels are multi-hot vectors but the model has multi_label=False"):
        module.training_step(batch, 0)


def test_many_shot_files_are_read_at_setup_and_kept_as_ids(tmp_path: Path) -> None:
    path = tmp_path / "EPIC_many_shot_verbs.csv"
    path.write_text("verb_class,verb\n2,open\n0,take\n")
    module = ActionRecognizer("average_pooling", 3, backbone="small_cnn", metrics="epic",
                              many_shot={"classes": str(path)})
    assert module.test_metrics is None  # a config is checked without the annotation files
    module.setup("test")
    assert module.hparams.many_shot == {"classes": [0, 2]}
    assert "many_shot_mean_class_accuracy" in module.test_metrics
    again = ActionRecognizer(**{k: v for k, v in module.hparams.items()})  # as load_module rebuilds it
    assert again.test_metrics is not None


# ------------------------------------------------------- per-class weights (ActX's HACS-30 loss)
HACS_NAMES = ["Archery", "Ironing clothes", "Negative"]


def weighted_recognizer(**kwargs) -> ActionRecognizer:
    return ActionRecognizer("average_pooling", 3, backbone="small_cnn", **kwargs)


def test_the_weighted_loss_is_torchs_weighted_cross_entropy() -> None:
    module = weighted_recognizer(class_names=HACS_NAMES, class_weights={"Negative": 0.01})
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 2, 2, 1, 2, 0])
    weight = torch.tensor([1.0, 1.0, 0.01])
    torch.testing.assert_close(module.action_loss(logits, labels), F.cross_entropy(logits, labels, weight=weight))
    assert not torch.allclose(module.action_loss(logits, labels), F.cross_entropy(logits, labels))
    assert "class_weight" not in module.state_dict()  # rebuilt from the hyperparameters, not stored
    plain = weighted_recognizer(class_names=HACS_NAMES)
    torch.testing.assert_close(plain.action_loss(logits, labels), F.cross_entropy(logits, labels))


def test_weights_without_class_names_are_resolved_at_the_first_loss_or_refused() -> None:
    module = weighted_recognizer(class_weights={"Negative": 0.01})  # a config checked without its data: fine
    with pytest.raises(ValueError, match="are by class name: they need the 3 class names"):
        module.action_loss(torch.zeros(1, 3), torch.tensor([0]))
    module.hparams.class_names = HACS_NAMES
    uniform = module.action_loss(torch.zeros(2, 3), torch.tensor([0, 2]))
    torch.testing.assert_close(uniform, torch.log(torch.tensor(3.0)))  # equal logits: log K whatever the weights


def test_an_unknown_class_name_is_an_error_naming_the_closest() -> None:
    with pytest.raises(ValueError, match="class_weights: unknown class 'negative'; did you mean 'Negative'"):
        weighted_recognizer(class_names=HACS_NAMES, class_weights={"negative": 0.01})
    with pytest.raises(ValueError, match="unknown class 'Zz'; the classes: "):
        class_weight_vector({"Zz": 1.0}, HACS_NAMES, 3)
    with pytest.raises(ValueError, match=r"class_weights\['Negative'\] must be >= 0"):
        class_weight_vector({"Negative": -1.0}, HACS_NAMES, 3)
    with pytest.raises(ValueError, match="single-label"):
        weighted_recognizer(class_names=HACS_NAMES, class_weights={"Negative": 0.01}, multi_label=True)
    assert class_weight_vector({"Archery": 2.0}, HACS_NAMES, 3).tolist() == [2.0, 1.0, 1.0]
