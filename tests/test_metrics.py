"""actattn.metrics: each dataset's metrics on toy inputs whose values are known by hand."""
from __future__ import annotations

import pytest
import torch

from actattn.metrics import SubsetClassAccuracy, make_metrics, read_many_shot


def _values(metrics) -> dict[str, float]:
    return {name: float(value) for name, value in metrics.compute().items()}


def test_many_shot_class_accuracy_averages_the_many_shot_classes_that_occur() -> None:
    metric = SubsetClassAccuracy(4, [0, 1, 3])
    preds = torch.eye(4)[[0, 0, 1, 2, 2, 3]]  # predicted 0, 0, 1, 2, 2, 3
    metric.update(preds, torch.tensor([0, 1, 1, 2, 3, 1]))  # class 0: 1/1, class 1: 1/3, class 3: 0/1 (2 not many-shot)
    assert float(metric.compute()) == pytest.approx((1 + 1 / 3 + 0) / 3)
    absent = SubsetClassAccuracy(4, [3])
    absent.update(preds[:1], torch.tensor([0]))
    assert torch.isnan(absent.compute())


def test_epic_action_metrics_derive_verb_and_noun_from_the_action_marginals() -> None:
    verbs, nouns = 3, 2  # action = verb * 2 + noun
    metrics = make_metrics(verbs * nouns, False, "epic", many_shot={"classes": [0, 5], "verb": [1], "noun": [0]},
                           action_nouns=nouns)
    probs = torch.tensor([[0.1, 0.0, 0.5, 0.0, 0.0, 0.4],   # action 2 (verb 1, noun 0); verb marginals .1 .5 .4
                          [0.0, 0.3, 0.0, 0.3, 0.4, 0.0]])  # action 4 (verb 2, noun 0); nouns: 0.4 vs 0.6 -> noun 1
    metrics.update(probs, torch.tensor([2, 3]))  # targets: (verb 1, noun 0) and (verb 1, noun 1)
    values = _values(metrics)
    assert values["top1"] == 0.5 and values["top5"] == 1.0
    assert values["verb_top1"] == 0.5  # video 1: verb 1 right; video 2: marginals .3 .3 .4 -> 2, wrong
    assert values["noun_top1"] == 1.0  # video 1: noun .6 vs .4 -> 0 right; video 2: .4 vs .6 -> 1 right
    assert values["verb_many_shot_mean_class_accuracy"] == 0.5 and values["noun_many_shot_mean_class_accuracy"] == 1.0
    assert torch.isnan(torch.tensor(values["many_shot_mean_class_accuracy"]))  # actions 0, 5 absent
    assert {"mean_class_accuracy", "verb_top5", "noun_top5"} <= set(values)


def test_metric_kinds_per_dataset() -> None:
    assert set(make_metrics(5, True, "mAP")) == {"mAP"}
    assert set(make_metrics(5, False, "mAP")) == {"top1", "mAP"}  # MPII
    hacs = make_metrics(3, False, "mean_class_accuracy")
    hacs.update(torch.eye(3)[[0, 0, 0, 1]], torch.tensor([0, 0, 0, 2]))
    assert _values(hacs) == {"top1": 0.75, "mean_class_accuracy": pytest.approx(0.5)}  # (1 + 0) / 2 classes present
    assert set(make_metrics(4, False)) == {"top1", "top5", "mean_class_accuracy", "mAP"}
    with pytest.raises(ValueError, match="metrics must be one of"):
        make_metrics(4, False, "accuracy@1")
    with pytest.raises(ValueError, match="set metrics: epic"):
        make_metrics(4, False, many_shot={"classes": [0]})
    with pytest.raises(ValueError, match="action_nouns 3 does not divide the 4 action classes"):
        make_metrics(4, False, "epic", action_nouns=3)


def test_read_many_shot(tmp_path) -> None:
    path = tmp_path / "EPIC_many_shot_verbs.csv"
    path.write_text("verb_class,verb\r\n1,put\r\n0,take\r\n")
    assert read_many_shot(path) == [0, 1]
    path.write_text("verb_class,verb\n1,put\nx,take\n")
    with pytest.raises(ValueError, match=r"EPIC_many_shot_verbs.csv, line 3: class id 'x'"):
        read_many_shot(path)


def test_the_real_many_shot_files(annotations_dir) -> None:
    verbs = read_many_shot(annotations_dir / "epic-kitchens-55" / "EPIC_many_shot_verbs.csv")
    nouns = read_many_shot(annotations_dir / "epic-kitchens-55" / "EPIC_many_shot_nouns.csv")
    assert len(verbs) == 26 and len(nouns) == 71 and verbs[:3] == [0, 1, 2]


@pytest.fixture
def annotations_dir():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "shared" / "annotations"
    if not (root / "README.md").is_file():
        pytest.skip(f"the shared annotation excerpts are not at {root}")
    return root
