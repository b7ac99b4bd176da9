"""Attentive Action and Context Factorization (Wang et al., BMVC 2021): the paper's properties on
tiny inputs."""
from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from actattn.heads.action_context import (
    ActionContextFactorization,
    att_norm,
    conjugate_losses,
    percent,
    pooled_conjugate_losses,
)
from actattn.heads.base import Supervision
from actattn.models import ActionModel
from actattn.output import ModelOutput

B, T, C, H, W, K = 2, 4, 16, 3, 5, 5
N = T * H * W
ATTENTION = ("full", "no_att", "acf")
SUPERVISION = Supervision(action_loss=F.cross_entropy, feature_stride=32)


def make_head(attention: str = "full", **kwargs: object) -> ActionContextFactorization:
    """A small float64 head with random (not zero) theta weights."""
    torch.manual_seed(0)
    head = ActionContextFactorization(C, K, attention=attention, **kwargs).double()
    with torch.no_grad():
        for theta in (head.theta, head.theta_context):
            if theta is not None:
                theta.conv.weight.normal_(std=0.1)
    return head


def make_feats(*shape: int, seed: int = 1) -> Tensor:
    """Non-negative features, as after a backbone's ReLU; (B, T, C, H, W) by default."""
    shape = shape or (B, T, C, H, W)
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).relu()


def batch(conjugate: bool = True) -> dict[str, Tensor]:
    out = {"label": torch.tensor([1, 3])}
    if conjugate:
        out["conjugate"] = make_feats(B, 6, C, 2, 7, seed=2)
    return out


def run_losses(head: ActionContextFactorization, feats: Tensor, conjugate: Tensor | None) -> dict[str, Tensor]:
    out = head(feats, conjugate_feats=conjugate)
    return head.losses(out, {"label": torch.tensor([1, 3])}, SUPERVISION)


# ---- the head's contract and shapes -------------------------------------------------------------

def test_contract() -> None:
    head = make_head()
    assert head.optional_reads == {"conjugate_feats": "conjugate"}
    assert head.encodes == {"conjugate_feats"}
    assert head.makes_maps and head.num_frames is None and head.reads == {}
    assert set(head.inputs(batch())) == {"conjugate_feats"}
    assert head.inputs(batch(conjugate=False)) == {}
    assert not make_head("acf").makes_maps


@pytest.mark.parametrize("conjugate", [False, True])
@pytest.mark.parametrize("attention", ATTENTION)
def test_shapes_of_every_output(attention: str, conjugate: bool) -> None:
    conj = batch()["conjugate"] if conjugate else None
    out = make_head(attention)(make_feats(), conjugate_feats=conj)
    assert {k: tuple(v.shape) for k, v in out.logits.items()} == {"action": (B, K)}
    maps = {"action": (B, T, H, W), "context": (B, T, H, W)} if attention != "acf" else {}
    assert {k: tuple(v.shape) for k, v in out.attention.items()} == maps
    aux = {"full": {"s_act": (B, T, H, W), "s_att": (B, T, H, W)}, "no_att": {"s_act": (B, T, H, W)},
           "acf": {"action_feature": (B, C), "context_feature": (B, C)}}[attention]
    if conjugate:
        aux |= ({"conjugate_action_feature": (B, C), "conjugate_context_feature": (B, C)} if attention == "acf"
                else {"feats": (B, T, C, H, W), "conjugate_feats": tuple(conj.shape)})
    assert {k: tuple(v.shape) for k, v in out.aux.items()} == aux


def test_the_conjugate_changes_neither_logits_nor_maps() -> None:
    head = make_head()
    with_conj, without = head(make_feats(), conjugate_feats=batch()["conjugate"]), head(make_feats())
    torch.testing.assert_close(with_conj.logits, without.logits, rtol=0, atol=0)
    torch.testing.assert_close(with_conj.attention, without.attention, rtol=0, atol=0)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="attention"):
        ActionContextFactorization(C, K, attention="max")
    with pytest.raises(ValueError, match="rho"):
        ActionContextFactorization(C, K, rho=120.0)
    with pytest.raises(ValueError, match="one conjugate per sample"):
        make_head()(make_feats(), conjugate_feats=make_feats(1, T, C, H, W))
    with pytest.raises(ValueError, match="expected feats"):
        make_head()(make_feats(B, T, C + 1, H, W))


# ---- eq. 5 and eq. 6 ----------------------------------------------------------------------------

