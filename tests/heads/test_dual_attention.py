"""Dual Attention Network (Xiao et al., ICCV 2019): the paper's properties on tiny inputs."""
from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
import torch

from actattn.heads.dual_attention import DualAttention, dual_attention_loss
from actattn.output import ModelOutput

B, T, C, H, W = 2, 4, 6, 3, 4
KA, KO = 5, 4  # actions; objects including the null label
ATTENTION_MODES = ("self", "dual", "gt_priors")


def make_head(mode: str = "dual", **kwargs: object) -> DualAttention:
    """A small float64 head in eval mode (no dropout)."""
    torch.manual_seed(0)
    head = DualAttention(C, KA, KO, mode=mode, num_frames=T, embed_dim=8, prior_hidden=8, trn_bottleneck=8, **kwargs)
    return head.double().eval()


def make_feats(seed: int = 1) -> torch.Tensor:
    return torch.randn(B, T, C, H, W, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def labels(
    actions: Sequence[int] = (1, 3), objects: Sequence[Sequence[int]] = ((2, 0), (1, 3))
) -> dict[str, torch.Tensor]:
    """The keywords of a "gt_priors" forward: action_labels (B,), object_labels (B, 2)."""
    return {"action_labels": torch.tensor(actions), "object_labels": torch.tensor(objects)}


def run(head: DualAttention, feats: torch.Tensor, **kwargs: torch.Tensor) -> ModelOutput:
    if head.mode == "gt_priors" and not kwargs:
        kwargs = labels()
    return head(feats, **kwargs)


@pytest.mark.parametrize("temporal", ["tsn", "trn"])
@pytest.mark.parametrize("mode", ATTENTION_MODES)
def test_shapes_and_each_map_sums_to_one_per_frame(mode: str, temporal: str) -> None:
    out = run(make_head(mode, temporal=temporal), make_feats())
    expected = {"action": (B, KA), "object": (B, KO), "object_2": (B, KO)}
    if mode == "dual":
        expected.update({"action_first": (B, KA), "object_first": (B, KO), "object_2_first": (B, KO)})
    assert {key: tuple(value.shape) for key, value in out.logits.items()} == expected
    assert set(out.attention) == {"action", "object"}
    for attention in out.attention.values():
        assert attention.shape == (B, T, H, W)
        assert (attention >= 0).all()
        torch.testing.assert_close(attention.sum(dim=(-2, -1)), torch.ones(B, T, dtype=torch.float64))
        assert attention.std(dim=(-2, -1)).min() > 1e-4  # not uniform: the softmax really varies
    assert not torch.allclose(out.attention["action"], out.attention["object"])


def test_second_step_reads_the_attended_features() -> None:
    head = make_head("dual")
    feats = make_feats()
    out = head(feats)
    attended_action = torch.einsum("bthw,btchw->btc", out.attention["action"], feats)  # eq. 10
    attended_object = torch.einsum("bthw,btchw->btc", out.attention["object"], feats)  # eq. 11
    torch.testing.assert_close(out.logits["action"], head.action_head(attended_action))
    objects = head.object_head(attended_object)
    torch.testing.assert_close(torch.cat([out.logits["object"], out.logits["object_2"]], dim=1), objects)
    averaged = feats.mean(dim=(-2, -1))  # eq. 1
    torch.testing.assert_close(out.logits["action_first"], head.action_head_first(averaged))


def test_object_prior_steers_action_attention_and_action_prior_steers_object_attention() -> None:
    head = make_head("gt_priors")
    feats = make_feats()
    base = head(feats, **labels())
    other_objects = head(feats, **labels(objects=[[3, 1], [0, 2]]))
    other_action = head(feats, **labels(actions=[4, 0]))
    assert not torch.allclose(other_objects.attention["action"], base.attention["action"])  # eq. 6: W_ota h^o
    torch.testing.assert_close(other_objects.attention["object"], base.attention["object"])
    assert not torch.allclose(other_action.attention["object"], base.attention["object"])  # eq. 7: W_ato h^a
    torch.testing.assert_close(other_action.attention["action"], base.attention["action"])


def test_zero_priors_reduce_dual_attention_to_self_attention() -> None:
    self_head, dual = make_head("self"), make_head("dual")
    result = dual.load_state_dict(self_head.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert {key.split(".")[0] for key in result.missing_keys} == {
        "action_head_first", "object_head_first", "action_prior", "object_prior", "attention"
    }
    assert {key for key in result.missing_keys if key.startswith("attention")} == {
        "attention.object_to_action.weight", "attention.action_to_object.weight"
    }
    feats = make_feats()
    reference = self_head(feats)
    assert not torch.allclose(dual(feats).attention["action"], reference.attention["action"])
    with torch.no_grad():
        for mlp in (dual.action_prior, dual.object_prior):
            mlp[2].weight.zero_()
            mlp[2].bias.zero_()
    out = dual(feats)
    for name in ("action", "object"):
        torch.testing.assert_close(out.attention[name], reference.attention[name])
    for task in ("action", "object", "object_2"):
        torch.testing.assert_close(out.logits[task], reference.logits[task])


@pytest.mark.parametrize("temporal", ["tsn", "trn"])
def test_first_and_second_step_heads_share_no_parameters(temporal: str) -> None:
    head = make_head("dual", temporal=temporal)
    first = [*head.action_head_first.parameters(), *head.object_head_first.parameters()]
    second = [*head.action_head.parameters(), *head.object_head.parameters()]
    assert first and len(first) == len(second)
    assert not {id(p) for p in first} & {id(p) for p in second}

    def spans(params: list[torch.Tensor]) -> list[tuple[int, int]]:
        return [(p.data_ptr(), p.data_ptr() + p.numel() * p.element_size()) for p in params]

    for start, end in spans(first):
        assert all(end <= other_start or other_end <= start for other_start, other_end in spans(second))


def test_priors_are_not_detached() -> None:
    head = make_head("dual")
    loss = head(make_feats()).logits["action"].sum()  # the second step only
    loss.backward()
    assert head.object_head_first[1].weight.grad.abs().sum() > 0  # reached through h^o and alpha


def test_priors_encode_the_first_step_softmax_or_the_one_hot_labels() -> None:
    feats = make_feats()
    logits = {"action_first": torch.randn(B, KA, dtype=torch.float64),
              "object_first": torch.randn(B, KO, dtype=torch.float64),
              "object_2_first": torch.randn(B, KO, dtype=torch.float64)}
    dual = make_head("dual")
    h_a, h_o = dual.priors(logits, None, None, feats)
    p_o = torch.cat([logits["object_first"].softmax(-1), logits["object_2_first"].softmax(-1)], dim=-1)
    torch.testing.assert_close(h_a, dual.action_prior(logits["action_first"].softmax(-1)))
    torch.testing.assert_close(h_o, dual.object_prior(p_o))
    gt = make_head("gt_priors")
    h_a, h_o = gt.priors(logits, **labels(), feats=feats)
    one_hot_o = torch.zeros(B, 2 * KO, dtype=torch.float64)
    one_hot_o[[0, 0, 1, 1], [2, KO + 0, 1, KO + 3]] = 1
    torch.testing.assert_close(h_a, gt.action_prior(torch.eye(KA, dtype=torch.float64)[[1, 3]]))
    torch.testing.assert_close(h_o, gt.object_prior(one_hot_o))
    assert make_head("self").priors(logits, None, None, feats) == (None, None)


def test_baseline_and_multitask_have_no_attention() -> None:
    feats = make_feats()
    baseline, multitask = make_head("baseline"), make_head("multitask")
    out = baseline(feats)
    assert set(out.logits) == {"action"} and out.attention == {}
    torch.testing.assert_close(out.logits["action"], baseline.action_head(feats.mean(dim=(-2, -1))))  # eq. 1, 5
    assert baseline.object_head is None and baseline.attention is None
    out = multitask(feats)
    assert set(out.logits) == {"action", "object", "object_2"} and out.attention == {}
    assert multitask.attention is None and multitask.action_head_first is None


def test_gt_priors_depend_on_the_labels_and_require_them() -> None:
    head = make_head("gt_priors")
    feats = make_feats()
    first, second = head(feats, **labels()), head(feats, **labels(actions=[0, 0], objects=[[1, 1], [2, 0]]))
    assert not torch.allclose(first.logits["action"], second.logits["action"])
    assert not torch.allclose(first.logits["object"], second.logits["object"])
    assert "action_first" not in first.logits
    with pytest.raises(ValueError, match="gt_priors.*action_labels"):
        head(feats)
    with pytest.raises(ValueError, match=r"object_labels \(2, 2\), got \(2,\) and \(2,\)"):
        head(feats, action_labels=torch.tensor([0, 1]), object_labels=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"object_labels must lie in \[0, 4\)"):
        head(feats, **labels(objects=[[0, 4], [1, 1]]))


def test_trn_is_deterministic_in_eval_and_checks_num_frames() -> None:
    head = make_head("dual", temporal="trn")
    feats = make_feats()
    first, second = head(feats), head(feats)
    for key in first.logits:
        torch.testing.assert_close(first.logits[key], second.logits[key], rtol=0, atol=0)
    with pytest.raises(ValueError, match="num_frames = 4"):
        head(feats[:, :3])


def test_constructor_and_input_errors() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        DualAttention(C, KA, KO, mode="co")
    with pytest.raises(ValueError, match="temporal must be one of"):
        DualAttention(C, KA, KO, temporal="lstm")
    with pytest.raises(ValueError, match="null label"):
        DualAttention(C, KA, 1)
    with pytest.raises(ValueError, match=r"expected feats \(B, T, 6, H, W\)"):
        make_head()(torch.zeros(B, T, C + 1, H, W, dtype=torch.float64))


def cross_entropy(row: list[float], target: int) -> float:
    return -(row[target] - math.log(sum(math.exp(v) for v in row)))


def test_loss_is_a_sum_of_cross_entropies_per_step_and_task() -> None:
    logits = {
        "action": [[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]],
        "object": [[0.0, 1.0], [3.0, -1.0]],
        "object_2": [[2.0, 0.0], [0.0, 0.5]],
        "action_first": [[0.0, 0.0, 1.0], [-2.0, 1.0, 1.0]],
        "object_first": [[1.0, 1.5], [0.0, 0.0]],
        "object_2_first": [[-1.0, 1.0], [4.0, 0.0]],
    }
    out = ModelOutput(logits={key: torch.tensor(value) for key, value in logits.items()})
    action_labels, object_labels = torch.tensor([2, 1]), torch.tensor([[1, 0], [0, 1]])
    targets = {"action": [2, 1], "object": [1, 0], "object_2": [0, 1]}
    losses = dual_attention_loss(out, action_labels, object_labels)
    assert set(losses) == set(logits)
    for key, rows in logits.items():
        target = targets[key.removesuffix("_first")]
        expected = sum(cross_entropy(row, t) for row, t in zip(rows, target)) / 2  # batch mean, weight 1
        assert losses[key].item() == pytest.approx(expected, rel=1e-6), key
    baseline = dual_attention_loss(ModelOutput(logits={"action": out.logits["action"]}), action_labels, None)
    assert set(baseline) == {"action"}
    with pytest.raises(ValueError, match=r"object_labels \(B, 2\)"):
        dual_attention_loss(out, action_labels, None)


@pytest.mark.parametrize("temporal", ["tsn", "trn"])
@pytest.mark.parametrize("mode", ["baseline", "multitask", *ATTENTION_MODES])
def test_the_loss_trains_every_parameter(mode: str, temporal: str) -> None:
    head = make_head(mode, temporal=temporal).train()
    given = labels()
    out = run(head, make_feats(), **given)
    losses = dual_attention_loss(out, given["action_labels"], given["object_labels"])
    sum(losses.values()).backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
