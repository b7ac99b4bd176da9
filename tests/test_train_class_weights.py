"""actattn.train: per-class weights of the softmax cross-entropy by class name (the ActX supplement's
HACS-30 loss: 0.01 for the negative class, 1 for the actions)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from actattn.train import ActionRecognizer, class_weight_vector

NAMES = ["Archery", "Ironing clothes", "Negative"]


def recognizer(**kwargs) -> ActionRecognizer:
    return ActionRecognizer("average_pooling", 3, backbone="small_cnn", **kwargs)


def test_the_weighted_loss_is_torchs_weighted_cross_entropy() -> None:
    module = recognizer(class_names=NAMES, class_weights={"Negative": 0.01})
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 2, 2, 1, 2, 0])
    weight = torch.tensor([1.0, 1.0, 0.01])
    torch.testing.assert_close(module.action_loss(logits, labels), F.cross_entropy(logits, labels, weight=weight))
    assert not torch.allclose(module.action_loss(logits, labels), F.cross_entropy(logits, labels))
    assert "class_weight" not in module.state_dict()  # rebuilt from the hyperparameters, not stored
    plain = recognizer(class_names=NAMES)
    torch.testing.assert_close(plain.action_loss(logits, labels), F.cross_entropy(logits, labels))


def test_weights_without_class_names_are_resolved_at_the_first_loss_or_refused() -> None:
    module = recognizer(class_weights={"Negative": 0.01})  # a config checked without its data: fine
    with pytest.raises(ValueError, match="are by class name: they need the 3 class names"):
        module.action_loss(torch.zeros(1, 3), torch.tensor([0]))
    module.hparams.class_names = NAMES
    uniform = module.action_loss(torch.zeros(2, 3), torch.tensor([0, 2]))
    torch.testing.assert_close(uniform, torch.log(torch.tensor(3.0)))  # equal logits: log K whatever the weights


def test_an_unknown_class_name_is_an_error_naming_the_closest() -> None:
    with pytest.raises(ValueError, match="class_weights: unknown class 'negative'; did you mean 'Negative'"):
        recognizer(class_names=NAMES, class_weights={"negative": 0.01})
    with pytest.raises(ValueError, match="unknown class 'Zz'; the classes: "):
        class_weight_vector({"Zz": 1.0}, NAMES, 3)
    with pytest.raises(ValueError, match=r"class_weights\['Negative'\] must be >= 0"):
        class_weight_vector({"Negative": -1.0}, NAMES, 3)
    with pytest.raises(ValueError, match="single-label"):
        recognizer(class_names=NAMES, class_weights={"Negative": 0.01}, multi_label=True)
    assert class_weight_vector({"Archery": 2.0}, NAMES, 3).tolist() == [2.0, 1.0, 1.0]
