"""The held-out action metrics each dataset reports, from torchmetrics (:func:`make_metrics`).

Kinds (``metrics`` of :class:`~actattn.train.ActionRecognizer`):
- ``"default"``: top-1, top-5, mean class accuracy and mAP (single-label); mAP (multi-label);
- ``"mAP"``: mAP (VLOG, Charades, HICO; MPII, single-label, also top-1);
- ``"mean_class_accuracy"``: mean class accuracy and top-1;
- ``"epic"``: EPIC-KITCHENS' top-1, top-5, mean class accuracy, and the mean class accuracy over
  the many-shot classes (``many_shot["classes"]``: ``EPIC_many_shot_verbs.csv`` for a verb model,
  ``..._nouns.csv`` for a noun model). A model of EPIC's ``action`` task (``action = verb *
  action_nouns + noun``, as the readers number them) also reports ``verb_*`` and ``noun_*``
  top-1/top-5 (and many-shot with ``many_shot["verb"]``/``["noun"]``) of the verb and noun
  marginals of its action probabilities.

Every metric takes probabilities, never logits: torchmetrics decides per ``update()`` whether its
inputs are logits (any value outside [0, 1]), so logits made the result depend on how the data
were split into batches. Multi-label targets are int64 with -1 for an ambiguous entry, which the
mAP ignores (``ignore_index=-1``). Classes without positives (torchmetrics 1.9): in the
multi-label mAP such a label has AP 0 (its recall is set to 1, with a warning) and still counts in
the mean, so a split where some labels have no positive reports less than the mean over the
labels present; in the single-label mAP such a class's AP is NaN and it is left out of the mean
(with a warning). Mean class accuracy: ``"epic"`` and ``"mean_class_accuracy"`` average the
recall of the classes that occur in the targets (:class:`SubsetClassAccuracy`; the many-shot one
those of the many-shot classes); ``"default"`` keeps torchmetrics' macro accuracy, which also
counts a class that was predicted but never occurs, as 0 (the same on a split where every class
occurs).
"""
from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassAveragePrecision, MultilabelAveragePrecision

METRICS = ("default", "mAP", "mean_class_accuracy", "epic")


def read_many_shot(path: str | Path) -> list[int]:
    """The class ids of ``EPIC_many_shot_verbs.csv`` / ``_nouns.csv`` (``verb_class,verb`` rows)."""
    path = Path(path)
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        if not header or header[0].strip() not in ("verb_class", "noun_class", "action_class", "class"):
            raise ValueError(f"{path}, line 1: expected a many-shot header verb_class/noun_class,..., got {header!r}")
        ids = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if not row[0].strip().isdigit():
                raise ValueError(f"{path}, line {reader.line_num}: class id {row[0]!r} is not an integer")
            ids.append(int(row[0]))
    return sorted(set(ids))