def test_eq5_exactly() -> None:
    out = make_head()(make_feats())
    s_act, s_att = out.aux["s_act"], out.aux["s_att"]
    assert torch.equal(out.attention["action"], s_act * s_att)  # S = S^act * S^att
    assert torch.equal(out.attention["context"], 1 - s_act)  # C = 1 - S^act
    no_att = make_head("no_att")(make_feats())
    assert torch.equal(no_att.attention["action"], no_att.aux["s_act"])  # w/o S^att: S = S^act
    assert torch.equal(no_att.attention["context"], 1 - no_att.aux["s_act"])


def test_maps_ranges_and_s_att_sums_to_one_per_clip() -> None:
    out = make_head()(make_feats())
    torch.testing.assert_close(out.aux["s_att"].sum(dim=(1, 2, 3)), torch.ones(B, dtype=torch.float64))
    for name in ("action", "context"):
        assert ((out.attention[name] >= 0) & (out.attention[name] <= 1)).all()
    assert (out.attention["action"].sum(dim=(1, 2, 3)) < 1).all()
    assert out.aux["s_att"].std() > 1e-4  # beta = 1 does not flatten it


def test_alpha_zero_gives_one_half_everywhere() -> None:
    out = make_head(alpha=0.0)(make_feats())
    assert torch.equal(out.aux["s_act"], torch.full((B, T, H, W), 0.5, dtype=torch.float64))
    assert torch.equal(out.attention["context"], torch.full((B, T, H, W), 0.5, dtype=torch.float64))


def test_beta_zero_gives_uniform_attention_and_average_pooling() -> None:
    head, feats = make_head(beta=0.0), make_feats()
    out = head(feats)
    uniform = torch.full((B, T, H, W), 1 / N, dtype=torch.float64)
    torch.testing.assert_close(out.aux["s_att"], uniform, rtol=0, atol=1e-15)
    # with alpha = 0 too, S and C are uniform: both F_s and F_c are the average-pooled theta(F)
    out = make_head(alpha=0.0, beta=0.0)(feats)
    pooled = head.theta(rearrange(feats, "b t c h w -> b c t h w")).mean(dim=(2, 3, 4))
    torch.testing.assert_close(out.logits["action"], head.classifier(torch.cat([pooled, pooled], dim=1)))


def test_att_norm_standardises_each_clip() -> None:
    x = att_norm(5 + 3 * torch.randn(B, N, dtype=torch.float64))
    torch.testing.assert_close(x.mean(dim=1), torch.zeros(B, dtype=torch.float64))
    torch.testing.assert_close(x.std(dim=1, correction=0), torch.ones(B, dtype=torch.float64), rtol=1e-5, atol=0)
    assert torch.isfinite(att_norm(torch.ones(B, 1))).all()  # a constant (one-position) map


@pytest.mark.parametrize("n", [10, 60, 77])
@pytest.mark.parametrize("rho", [0.0, 10.0, 30.0, 50.0, 100.0])
def test_percent_keeps_rho_percent_positive(rho: float, n: int) -> None:
    x = percent(torch.randn(3, n, dtype=torch.float64), rho)
    assert ((x > 0).sum(dim=1) == round(rho * n / 100)).all()
    assert ((x < 0).sum(dim=1) == n - round(rho * n / 100)).all()  # no zeros without ties


def test_percent_ties_at_the_threshold_are_zero() -> None:
    x = percent(torch.tensor([[3.0, 2.0, 1.0, 1.0, 0.0]]), 60.0)  # k = 3, the 3rd and 4th tie
    assert x.tolist() == [[2.0, 1.0, 0.0, 0.0, -1.0]]


def test_rho_percent_of_s_act_is_action_and_large_alpha_is_hard() -> None:
    feats = make_feats(B, 2, C, 5, 7)  # N = 70, rho = 30: 21 action positions per clip
    s_act = make_head()(feats).aux["s_act"]
    assert ((s_act > 0.5).sum(dim=(1, 2, 3)) == 21).all()
    hard = make_head(alpha=1e6)(feats).aux["s_act"]
    assert ((hard > 1 - 1e-9).sum(dim=(1, 2, 3)) == 21).all()
    assert ((hard < 1e-9).sum(dim=(1, 2, 3)) == 49).all()


def test_still_images() -> None:
    head = make_head(rho=20.0)
    feats = make_feats(B, 1, C, 5, 6)
    out = head(feats, conjugate_feats=make_feats(B, 1, C, 4, 4, seed=3))
    assert out.attention["action"].shape == (B, 1, 5, 6)
    assert ((out.aux["s_act"] > 0.5).sum(dim=(1, 2, 3)) == 6).all()  # 20 % of 30
    losses = head.losses(out, {"label": torch.tensor([0, 1])}, SUPERVISION)
    assert set(losses) == {"action", "similarity", "difference"}
    assert all(torch.isfinite(v) for v in losses.values())


