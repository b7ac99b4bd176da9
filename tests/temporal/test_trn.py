from itertools import combinations
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


def test_eval_sum_is_the_expectation_of_the_training_sum_over_every_draw():
    """Enumerating every draw of 3 tuples (120 at scale 2, 10 at scale 3): their mean sum is eval's."""
    trn = make_trn()
    x = torch.randn(2, 5, 6)
    with torch.no_grad():
        for scale in trn.scales:
            features = trn.tuple_features(x, scale, trn.relation_tuples[scale])
            draws = list(combinations(range(features.shape[1]), min(3, features.shape[1])))
            expected = torch.stack([features[:, list(draw)].sum(dim=1) for draw in draws]).mean(dim=0)
            torch.testing.assert_close(trn.eval().tuple_sum(x, scale), expected)


def test_eval_output_is_the_mean_training_output_when_h_is_linear():
    """Monte Carlo over 2000 seeded draws, within 4 standard errors; a linear h_phi passes the expectation."""
    trn = make_trn(seed=11)
    for scale in trn.scales:
        trn.h_phi[str(scale)] = torch.nn.Linear(16, 4)
    x = torch.randn(2, 5, 6)
    with torch.no_grad():
        outputs = torch.stack([trn.train()(x) for _ in range(2000)])
        evaluated = trn.eval()(x)
    standard_error = outputs.std(dim=0) / 2000**0.5
    assert ((outputs.mean(dim=0) - evaluated).abs() < 4 * standard_error).all()


def test_output_shape():
    assert make_trn()(torch.randn(3, 5, 6)).shape == (3, 4)


def test_evaluation_is_deterministic():
    trn = make_trn().eval()
    x = torch.randn(2, 5, 6)
    assert torch.equal(trn(x), trn(x))


def test_evaluation_sees_every_frame_at_every_scale():
    """TRN-8 at scale 2: frames 4 and 5 were in none of the former fixed pairs (0, 1), (2, 3), (6, 7)."""
    torch.manual_seed(2)
    trn = MultiScaleTRN(6, 4, num_frames=8, bottleneck=16).eval()
    x = torch.randn(1, 8, 6, requires_grad=True)
    for scale in trn.scales:
        (grad,) = torch.autograd.grad(trn.relation(x, scale).sum(), x)
        assert (grad.abs().sum(dim=2) > 0).all(), scale


def test_output_is_the_sum_of_relations_over_scales():
    trn = make_trn().eval()
    x = torch.randn(2, 5, 6)
    relations = [trn.relation(x, scale) for scale in trn.scales]
    assert torch.allclose(trn(x), torch.stack(relations).sum(dim=0), atol=1e-6)


def test_relation_sums_g_over_the_drawn_tuples_inside_h():
    trn = make_trn(seed=4).train()
    x = torch.randn(2, 5, 6)
    tuples = make_trn(seed=4).sample_tuples(2)
    g, h = trn.g_theta["2"], trn.h_phi["2"]
    expected = h(sum(g(torch.cat([x[:, i], x[:, j]], dim=1)) for i, j in tuples))
    assert torch.allclose(trn.relation(x, 2), expected, atol=1e-6)
    assert trn.sample_tuples(5) == [(0, 1, 2, 3, 4)]


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