class SubsetClassAccuracy(Metric):
    """Mean over ``classes`` (those that occur) of each class's accuracy (recall): EPIC's many-shot
    class accuracy. Takes ``(N, K)`` probabilities and ``(N,)`` class ids."""

    full_state_update = False

    def __init__(self, num_classes: int, classes: Sequence[int]):
        super().__init__()
        if not classes or not all(0 <= c < num_classes for c in classes):
            raise ValueError(f"the many-shot classes must be ids in 0..{num_classes - 1}, got {list(classes)[:5]}...")
        self.register_buffer("classes", torch.tensor(sorted(set(classes)), dtype=torch.long), persistent=False)
        self.num_classes = num_classes
        self.add_state("correct", torch.zeros(num_classes), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros(num_classes), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        hit = (preds.argmax(-1) == target).float()
        self.correct += torch.bincount(target, hit, minlength=self.num_classes)[: self.num_classes]
        self.total += torch.bincount(target, minlength=self.num_classes)[: self.num_classes].float()

    def compute(self) -> Tensor:
        total, correct = self.total[self.classes], self.correct[self.classes]
        present = total > 0
        if not present.any():
            return torch.tensor(float("nan"), device=total.device)
        return (correct[present] / total[present]).mean()


class Marginal(Metric):
    """``metric`` on the verb or noun marginal of EPIC action probabilities ``(N, V * nouns)``
    (``part`` "verb": summed over nouns, target ``action // nouns``; "noun": over verbs, ``action % nouns``)."""

    full_state_update = False

    def __init__(self, metric: Metric, nouns: int, part: str):
        super().__init__()
        if part not in ("verb", "noun"):
            raise ValueError(f"part must be 'verb' or 'noun', got {part!r}")
        self.metric, self.nouns, self.part = metric, nouns, part

    def update(self, preds: Tensor, target: Tensor) -> None:
        pairs = preds.unflatten(-1, (-1, self.nouns))
        if self.part == "verb":
            self.metric.update(pairs.sum(-1), torch.div(target, self.nouns, rounding_mode="floor"))
        else:
            self.metric.update(pairs.sum(-2), target % self.nouns)

    def compute(self) -> Tensor:
        return self.metric.compute()

    def reset(self) -> None:
        self.metric.reset()
        super().reset()


def _accuracies(num_classes: int, prefix: str = "", many_shot: Sequence[int] | None = None,
                mean_class: bool = True) -> dict[str, Metric]:
    metrics: dict[str, Metric] = {
        f"{prefix}top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
        f"{prefix}top5": MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro"),
    }
    if mean_class:
        metrics[f"{prefix}mean_class_accuracy"] = SubsetClassAccuracy(num_classes, range(num_classes))
    if many_shot:
        metrics[f"{prefix}many_shot_mean_class_accuracy"] = SubsetClassAccuracy(num_classes, many_shot)
    return metrics


def make_metrics(num_classes: int, multi_label: bool, kind: str = "default", *,
                 many_shot: Mapping[str, Sequence[int]] | None = None,
                 action_nouns: int | None = None) -> MetricCollection:
    """The held-out action metrics of ``kind`` (module docstring) over ``num_classes`` classes."""
    if kind not in METRICS:
        raise ValueError(f"metrics must be one of {METRICS}, got {kind!r}")
    if multi_label:
        if kind not in ("default", "mAP"):
            raise ValueError(f"metrics {kind!r} is for single-label sets; a multi-label set reports mAP")
        return MetricCollection({"mAP": MultilabelAveragePrecision(num_labels=num_classes, ignore_index=-1)})
    many_shot = dict(many_shot or {})
    if kind != "epic" and (many_shot or action_nouns):
        raise ValueError("many_shot and action_nouns are EPIC-KITCHENS' metrics: set metrics: epic")
    metrics: dict[str, Metric]
    if kind == "default":
        metrics = {**_accuracies(num_classes, mean_class=False),
                   "mean_class_accuracy": MulticlassAccuracy(num_classes, average="macro"),
                   "mAP": MulticlassAveragePrecision(num_classes, average="macro")}
    elif kind == "mAP":
        metrics = {"top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
                   "mAP": MulticlassAveragePrecision(num_classes, average="macro")}
    elif kind == "mean_class_accuracy":
        metrics = {"top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
                   "mean_class_accuracy": SubsetClassAccuracy(num_classes, range(num_classes))}
    else:
        metrics = _accuracies(num_classes, many_shot=many_shot.get("classes"))
        if action_nouns:
            if num_classes % action_nouns:
                raise ValueError(f"action_nouns {action_nouns} does not divide the {num_classes} action classes")
            for part, size in (("verb", num_classes // action_nouns), ("noun", action_nouns)):
                for name, metric in _accuracies(size, f"{part}_", many_shot.get(part), mean_class=False).items():
                    metrics[name] = Marginal(metric, action_nouns, part)
        elif set(many_shot) - {"classes"}:
            raise ValueError("many_shot verb/noun need action_nouns (a model of EPIC's action task)")
    # no compute groups: torchmetrics merges metrics whose states agree after the first batch, and
    # top-5 then reported top-1 (or mean class accuracy) whenever the first batch had no top-1 error
    return MetricCollection(metrics, compute_groups=False)


def action_scores(logits: Tensor, multi_label: bool) -> Tensor:
    """Class probabilities for the metrics: sigmoid per label (multi-label) or softmax over classes."""
    return logits.sigmoid() if multi_label else logits.softmax(dim=-1)