# ---- the conjugate losses (eq. 2-4) -------------------------------------------------------------

def maps_of(feats: Tensor, seed: int = 4) -> tuple[Tensor, Tensor]:
    """Random S, C (B, T, H, W) in (0, 1) on the grid of ``feats``."""
    b, t, _, h, w = feats.shape
    g = torch.Generator().manual_seed(seed)
    s, c = torch.rand(2, b, t, h, w, generator=g, dtype=torch.float64)
    return s, c


@pytest.mark.parametrize("gamma", [0.0, 1.0, 10.0])
def test_a_sample_against_itself(gamma: float) -> None:
    """eta(F_k, F') averages over F' as a set: F' = F, F with its positions shuffled, or F tiled
    twice in time and in width (another length and grid) all give eta(F_k, F') = eta(F_k, F), so
    cos = 1: L_d = 0 and L_s = 1 - xi at any gamma."""
    feats, xi = make_feats(), 0.3
    s, c = maps_of(feats)
    order = torch.randperm(N, generator=torch.Generator().manual_seed(5))
    flat = rearrange(feats, "b t d h w -> b d (t h w)")
    shuffled = rearrange(flat[:, :, order], "b d (t h w) -> b t d h w", t=T, h=H)
    tiled = feats.repeat(1, 2, 1, 1, 2)
    for conjugate in (feats, shuffled, tiled):
        l_s, l_d = conjugate_losses(s, c, feats, conjugate, gamma=gamma, xi=xi)
        torch.testing.assert_close(l_d, torch.tensor(0.0, dtype=torch.float64), rtol=0, atol=1e-12)
        torch.testing.assert_close(l_s, torch.tensor(1 - xi, dtype=torch.float64), rtol=0, atol=1e-12)


