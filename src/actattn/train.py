"""The Lightning module that trains and evaluates any model of :func:`actattn.create_model`.

It names no method: the head (:class:`~actattn.heads.base.Head`) says which batch entries it reads,
computes its own losses and lists its extra metrics. This module gives it the dataset's action
criterion: softmax cross-entropy for single-label sets (SSv2, HMDB51, MPII), sigmoid cross-entropy
for multi-label sets (HICO) with positives weighted by ``pos_weight`` (the Attentional Pooling
paper's own Table 2 rows use 1, the unweighted loss; 10 is the authors' code's multi-label option,
the "weighted loss" of the Fusion rows). ``class_weights`` weights the softmax cross-entropy per
class by name (``{Negative: 0.01}``, the ActX supplement's HACS-30 loss: 0.01 for negative clips,
1.0 for positive ones; unnamed classes weigh 1), resolved against ``class_names``; the batch mean
is torch's weighted one, divided by the sum of the clips' weights (``F.cross_entropy(weight=...)``;
the paper does not say how it normalises). Multi-label targets are 1 (positive), 0 (negative) or -1
(ambiguous, HICO's 0 labels): ambiguous entries are left out of the loss and of the mAP, as in
HICO's official evaluation. Metrics come from torchmetrics (:mod:`actattn.metrics`, chosen by
``metrics``): top-1, top-5, mean class accuracy and mAP (single-label), mAP (multi-label), EPIC's
(many-shot, verb and noun of an action model) ..., and the head's own (object top-1 ...).

Multi-view evaluation (a test protocol of the data module: clips x crops per video): a batch whose
``video`` is ``(B, V, 3, T, H, W)`` is folded to ``B * V`` clips (the per-view entries
:data:`~actattn.data.sampling.VIEW_KEYS` ``(B, V, ...)`` folded too, every other entry repeated per
view), the model runs once on them, and each video's logits are averaged over its views before the
probabilities and the metrics (:meth:`ActionRecognizer.video_logits`); the loss and the head's own
metrics are per view.
"""
from __future__ import annotations

import difflib
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from einops import rearrange
from torchmetrics import MetricCollection, SumMetric

from actattn.data.sampling import VIEW_KEYS
from actattn.heads.base import Supervision
from actattn.metrics import action_scores, make_metrics, read_many_shot
from actattn.models import create_model
from actattn.output import ModelOutput

SCHEDULES = ("none", "step", "multistep", "cosine")
# "adam" adds weight_decay * w to the gradient (L2), which Adam's normalisation turns into a shrink of
# about lr per step wherever the loss's own gradient is smaller: "adamw" decouples it (Loshchilov and
# Hutter, 2019) and shrinks every weight by lr * weight_decay of itself per step.
OPTIMIZERS = ("sgd", "adam", "adamw")


def masked_bce(logits: Tensor, target: Tensor, pos_weight: float) -> Tensor:
    """Sigmoid cross-entropy with positives weighted by ``pos_weight``, averaged over the known
    entries of ``target`` (1 or 0; -1 ambiguous entries are left out)."""
    known = target >= 0
    weight = torch.full_like(logits[0], pos_weight)
    loss = F.binary_cross_entropy_with_logits(logits, target.clamp(min=0), pos_weight=weight, reduction="none")
    return (loss * known).sum() / known.sum().clamp(min=1)


