from math import comb

import pytest
import torch

from actattn.temporal import MultiScaleTRN


def make_trn(seed: int = 0) -> MultiScaleTRN:
    torch.manual_seed(1)
    return MultiScaleTRN(6, 4, num_frames=5, bottleneck=16, seed=seed)


def test_tuples_are_ordered_without_repeats_per_scale():
    trn = make_trn()
    assert trn.scales == [2, 3, 4, 5]
    for scale, tuples in trn.relation_tuples.items():
        assert len(tuples) == len(set(tuples)) == comb(5, scale)
        assert all(len(t) == scale and list(t) == sorted(set(t)) for t in tuples)
    assert trn.relation_tuples[5] == [(0, 1, 2, 3, 4)]


def test_eval_tuples_are_an_evenly_spaced_fixed_subset():
    trn = make_trn().eval()
    pairs = trn.relation_tuples[2]
    assert trn.eval_tuples(2) == [pairs[0], pairs[4], pairs[9]]
    assert trn.sample_tuples(2) == trn.sample_tuples(2) == trn.eval_tuples(2)
    assert trn.sample_tuples(5) == [(0, 1, 2, 3, 4)]


def test_output_shape():
    assert make_trn()(torch.randn(3, 5, 6)).shape == (3, 4)


def test_evaluation_is_deterministic():
    trn = make_trn().eval()
    x = torch.randn(2, 5, 6)
    assert torch.equal(trn(x), trn(x))


def test_output_is_the_sum_of_relations_over_scales():
    trn = make_trn().eval()
    x = torch.randn(2, 5, 6)
    relations = [trn.relation(x, scale, trn.eval_tuples(scale)) for scale in trn.scales]
    assert torch.allclose(trn(x), torch.stack(relations).sum(dim=0), atol=1e-6)


def test_relation_sums_g_over_tuples_inside_h():
    trn = make_trn()
    x = torch.randn(2, 5, 6)
    tuples = [(0, 2), (1, 4)]
    g, h = trn.g_theta["2"], trn.h_phi["2"]
    expected = h(g(torch.cat([x[:, 0], x[:, 2]], dim=1)) + g(torch.cat([x[:, 1], x[:, 4]], dim=1)))
    assert torch.allclose(trn.relation(x, 2, tuples), expected, atol=1e-6)


def test_training_sampling_is_reproducible_and_varies_per_step():
    first, second, other = make_trn(seed=7).train(), make_trn(seed=7).train(), make_trn(seed=8).train()
    draws = [first.sample_tuples(2) for _ in range(6)]
    assert draws == [second.sample_tuples(2) for _ in range(6)]
    assert draws != [other.sample_tuples(2) for _ in range(6)]
    assert len({tuple(draw) for draw in draws}) > 1
    assert all(len(draw) == 3 and draw == sorted(set(draw)) for draw in draws)


def test_training_outputs_repeat_with_the_same_seed():
    first, second = make_trn(seed=3).train(), make_trn(seed=3).train()
    x = torch.randn(2, 5, 6)
    assert torch.equal(first(x), second(x))
    assert torch.equal(first(x), second(x))


def test_a_reloaded_state_dict_goes_on_with_the_same_tuples():
    unbroken, resumed = make_trn(seed=5).train(), make_trn(seed=9).train()
    for _ in range(4):
        unbroken.sample_tuples(3)
    resumed.load_state_dict(unbroken.state_dict())
    assert [unbroken.sample_tuples(3) for _ in range(5)] == [resumed.sample_tuples(3) for _ in range(5)]


def test_wrong_number_of_frames_is_rejected():
    with pytest.raises(ValueError, match=r"expected \(B, 5, D\)"):
        make_trn()(torch.randn(2, 4, 6))