def test_large_gamma_finds_each_position_in_a_conjugate_that_contains_it() -> None:
    """F' = F plus as many unrelated (orthogonal) positions: at large gamma eta(F_k, F') keeps F_k's
    own neighbours only, so L_d -> 0; at gamma = 0 it averages in the unrelated ones."""
    feats = make_feats(B, T, C, H, W).clone()
    feats[:, :, C // 2 :] = 0
    other = make_feats(B, T, C, H, W, seed=6).clone()
    other[:, :, : C // 2] = 0
    conjugate = torch.cat([feats, other], dim=1)  # T' = 2T
    s, c = maps_of(feats)
    _, sharp = conjugate_losses(s, c, feats, conjugate, gamma=200.0, xi=0.0)
    _, blunt = conjugate_losses(s, c, feats, conjugate, gamma=0.0, xi=0.0)
    assert sharp < 1e-6 < 0.05 < blunt


def test_features_in_an_orthogonal_subspace() -> None:
    """F' (another length and grid) in channels where F is 0: cos = 0, so L_s = 0 and L_d = 1."""
    feats = make_feats().clone()
    feats[:, :, C // 2 :] = 0
    conjugate = make_feats(B, 7, C, 2, 3, seed=7).clone()
    conjugate[:, :, : C // 2] = 0
    s, c = maps_of(feats)
    for gamma in (1.0, 10.0):
        l_s, l_d = conjugate_losses(s, c, feats, conjugate, gamma=gamma, xi=0.2)
        torch.testing.assert_close(l_s, torch.tensor(0.0, dtype=torch.float64), rtol=0, atol=1e-12)
        torch.testing.assert_close(l_d, torch.tensor(1.0, dtype=torch.float64), rtol=0, atol=1e-12)


def test_losses_are_the_s_and_c_weighted_means_of_eq3_and_eq4() -> None:
    """Against a one-position-per-clip brute force of eq. 2-4."""
    feats, conjugate = make_feats(1, 2, C, 2, 2), make_feats(1, 3, C, 1, 2, seed=8)
    s, c = maps_of(feats)
    xi, gamma = 0.1, 3.0
    f, g = rearrange(feats[0], "t d h w -> (t h w) d"), rearrange(conjugate[0], "t d h w -> (t h w) d")

    def eta(x: Tensor, others: Tensor) -> Tensor:  # eq. 2, one F_k at a time
        weights = torch.stack([torch.exp(gamma * F.cosine_similarity(x, o, dim=0)) for o in others])
        return (weights[:, None] * others).sum(dim=0) / weights.sum()

    cos = torch.stack([F.cosine_similarity(eta(fk, f), eta(fk, g), dim=0) for fk in f])
    l_s, l_d = conjugate_losses(s, c, feats, conjugate, gamma=gamma, xi=xi)
    torch.testing.assert_close(l_s, (s.flatten() * (cos - xi).clamp_min(0)).sum() / s.sum())
    torch.testing.assert_close(l_d, (c.flatten() * (1 - cos)).sum() / c.sum())


def test_pooled_losses_are_the_conjugate_losses_on_one_position_maps() -> None:
    f, f_conj = make_feats(B, C), make_feats(B, C, seed=9)
    ones = torch.ones(B, 1, 1, 1, dtype=torch.float64)
    as_map = lambda v: v[:, None, :, None, None]  # noqa: E731
    l_s, l_d = pooled_conjugate_losses(f, f_conj, f, f_conj, xi=0.1)
    expected = conjugate_losses(ones, ones, as_map(f), as_map(f_conj), gamma=10.0, xi=0.1)
    torch.testing.assert_close((l_s, l_d), expected)


# ---- losses and gradients of the head -----------------------------------------------------------

@pytest.mark.parametrize("attention", ATTENTION)
def test_losses_with_a_conjugate_of_another_length_reach_every_parameter(attention: str) -> None:
    head = make_head(attention)
    feats = make_feats().requires_grad_()
    losses = run_losses(head, feats, make_feats(B, 3, C, 2, 6, seed=2))  # T' = 3, 2 x 6 grid
    assert set(losses) == {"action", "similarity", "difference"}
    sum(losses.values()).backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0, name
    assert torch.isfinite(feats.grad).all()


def test_lambdas_weigh_the_conjugate_terms() -> None:
    feats, conjugate = make_feats(), make_feats(B, 3, C, 2, 6, seed=2)
    plain = run_losses(make_head(), feats, conjugate)
    weighted = run_losses(make_head(lambda_s=0.5, lambda_d=2.0), feats, conjugate)
    torch.testing.assert_close(weighted["similarity"], 0.5 * plain["similarity"])
    torch.testing.assert_close(weighted["difference"], 2.0 * plain["difference"])
    torch.testing.assert_close(weighted["action"], plain["action"])


def test_eval_without_a_conjugate_gives_the_action_loss_alone() -> None:
    head = make_head().eval()
    out = head(make_feats())
    losses = head.losses(out, batch(conjugate=False), SUPERVISION)
    assert set(losses) == {"action"}
    torch.testing.assert_close(losses["action"], F.cross_entropy(out.logits["action"], torch.tensor([1, 3])))


class Patchify(nn.Module):
    """A stand-in backbone: video (B, 3, T, H, W) -> features (B, T, C, H / 4, W / 4)."""

    output_stride = 4

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, C, 4, stride=4)

    def forward(self, video: Tensor) -> Tensor:
        frames = self.conv(rearrange(video, "b c t h w -> (b t) c h w")).relu()
        return rearrange(frames, "(b t) c h w -> b t c h w", b=video.shape[0])


def test_the_model_encodes_the_conjugate_clip() -> None:
    torch.manual_seed(0)
    model = ActionModel(Patchify(), ActionContextFactorization(C, K)).double()
    video = torch.randn(B, 3, T, 12, 20, dtype=torch.float64)
    conjugate = torch.randn(B, 3, 6, 8, 8, dtype=torch.float64)  # another length and size
    out = model(video, **model.head.inputs({"label": torch.tensor([1, 3]), "conjugate": conjugate}))
    assert out.aux["conjugate_feats"].shape == (B, 6, C, 2, 2)
    losses = model.head.losses(out, {"label": torch.tensor([1, 3])}, SUPERVISION)
    sum(losses.values()).backward()
    assert model.backbone.conv.weight.grad is not None


# ---- maps of every frame ------------------------------------------------------------------------

def test_frame_maps_of_a_longer_video() -> None:
    head = make_head().eval()
    clip = head(make_feats())
    long = make_feats(B, 11, C, H, W, seed=10)
    maps = head.frame_maps(long, clip, {"conjugate_feats": make_feats(B, 3, C, 2, 2)})
    assert set(maps) == {"action", "context", "s_act"}  # S^act: the interval map
    assert maps["action"].shape == (B, 11, H, W)
    expected = head(long)
    torch.testing.assert_close(maps["action"], expected.attention["action"])
    torch.testing.assert_close(maps["context"], expected.attention["context"])
    torch.testing.assert_close(maps["s_act"], expected.aux["s_act"])


def test_model_output_type() -> None:
    assert isinstance(make_head()(make_feats()), ModelOutput)