def class_weight_vector(class_weights: Mapping[str, float], class_names: Sequence[str] | None,
                        num_classes: int) -> Tensor:
    """``(K,)`` float32 per-class weights of the softmax cross-entropy: ``class_weights[name]`` for the
    classes named there, 1 for the others; an unknown name is an error naming the closest class."""
    if class_names is None or len(class_names) != num_classes:
        raise ValueError(f"class_weights {dict(class_weights)} are by class name: they need the {num_classes} "
                         f"class names (got {None if class_names is None else len(class_names)})")
    index = {name: i for i, name in enumerate(class_names)}
    weights = torch.ones(num_classes)
    for name, weight in class_weights.items():
        if name not in index:
            close = difflib.get_close_matches(str(name), list(index), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f"; the classes: {list(class_names)[:10]} ..."
            raise ValueError(f"class_weights: unknown class {name!r}{hint}")
        if not weight >= 0:
            raise ValueError(f"class_weights[{name!r}] must be >= 0, got {weight}")
        weights[index[name]] = float(weight)
    return weights


class ActionRecognizer(L.LightningModule):
    """Backbone + head (by name, see :func:`actattn.list_models`) with its losses and metrics.

    ``class_names`` and ``pipeline`` (the data module's :attr:`~actattn.data.datamodule.VideoDataModule.pipeline`:
    frame size, short side, sampling, normalisation) are kept in the checkpoint, so that
    ``actattn predict`` rebuilds the evaluation input without the training config and ``actattn
    test`` can refuse data of another label space. Besides the action metrics, evaluation counts
    its clips (``clips``) and the bad videos skipped (``skipped``; ``train/skipped`` per epoch).
    """

    def __init__(
        self,
        name: str,
        num_classes: int,
        *,
        backbone: str = "resnet50",
        pretrained: bool = False,
        backbone_kwargs: dict[str, Any] | None = None,
        head_kwargs: dict[str, Any] | None = None,
        multi_label: bool = False,
        pos_weight: float = 10.0,
        class_weights: dict[str, float] | None = None,
        optimizer: str = "sgd",
        lr: float = 1e-3,
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        schedule: str = "none",
        interval: str = "epoch",
        step_size: int = 1,
        milestones: tuple[int, ...] = (),
        gamma: float = 0.1,
        class_names: list[str] | None = None,
        pipeline: dict[str, Any] | None = None,
        metrics: str = "default",
        many_shot: dict[str, str | list[int]] | None = None,
        action_nouns: int | None = None,
    ):
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if class_weights and multi_label:
            raise ValueError("class_weights weight the softmax cross-entropy (single-label); a multi-label "
                             "model weighs its positives with pos_weight")
        self.save_hyperparameters()
        self.model = create_model(
            name,
            num_classes=num_classes,
            backbone=backbone,
            pretrained=pretrained,
            backbone_kwargs=backbone_kwargs,
            **(head_kwargs or {}),
        )
        self.val_metrics: MetricCollection | None = None
        self.test_metrics: MetricCollection | None = None
        if not any(isinstance(value, (str, Path)) for value in (many_shot or {}).values()):
            self._make_metrics()  # else in setup(): a config is checked without the many-shot files
        weight = class_weight_vector(class_weights, class_names, num_classes) if class_weights and class_names else None
        self.register_buffer("class_weight", weight, persistent=False)  # without the names: at the first loss
        self.counts = torch.nn.ModuleDict({f"{stage}_{count}": SumMetric() for stage in ("val", "test")
                                           for count in ("clips", "skipped")} | {"train_skipped": SumMetric()})
        self.head_metrics = torch.nn.ModuleDict({f"{stage}_{name}": metric.clone() for stage in ("val", "test")
                                                 for name, metric in self.model.head.metrics().items()})

    def _make_metrics(self) -> None:
        """The held-out metrics; many-shot class files are read into ids, kept in the hyperparameters
        (so a checkpoint evaluates without the annotation files)."""
        hp = self.hparams
        many_shot = {part: read_many_shot(value) if isinstance(value, (str, Path)) else list(value)
                     for part, value in (hp.many_shot or {}).items()}
        hp["many_shot"] = many_shot or None
        metric_set = make_metrics(hp.num_classes, hp.multi_label, hp.metrics, many_shot=many_shot,
                                  action_nouns=hp.action_nouns)
        self.val_metrics = metric_set.clone(prefix="val/").to(self.device)
        self.test_metrics = metric_set.clone(prefix="test/").to(self.device)

    def setup(self, stage: str) -> None:
        if self.val_metrics is None:
            self._make_metrics()

    def forward(self, video: Tensor, **head_inputs: Tensor) -> ModelOutput:
        return self.model(video, **head_inputs)

    def run(self, batch: dict[str, Tensor], **options: Any) -> ModelOutput:
        """The model on a batch: the video, the entries the head reads, and ``options`` as keywords."""
        return self(batch["video"], **self.model.head.inputs(batch), **options)

    def action_loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """The dataset's action criterion: masked sigmoid cross-entropy (multi-label) or softmax
        cross-entropy, weighted per class with ``class_weights``."""
        hp = self.hparams
        if hp.multi_label:
            return masked_bce(logits, labels.float(), hp.pos_weight)
        if hp.class_weights and self.class_weight is None:
            self.class_weight = class_weight_vector(hp.class_weights, hp.class_names, hp.num_classes).to(logits.device)
        return F.cross_entropy(logits, labels, weight=self.class_weight)

    def losses(self, out: ModelOutput, batch: dict[str, Tensor]) -> dict[str, Tensor]:
        """The head's named loss terms, given the action criterion and the feature stride."""
        supervision = Supervision(self.action_loss, self.model.backbone.output_stride)
        return self.model.head.losses(out, batch, supervision)

    def _check_labels(self, batch: dict[str, Tensor]) -> bool:
        """``multi_label``, after checking that the batch's labels are of that kind (a multi-hot
        target would otherwise pass for soft targets of the softmax cross-entropy)."""
        multi_hot, multi_label = batch["label"].ndim > 1, self.hparams.multi_label
        if multi_hot != multi_label:
            kind = "multi-hot vectors" if multi_hot else "class ids (or the split is unlabelled)"
            raise ValueError(f"the data's labels are {kind} but the model has multi_label={multi_label}: "
                             "set model.multi_label to match the data")
        return multi_label

    def _count_skipped(self, batch: dict[str, Tensor], stage: str) -> None:
        counter = self.counts[f"{stage}_skipped"]
        counter.update(batch["skipped"])
        self.log(f"{stage}/skipped", counter, on_step=False, on_epoch=True)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        self._count_skipped(batch, "train")
        if "video" not in batch:  # every clip of the batch was a skipped bad video
            return None
        self._check_labels(batch)
        losses = self.losses(self.run(batch), batch)
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss at step {self.global_step}: {losses}")
        batch_size = len(batch["video"])
        self.log_dict({f"train/loss_{k}": v for k, v in losses.items()}, batch_size=batch_size)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        return loss

    def _evaluate(self, batch: dict[str, Tensor], metrics: MetricCollection, stage: str) -> None:
        self._count_skipped(batch, stage)
        if "video" not in batch:
            return
        clips = self.counts[f"{stage}_clips"]
        clips.update(len(batch["video"]))
        self.log(f"{stage}/clips", clips, on_step=False, on_epoch=True)
        views, out, logits = self.video_logits(batch)
        loss = sum(self.losses(out, views).values())
        multi_label = self._check_labels(batch)
        labels = batch["label"].long() if multi_label else batch["label"]  # multi-hot: int64 with -1 ambiguous
        metrics.update(action_scores(logits["action"], multi_label), labels)
        self.log(f"{stage}/loss", loss, batch_size=len(batch["video"]), sync_dist=True)
        self.log_dict(metrics, prog_bar=stage == "val")
        for name, (predictions, targets) in self.model.head.metric_inputs(out, views).items():
            metric = self.head_metrics[f"{stage}_{name}"]
            metric.update(predictions, targets)
            self.log(f"{stage}/{name}", metric, prog_bar=stage == "val")

    def video_logits(self, batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], ModelOutput, dict[str, Tensor]]:
        """The model on a batch of one view per video (``video`` (B, 3, T, H, W)) or of V views
        (``(B, V, 3, T, H, W)``, module docstring): the batch as the model saw it (folded), its
        output, and per logit key the logits averaged over each video's views ``(B, K)``."""
        if batch["video"].ndim != 6:
            out = self.run(batch)
            return batch, out, dict(out.logits)
        size, count = batch["video"].shape[:2]
        views = {key: rearrange(value, "b v ... -> (b v) ...") if key in VIEW_KEYS
                 else value.repeat_interleave(count, 0) if torch.is_tensor(value) and value.ndim and len(value) == size
                 else value for key, value in batch.items()}
        out = self.run(views)
        return views, out, {key: rearrange(value, "(b v) ... -> b v ...", v=count).mean(1)
                            for key, value in out.logits.items()}

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.val_metrics, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, self.test_metrics, "test")

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> ModelOutput:
        return self.run(batch)

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        if hp.optimizer == "sgd":
            optimizer = torch.optim.SGD(
                self.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay
            )
        else:
            adam = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
            optimizer = adam(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.schedule == "none":
            return {"optimizer": optimizer}
        if hp.schedule == "step":
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, hp.step_size, hp.gamma)
        elif hp.schedule == "multistep":
            scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(hp.milestones), hp.gamma)
        else:
            horizon = self.trainer.estimated_stepping_batches if hp.interval == "step" else self.trainer.max_epochs
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, int(horizon)))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": hp.interval}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep every RNG state, so that a resumed run draws the same dropout masks as an unbroken one."""
        _, keys, position, has_gauss, gauss = np.random.get_state()
        checkpoint["rng_states"] = {  # tensors and plain values only, so weights_only loading works
            "torch": torch.get_rng_state(),
            "numpy": (torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss),
            "python": random.getstate(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get("rng_states")
        if states is not None:
            torch.set_rng_state(states["torch"])
            keys, position, has_gauss, gauss = states["numpy"]
            np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), position, has_gauss, gauss))
            random.setstate(states["python"])
