from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actattn.experiment import evaluate, fit, merged
from actattn.output import ModelOutput
from actattn.train import ActionRecognizer, make_metrics


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


def test_resume_without_checkpoint_names_the_file(tiny_config: dict) -> None:
    with pytest.raises(FileNotFoundError, match="last.ckpt"):
        fit(tiny_config, resume=True)


def test_pose_regularised_training_uses_keypoints(tiny_config: dict) -> None:
    config = merged(tiny_config, data={"keypoints": True}, model={"head_kwargs": {"pose_joints": 5}},
                    trainer={"max_epochs": 1})
    module, _, _ = fit(config)
    assert torch.isfinite(module.trainer.callback_metrics["train/loss_pose"])


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
