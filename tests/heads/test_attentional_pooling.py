"""Attentional pooling (Girdhar & Ramanan, NIPS 2017): the paper's identities on tiny inputs."""
from __future__ import annotations

import pytest
import torch
from einops import rearrange
from torch.utils.flop_counter import FlopCounterMode

from actattn.heads import AttentionalPooling, pose_heatmap_loss

C, K = 6, 4


def make_head(**kwargs: object) -> AttentionalPooling:
    """A float64 head in eval mode with O(1) random weights (the N(0, 0.001) init is too small to test)."""
    torch.manual_seed(0)
    head = AttentionalPooling(C, K, **kwargs).double().eval()
    with torch.no_grad():
        for param in head.parameters():
            param.normal_(std=0.5)
    return head


def make_feats(b: int = 2, t: int = 3, h: int = 4, w: int = 5, seed: int = 1) -> torch.Tensor:
    return torch.randn(b, t, C, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def oriented_sum(t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Reference for the documented orientation, cell by cell: per leading index and rank p (last
    dim), flip t_p and h_p together when h_p < 0 where t_p * h_p peaks; then sum over p."""
    t, h = torch.broadcast_tensors(t, h)
    out = torch.zeros(t.shape[:-1], dtype=t.dtype)
    for index in torch.cartesian_prod(*(torch.arange(n) for n in t.shape[:-3])).reshape(-1, t.ndim - 3).tolist():
        for p in range(t.shape[-1]):
            tp, hp = t[(*index, ..., p)], h[(*index, ..., p)]
            sign = -1.0 if hp.flatten()[(tp * hp).flatten().argmax()] < 0 else 1.0
            out[tuple(index)] += sign * tp
    return out


def locations(feats: torch.Tensor) -> torch.Tensor:
    """(B, T, C, H, W) -> X as (B, T, n, f)."""
    return rearrange(feats, "b t c h w -> b t (h w) c")


def test_rank1_score_is_mean_of_top_down_times_bottom_up_averaged_over_frames() -> None:
    head = make_head()
    feats = make_feats()
    x = locations(feats)
    a = head.top_down.weight[:, :, 0, 0]  # (K, f), rows a_k
    b = head.bottom_up.weight[0, :, 0, 0]  # (f,)
    n = x.shape[2]
    maps = torch.einsum("btnf,kf->btkn", x, a) * torch.einsum("btnf,f->btn", x, b)[:, :, None]  # eq. 8/11
    bilinear = torch.einsum("kf,btnf,btng,g->btk", a, x, x, b) / n  # a_k^T X^T X b / n (eq. 5)
    logits = head(feats).logits["action"]
    torch.testing.assert_close(logits - head.bias, maps.mean(dim=-1).mean(dim=1))
    torch.testing.assert_close(logits - head.bias, bilinear.mean(dim=1))
    per_frame = torch.stack([head(feats[:, i : i + 1]).logits["action"] for i in range(feats.shape[1])], dim=1)
    torch.testing.assert_close(logits, per_frame.mean(dim=1))
    assert not torch.allclose(per_frame[:, 0], per_frame[:, 1])


def test_combined_map_is_elementwise_product_and_explains_the_score() -> None:
    head = make_head()
    feats = make_feats()
    out = head(feats, class_maps=True)
    top_down, bottom_up, combined = out.aux["top_down"], out.attention["bottom_up"], out.aux["combined"]
    torch.testing.assert_close(combined.abs(), (top_down * bottom_up[:, :, None]).abs())  # eq. 11, up to orientation
    torch.testing.assert_close(out.attention["combined"], out.attention["top_down"] * bottom_up)  # eq. 11
    torch.testing.assert_close(out.logits["action"], combined.mean(dim=(-2, -1)).mean(dim=1) + head.bias)
    predicted = out.logits["action"].argmax(dim=1)
    for i, k in enumerate(predicted.tolist()):
        torch.testing.assert_close(out.attention["combined"][i], combined[i, :, k])
        torch.testing.assert_close(out.attention["top_down"][i], top_down[i, :, k])
    assert out.attention["bottom_up"].shape == (2, 3, 4, 5)


@pytest.mark.parametrize("kwargs", [{}, {"rank": 2}, {"rank": 2, "class_specific": True}])
def test_factor_maps_do_not_depend_on_the_joint_sign_the_scores_cannot_see(kwargs: dict) -> None:
    head, feats = make_head(**kwargs), make_feats()
    out = head(feats, class_maps=True)
    with torch.no_grad():
        head.top_down.weight.neg_()
        head.bottom_up.weight.neg_()
    flipped = head(feats, class_maps=True)
    torch.testing.assert_close(flipped.logits["action"], out.logits["action"])
    for maps, flipped_maps in ((out.attention, flipped.attention), (out.aux, flipped.aux)):
        assert maps.keys() == flipped_maps.keys()
        for name in maps:
            torch.testing.assert_close(flipped_maps[name], maps[name])
    if not kwargs:  # rank 1: both factors are positive where the combined map peaks, in every frame
        combined = rearrange(out.attention["combined"], "b t h w -> b t (h w)")
        peak = combined.argmax(dim=-1, keepdim=True)
        for name in ("top_down", "bottom_up"):
            assert (rearrange(out.attention[name], "b t h w -> b t (h w)").gather(-1, peak) > 0).all()


@pytest.mark.parametrize("kwargs", [{"rank": 2}, {"rank": 2, "class_specific": True}, {"rank": 3, "pose_joints": 2}])
def test_combined_maps_explain_the_score_for_every_variant(kwargs: dict) -> None:
    head = make_head(**kwargs)
    out = head(make_feats(), class_maps=True)
    assert out.aux["combined"].shape == out.aux["top_down"].shape == (2, 3, K, 4, 5)
    torch.testing.assert_close(out.logits["action"], out.aux["combined"].mean(dim=(-2, -1)).mean(dim=1) + head.bias)
    frames = rearrange(make_feats(), "b t c h w -> (b t) c h w")
    top_down = rearrange(head.top_down(frames), "(b t) (p k) h w -> b t k h w p", b=2, p=kwargs["rank"])
    hidden = frames if head.pose_hidden is None else head.pose_hidden(frames)
    bottom_up = rearrange(head.bottom_up(hidden), "(b t) (p k) h w -> b t k h w p", b=2, p=kwargs["rank"])
    torch.testing.assert_close(out.aux["top_down"], oriented_sum(top_down, bottom_up))  # documented: oriented, summed


def test_rank_p_score_is_sum_of_rank1_scores_from_weight_slices() -> None:
    rank = 3
    head = make_head(rank=rank)
    feats = make_feats()
    total = torch.zeros(2, K, dtype=torch.float64)
    for p in range(rank):
        single = make_head()
        with torch.no_grad():
            single.top_down.weight.copy_(head.top_down.weight[p * K : (p + 1) * K])
            single.bottom_up.weight.copy_(head.bottom_up.weight[p : p + 1])
        total += single(feats).logits["action"] - single.bias
    torch.testing.assert_close(head(feats).logits["action"] - head.bias, total)


@pytest.mark.parametrize("rank", [1, 2])
def test_score_is_quadratic_form_trace_of_second_order_features(rank: int) -> None:
    head = make_head(rank=rank)
    feats = make_feats(t=1)
    logits = head(feats).logits["action"] - head.bias
    for scale in (2.5, -1.5):
        torch.testing.assert_close(head(scale * feats).logits["action"] - head.bias, scale**2 * logits)
    a = rearrange(head.top_down.weight[:, :, 0, 0], "(p k) f -> p k f", p=rank)
    b = head.bottom_up.weight[:, :, 0, 0]  # (P, f)
    w = torch.einsum("pkf,pg->kfg", a, b)  # eq. 9: W_k = sum_p a_{k,p} b_p^T
    x = locations(feats)[:, 0]  # (B, n, f)
    for i in range(x.shape[0]):
        second_order = x[i].T @ x[i]  # X^T X
        traces = torch.stack([torch.trace(second_order @ w[k].T) for k in range(K)]) / x.shape[1]  # eq. 2
        torch.testing.assert_close(logits[i], traces)


VARIANTS = [{}, {"rank": 2}, {"class_specific": True}, {"rank": 2, "class_specific": True},
            {"pose_joints": 3, "hidden_channels": 7}, {"rank": 2, "pose_joints": 3, "hidden_channels": 7}]


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_logits_with_and_without_class_maps_are_the_maps_score(kwargs: dict) -> None:
    """float32: the pooled form (eq. 6) and the maps form (eq. 10-11) give the same logits to 1e-5."""
    head = make_head(**kwargs).float()
    feats = make_feats().float()
    frames = rearrange(feats, "b t c h w -> (b t) c h w")
    hidden = frames if head.pose_hidden is None else torch.relu(head.pose_hidden[0](frames))
    rank = kwargs.get("rank", 1)
    top_down = rearrange(head.top_down(frames), "(b t) (p k) h w -> b t p k h w", b=2, p=rank)
    bottom_up = rearrange(head.bottom_up(hidden), "(b t) (p k) h w -> b t p k h w", b=2, p=rank)
    expected = (top_down * bottom_up).mean(dim=(-2, -1)).sum(dim=2).mean(dim=1) + head.bias  # eq. 11
    without, with_maps = head(feats), head(feats, class_maps=True)
    torch.testing.assert_close(without.logits["action"], expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(with_maps.logits["action"], expected, rtol=1e-5, atol=1e-5)
    assert without.attention.keys() == with_maps.attention.keys() == {"top_down", "combined", "bottom_up"}
    for name, maps in without.attention.items():  # the predicted class's maps, from its weights alone
        torch.testing.assert_close(maps, with_maps.attention[name], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_training_forward_returns_no_per_class_maps_unless_asked(kwargs: dict) -> None:
    head = make_head(**kwargs).train()
    assert set(head(make_feats()).aux) <= {"pose"}
    assert {"top_down", "combined"} <= set(head(make_feats(), class_maps=True).aux)


def training_flops(head: AttentionalPooling, feats: torch.Tensor, **kwargs: bool) -> int:
    """Multiply-add FLOPs (x2) of one forward and backward of the summed logits."""
    with FlopCounterMode(display=False) as counter:
        head(feats, **kwargs).logits["action"].sum().backward()
    return counter.get_total_flops()


def test_shared_bottom_up_training_step_costs_less_than_one_class_map_per_cell() -> None:
    """eq. 6: a linear classifier on one pooled feature; the top-down maps of every class on request."""
    channels, classes = 32, 50
    head = AttentionalPooling(channels, classes).train()
    feats = torch.randn(2, 2, channels, 6, 6, requires_grad=True)
    every_cell = 2 * 4 * 36 * channels * classes  # forward of the top-down conv over all 4 * 36 cells
    assert training_flops(head, feats) < every_cell / 2
    assert training_flops(head, feats, class_maps=True) > every_cell


def test_class_specific_scores_cost_two_maps_per_class_and_no_pooled_copies() -> None:
    """Scores from t_k and h_k over every cell (eq. 10), without pooling K copies of X^T h_k."""
    channels, classes = 32, 50
    head = AttentionalPooling(channels, classes, class_specific=True).eval()
    feats = torch.randn(2, 2, channels, 6, 6)
    every_cell = 2 * 4 * 36 * channels * classes
    with FlopCounterMode(display=False) as counter:
        head(feats)
    assert counter.get_total_flops() <= 2 * every_cell  # the t_k and h_k convs; the predicted maps are picked


def test_class_specific_bottom_up_maps_touch_only_their_class() -> None:
    head = make_head(class_specific=True)
    feats = make_feats()
    out = head(feats, class_maps=True)
    assert head.bottom_up.weight.shape == (K, C, 1, 1)
    assert out.aux["bottom_up"].shape == (2, 3, K, 4, 5)
    torch.testing.assert_close(out.aux["combined"], out.aux["top_down"] * out.aux["bottom_up"])
    with torch.no_grad():
        head.bottom_up.weight[2] += 1.0
    changed = (head(feats).logits["action"] - out.logits["action"]).abs() > 1e-9
    assert changed[:, 2].all() and not changed[:, [0, 1, 3]].any()


def test_shared_bottom_up_map_touches_every_class() -> None:
    head = make_head()
    feats = make_feats()
    before = head(feats).logits["action"]
    with torch.no_grad():
        head.bottom_up.weight += 1.0
    assert ((head(feats).logits["action"] - before).abs() > 1e-9).all()


def test_pose_branch_feeds_bottom_up_through_the_hidden_layer() -> None:
    head = make_head(pose_joints=5, hidden_channels=7)
    feats = make_feats()
    out = head(feats)
    assert out.aux["pose"].shape == (2, 3, 5, 4, 5)
    assert head.bottom_up.weight.shape == (1, 7, 1, 1)
    frames = rearrange(feats, "b t c h w -> (b t) c h w")
    hidden = torch.relu(head.pose_hidden[0](frames))
    bottom_up = rearrange(head.bottom_up(hidden)[:, 0], "(b t) h w -> b t h w", b=2)
    torch.testing.assert_close(out.attention["bottom_up"].abs(), bottom_up.abs())  # up to orientation
    torch.testing.assert_close(out.attention["bottom_up"], out.attention["combined"] / out.attention["top_down"])
    torch.testing.assert_close(out.aux["pose"], rearrange(head.pose(hidden), "(b t) j h w -> b t j h w", b=2))
    logits = out.logits["action"] - head.bias
    assert not torch.allclose(head(-feats).logits["action"] - head.bias, logits)  # not quadratic in X


def test_dropout_only_in_training() -> None:
    head = make_head()
    feats = make_feats()
    torch.testing.assert_close(head(feats).logits["action"], head(feats).logits["action"])
    head.train()
    first, second = head(feats, class_maps=True), head(feats)
    assert not torch.allclose(first.logits["action"], second.logits["action"])
    torch.testing.assert_close(  # the maps in training use the same dropped-out X as the scores
        first.logits["action"], first.aux["combined"].mean(dim=(-2, -1)).mean(dim=1) + head.bias
    )
    predicted = second.logits["action"].argmax(dim=1)  # so does the predicted class's map without class_maps
    torch.testing.assert_close(second.logits["action"].gather(1, predicted[:, None])[:, 0],
                               second.attention["combined"].mean(dim=(-2, -1)).mean(dim=1) + head.bias[predicted])


def test_gradients_reach_both_attention_convs() -> None:
    head = make_head(rank=2).train()
    head(make_feats()).logits["action"].sum().backward()
    for param in (head.top_down.weight, head.bottom_up.weight, head.bias):
        assert param.grad is not None and param.grad.abs().sum() > 0


def test_bad_inputs_raise() -> None:
    head = make_head()
    with pytest.raises(ValueError, match=r"\(B, T, 6, H, W\), got \(2, 3, 5, 4, 4\)"):
        head(torch.zeros(2, 3, 5, 4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="rank"):
        AttentionalPooling(C, K, rank=0)


def test_pose_heatmap_loss_matches_hand_computation() -> None:
    pred = torch.zeros(2, 1, 2, 2, 2)
    target = torch.zeros(2, 1, 2, 2, 2)
    target[0, 0, 0] = torch.tensor([[1.0, 1.0], [0.0, 0.0]])  # 0.5 * 2 / 4 = 0.25
    target[1, 0, 0] = torch.tensor([[2.0, 0.0], [0.0, 0.0]])  # 0.5 * 4 / 4 = 0.5
    target[0, 0, 1] = torch.tensor([[0.0, 0.0], [0.0, 4.0]])  # 0.5 * 16 / 4 = 2.0
    target[1, 0, 1] = torch.tensor([[9.0, 9.0], [9.0, 9.0]])  # invalid
    valid = torch.tensor([[[True, True]], [[True, False]]])
    # joint 0: mean(0.25, 0.5) = 0.375; joint 1: only clip 0 -> 2.0
    assert pose_heatmap_loss(pred, target, valid).item() == pytest.approx(2.375)


def test_pose_heatmap_loss_ignores_invalid_joints() -> None:
    generator = torch.Generator().manual_seed(0)
    pred = torch.randn(3, 2, 4, 5, 5, generator=generator, requires_grad=True)
    target = torch.rand(3, 2, 4, 5, 5, generator=generator)
    valid = torch.rand(3, 2, 4, generator=generator) > 0.5
    loss = pose_heatmap_loss(pred, target, valid)
    garbage = target.clone()
    garbage[~valid] = float("nan")
    loss_garbage = pose_heatmap_loss(pred, garbage, valid)
    assert loss_garbage.item() == pytest.approx(loss.item())
    loss_garbage.backward()
    assert torch.isfinite(pred.grad).all()
    assert (pred.grad[~valid] == 0).all() and (pred.grad[valid] != 0).any()


def test_pose_heatmap_loss_is_zero_with_grad_when_nothing_is_valid() -> None:
    pred = torch.randn(2, 1, 3, 4, 4, requires_grad=True)
    loss = pose_heatmap_loss(pred, torch.rand(2, 1, 3, 4, 4), torch.zeros(2, 1, 3, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert (pred.grad == 0).all()


def test_pose_heatmap_loss_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="valid must be"):
        pose_heatmap_loss(torch.zeros(1, 1, 2, 3, 3), torch.zeros(1, 1, 2, 3, 3), torch.ones(1, 2, dtype=torch.bool))
