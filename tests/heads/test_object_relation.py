"""Object Relation Network (Baradel et al., ECCV 2018): the paper's properties on tiny inputs."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from actattn.heads.base import Supervision
from actattn.heads.object_relation import Bottleneck, ObjectRelationNetwork, object_loss
from actattn.heads.relations import clique_relations, draw_earlier_frames, relation_cliques
from actattn.output import ModelOutput

B, T, C, H, W = 2, 3, 8, 3, 4
K, N, A = 3, 5, 4  # slots per frame, object classes, action classes
SMALL = {"relation_hidden": 16, "gru_hidden": 6, "activity_hidden": 6, "shape_hidden": 5}


def make_head(**kwargs: object) -> ObjectRelationNetwork:
    """A small float64 head in eval mode."""
    torch.manual_seed(0)
    head = ObjectRelationNetwork(C, A, num_object_classes=N, **{**SMALL, **kwargs})
    return head.double().eval()


def make_inputs(seed: int = 1, frames: int = T, slots: int = K, size: tuple[int, int] = (4 * H, 4 * W)
                ) -> dict[str, torch.Tensor]:
    """feats, and per slot a random rectangle mask and class; the last slot of frame 1 of clip 0 empty."""
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(B, frames, C, H, W, generator=gen, dtype=torch.float64)
    masks = torch.zeros(B, frames, slots, *size, dtype=torch.float64)
    top = torch.randint(0, size[0] // 2, (B, frames, slots), generator=gen)
    left = torch.randint(0, size[1] // 2, (B, frames, slots), generator=gen)
    for index in itertools.product(range(B), range(frames), range(slots)):  # fixture only
        y, x = top[index].item(), left[index].item()
        masks[index][y:y + size[0] // 2, x:x + size[1] // 2] = 1.0
    classes = torch.randint(0, N, (B, frames, slots), generator=gen)
    if frames > 1 and slots > 1:
        classes[0, 1, -1] = -1
        masks[0, 1, -1] = 0.0
    return {"feats": feats, "object_masks": masks, "object_classes": classes}


def run(head: ObjectRelationNetwork, inputs: dict[str, torch.Tensor]) -> ModelOutput:
    return head(inputs["feats"], object_masks=inputs["object_masks"], object_classes=inputs["object_classes"])


def assert_same(a: ModelOutput, b: ModelOutput) -> None:
    for key in a.logits:
        torch.testing.assert_close(a.logits[key], b.logits[key], rtol=0, atol=1e-9)
    torch.testing.assert_close(a.attention["relation"], b.attention["relation"], rtol=0, atol=1e-9)


def test_shapes_and_contract() -> None:
    head = make_head()
    out = run(head, make_inputs())
    assert {k: tuple(v.shape) for k, v in out.logits.items()} == {"action": (B, A), "activity": (B, A), "relation": (B, A)}
    torch.testing.assert_close(out.logits["action"], (out.logits["activity"] + out.logits["relation"]) / 2)
    assert set(out.attention) == {"relation"} and out.attention["relation"].shape == (B, T, H, W)
    assert out.aux["object_logits"].shape == (B, T, K, N)
    assert out.aux["object_shares"].shape == (B, T, K)
    assert head.reads == {"object_masks": "object_masks", "object_classes": "object_classes"}
    assert ObjectRelationNetwork.from_data == ("num_object_classes",)
    assert head.makes_maps and head.num_frames is None
    assert run(head, make_inputs(frames=5)).logits["action"].shape == (B, A)  # any T


def test_paper_widths() -> None:
    head = ObjectRelationNetwork(2048, 30)
    assert head.object_dim == 2048 + 100 + 81 == 2229  # Sec. 4
    assert [layer.out_features for layer in head.relation_mlp if isinstance(layer, torch.nn.Linear)] == [512] * 3
    assert head.relation_mlp[0].in_features == 2 * 2229
    assert head.activity_gru.hidden_size == 512 and head.reasoning.hidden_size == 256
    assert head.object_classifier.out_features == 80 and head.object_loss_weight == 1.0


def test_blocks_start_as_identity() -> None:
    x = torch.rand(2, C, T, H, W)  # non-negative, as post-ReLU backbone features
    torch.testing.assert_close(Bottleneck(C, temporal=True).eval()(x), x)
    torch.testing.assert_close(Bottleneck(C, temporal=False).eval()(x[:, :, 0]), x[:, :, 0])


def test_permuting_the_slots_of_a_frame_changes_nothing() -> None:
    head, inputs = make_head(), make_inputs()
    before = run(head, inputs)
    perm = torch.stack([torch.randperm(K, generator=torch.Generator().manual_seed(i)) for i in range(B * T)])
    perm = perm.reshape(B, T, K)
    permuted = dict(inputs)
    permuted["object_classes"] = inputs["object_classes"].gather(2, perm)
    permuted["object_masks"] = inputs["object_masks"][
        torch.arange(B)[:, None, None], torch.arange(T)[None, :, None], perm]
    after = run(head, permuted)
    assert_same(before, after)
    torch.testing.assert_close(after.aux["object_logits"], before.aux["object_logits"].gather(
        2, perm[..., None].expand(-1, -1, -1, N)))


def test_an_empty_slot_changes_nothing() -> None:
    head, inputs = make_head(), make_inputs()
    before = run(head, inputs)
    padded = dict(inputs)
    for key, fill in (("object_masks", 0.0), ("object_classes", -1)):
        value = inputs[key]
        empty = torch.full((B, T, 2, *value.shape[3:]), fill, dtype=value.dtype)
        padded[key] = torch.cat([value[:, :, :1], empty, value[:, :, 1:]], dim=2)
    after = run(head, padded)
    assert_same(before, after)
    loss_before = object_loss(before.aux["object_logits"], inputs["object_classes"])
    loss_after = object_loss(after.aux["object_logits"], padded["object_classes"])
    torch.testing.assert_close(loss_before, loss_after)


def test_frames_without_objects_are_finite_and_unpainted() -> None:
    head, inputs = make_head(), make_inputs()
    inputs["object_classes"][0, 1] = -1
    inputs["object_masks"][0, 1] = 0.0
    inputs["object_classes"][1] = -1  # a clip with no object at all
    inputs["object_masks"][1] = 0.0
    head.train()
    out = run(head, {**inputs, "feats": inputs["feats"].requires_grad_()})
    for value in (*out.logits.values(), out.attention["relation"]):
        assert torch.isfinite(value).all()
    assert (out.attention["relation"][0, 1] == 0).all() and (out.attention["relation"][1] == 0).all()
    loss = sum(head.losses(out, {"label": torch.tensor([0, 1]), "object_classes": inputs["object_classes"]},
                           Supervision(F.cross_entropy, 32)).values())
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters() if p.grad is not None)
    assert torch.isfinite(inputs["feats"].grad).all()


def test_no_slots_at_all() -> None:
    head, inputs = make_head(), make_inputs()
    out = run(head, {**inputs, "object_masks": inputs["object_masks"][:, :, :0],
                     "object_classes": inputs["object_classes"][:, :, :0]})
    assert out.aux["object_logits"].shape == (B, T, 0, N) and torch.isfinite(out.logits["action"]).all()
    assert (out.attention["relation"] == 0).all()


def change_frame_zero(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same clips with other objects in frame 0 (masks flipped, classes shifted); frame 1 as it was."""
    changed = {key: value.clone() for key, value in inputs.items()}
    changed["object_masks"][:, 0] = changed["object_masks"][:, 0].flip(-1, -2)
    changed["object_classes"][:, 0] = (changed["object_classes"][:, 0] + 1) % N
    return changed


def test_relations_pair_frame_t_with_an_earlier_frame() -> None:
    """T = 2, eval: the only relations are between frame 0 and frame 1 objects. A head pairing
    O_t with itself (the authors' code) would fail each assertion here."""
    head, inputs = make_head(), make_inputs(frames=2)
    before, after = run(head, inputs), run(head, change_frame_zero(inputs))
    assert (before.aux["interactions"][:, 0] == 0).all()  # g_0: no earlier frame
    assert not torch.allclose(before.aux["interactions"][:, 1], after.aux["interactions"][:, 1])
    assert not torch.allclose(before.logits["relation"], after.logits["relation"])
    torch.testing.assert_close(before.logits["activity"], after.logits["activity"])
    empty = {**inputs, "object_classes": inputs["object_classes"].clone()}
    empty["object_classes"][:, 0] = -1  # no earlier object: no relation at t = 1, whatever frame 1 holds
    out = run(head, empty)
    assert (out.aux["interactions"] == 0).all()
    zero = head.relation_classifier(head.reason(torch.zeros(B, 1, SMALL["relation_hidden"], dtype=torch.float64)))
    torch.testing.assert_close(out.logits["relation"], zero)


def test_intra_pairs_keep_within_the_frame() -> None:
    head, inputs = make_head(pairs="intra"), make_inputs(frames=2)
    before, after = run(head, inputs), run(head, change_frame_zero(inputs))
    torch.testing.assert_close(before.aux["interactions"][:, 1], after.aux["interactions"][:, 1])  # g_1 from O_1 alone
    assert not torch.allclose(before.aux["interactions"][:, 0], after.aux["interactions"][:, 0])


def loop_relations(mlp: torch.nn.Sequential, objects: torch.Tensor, valid: torch.Tensor, members: torch.Tensor,
                   later: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Reference g (B, T, H): h_theta called on every clique of real objects, one at a time."""
    g = torch.zeros(objects.shape[0], objects.shape[1], mlp[-2].out_features, dtype=objects.dtype)
    for b, p in itertools.product(range(members.shape[0]), range(members.shape[1])):
        frames = members[b, p].tolist()
        for slots in itertools.product(range(objects.shape[2]), repeat=len(frames)):
            if all(valid[b, f, s] for f, s in zip(frames, slots)):
                pair = torch.cat([objects[b, f, s] for f, s in zip(frames, slots)])
                g[b, later[p]] += weight[p] * mlp(pair)
    return g


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize(("clique", "pairs"), [(2, "inter"), (1, "inter"), (3, "inter"), (2, "intra")])
def test_vectorised_cliques_equal_the_loop(clique: int, pairs: str, training: bool) -> None:
    torch.manual_seed(3)
    d, frames = 6, 4
    mlp = torch.nn.Sequential(torch.nn.Linear(clique * d, 7), torch.nn.ReLU(), torch.nn.Linear(7, 7), torch.nn.ReLU(),
                              torch.nn.Linear(7, 5), torch.nn.ReLU()).double()
    objects = torch.randn(B, frames, K, d, dtype=torch.float64)
    valid = torch.rand(B, frames, K) > 0.3
    members, later, weight = relation_cliques(frames, clique=clique, pairs=pairs, training=training, batch=B)
    g, share, strength = clique_relations(mlp, objects, valid, members, later, weight)
    assert strength.shape == (B, members.shape[1], *[K] * clique) and (strength >= 0).all()
    torch.testing.assert_close(g, loop_relations(mlp, objects, valid, members, later, weight.double()))
    torch.testing.assert_close(share.sum(dim=(1, 2)), g.sum(dim=1) * clique)  # each clique counted once per member


def test_evaluation_averages_over_every_earlier_frame() -> None:
    members, later, weight = relation_cliques(4, clique=2, pairs="inter", training=False, batch=1)
    pairs = sorted(zip(members[0, :, 0].tolist(), later.tolist()))
    assert pairs == sorted((a, b) for b in range(4) for a in range(b))
    torch.testing.assert_close(torch.zeros(4).index_add(0, later, weight.float()), torch.tensor([0.0, 1, 1, 1]))


@pytest.mark.parametrize("count", [1, 2])
def test_drawn_earlier_frames_cover_exactly_the_past(count: int) -> None:
    frames = 6
    draws = draw_earlier_frames(2000, frames, count, generator=torch.Generator().manual_seed(0))
    assert draws.shape == (2000, frames - count, count) and draws.dtype == torch.long
    for row, t in enumerate(range(count, frames)):
        tuples = {tuple(x) for x in draws[:, row].tolist()}
        assert tuples == set(itertools.combinations(range(t), count))  # all t' < t, each drawn, nothing else


def test_training_draws_follow_the_global_rng_and_evaluation_is_deterministic() -> None:
    head, inputs = make_head(), make_inputs(frames=5)
    assert_same(run(head, inputs), run(head, inputs))
    head.train()
    torch.manual_seed(7)
    first = run(head, inputs)
    torch.manual_seed(7)
    assert_same(first, run(head, inputs))


def test_object_loss_counts_real_slots_only() -> None:
    logits = torch.randn(B, T, K, N, dtype=torch.float64, requires_grad=True)
    classes = torch.randint(0, N, (B, T, K))
    classes[0, 0, 1] = -1
    expected = F.cross_entropy(logits[classes >= 0], classes[classes >= 0], reduction="sum") / B  # eq. 12: sum_t sum_k
    torch.testing.assert_close(object_loss(logits, classes), expected)
    changed = logits.detach().clone()
    changed[0, 0, 1] += 10.0  # an empty slot's logits count for nothing
    torch.testing.assert_close(object_loss(changed, classes), expected)
    none = object_loss(logits, torch.full_like(classes, -1))
    none.backward()
    assert none.item() == 0 and none.requires_grad and torch.isfinite(logits.grad).all()


def test_losses_metrics_and_weight() -> None:
    head, inputs = make_head(object_loss_weight=0.5), make_inputs()
    out = run(head, inputs)
    batch = {"label": torch.tensor([1, 2]), "object_classes": inputs["object_classes"]}
    losses = head.losses(out, batch, Supervision(F.cross_entropy, 32))
    assert set(losses) == {"action", "object"}
    torch.testing.assert_close(losses["action"], F.cross_entropy(out.logits["action"], batch["label"]))
    torch.testing.assert_close(losses["object"], 0.5 * object_loss(out.aux["object_logits"], inputs["object_classes"]))
    probs, targets = head.metric_inputs(out, batch)["object_top1"]
    real = int((inputs["object_classes"] >= 0).sum())
    assert probs.shape == (real, N) and targets.shape == (real,)
    torch.testing.assert_close(probs.sum(dim=-1), torch.ones(real, dtype=torch.float64))
    metric = head.metrics()["object_top1"]
    metric.update(probs, targets)
    assert 0 <= metric.compute() <= 1


def test_relation_map_lies_on_the_masks_and_sums_to_one() -> None:
    head, inputs = make_head(), make_inputs()
    maps = run(head, inputs).attention["relation"]
    union = F.interpolate(inputs["object_masks"].flatten(0, 1), size=(H, W), mode="area").amax(dim=1)
    union = union.reshape(B, T, H, W)
    assert (maps[union == 0] == 0).all() and (maps >= 0).all()
    sums = maps.sum(dim=(-2, -1))
    assert ((sums - 1).abs() < 1e-9).sum() + (sums == 0).sum() == B * T
    assert ((sums - 1).abs() < 1e-9).any()


def test_masks_at_any_resolution_and_one_frame() -> None:
    head = make_head()
    for size in ((2, 3), (5, 7), (40, 48)):
        assert torch.isfinite(run(head, make_inputs(size=size)).logits["action"]).all()
    out = run(head, make_inputs(frames=1))  # no earlier frame: no relations, no map
    assert (out.attention["relation"] == 0).all()
    torch.testing.assert_close(out.logits["relation"], head.relation_classifier.bias.expand(B, -1))


@pytest.mark.parametrize("kwargs", [
    {}, {"objects": "pixels"}, {"pairs": "intra"}, {"aggregator": "mlp"}, {"clique": 1}, {"clique": 3},
    {"object_features": ("visual",)}, {"object_features": ("shape",)}, {"object_features": ("class",)},
    {"objects": "pixels", "clique": 3, "pairs": "intra", "aggregator": "mlp"},
])
def test_every_ablation_trains(kwargs: dict) -> None:
    head, inputs = make_head(**kwargs).train(), make_inputs(frames=4)
    if head.objects == "pixels":
        assert head.reads == {} and head.metrics() == {}
        out = head(inputs["feats"])
    else:
        out = run(head, inputs)
    batch = {"label": torch.tensor([0, 3]), "object_classes": inputs["object_classes"]}
    losses = head.losses(out, batch, Supervision(F.cross_entropy, 32))
    assert set(losses) == ({"action"} if head.objects == "pixels" else {"action", "object"})
    sum(losses.values()).backward()
    grads = [p.grad for p in head.relation_mlp.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    assert out.attention["relation"].shape == (B, 4, H, W)


def test_pixel_objects_are_sixteen_cells() -> None:
    head = make_head(objects="pixels")
    out = head(make_inputs()["feats"])
    assert out.aux["object_shares"].shape == (B, T, 16) and head.object_dim == C + 2


@pytest.mark.parametrize("kwargs", [{"objects": "boxes"}, {"pairs": "all"}, {"aggregator": "lstm"}, {"clique": 4},
                                    {"object_features": ("colour",)}, {"object_features": ()},
                                    {"objects": "pixels", "object_features": ("class",)}])
def test_bad_options_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError, match="ObjectRelationNetwork"):
        ObjectRelationNetwork(C, A, **kwargs)


def test_bad_inputs_are_refused() -> None:
    head, inputs = make_head(), make_inputs()
    with pytest.raises(ValueError, match="object_masks"):
        head(inputs["feats"])
    with pytest.raises(ValueError, match="expected object_masks"):
        head(inputs["feats"], object_masks=inputs["object_masks"][:, :2], object_classes=inputs["object_classes"])
    with pytest.raises(ValueError, match="must lie in"):
        head(inputs["feats"], object_masks=inputs["object_masks"], object_classes=inputs["object_classes"] + N)


@pytest.mark.parametrize("heads", ["activity", "object"])
def test_one_head_alone_predicts_and_the_stages_share_weights(heads: str) -> None:
    """Table 2's baseline (the activity head alone) and the first training stage (the object head
    alone): "action" is that head's logits, and the weights load into the two-headed model."""
    torch.manual_seed(0)
    both = ObjectRelationNetwork(16, 5, num_object_classes=6, relation_hidden=8, gru_hidden=8,
                                 activity_hidden=8, shape_hidden=4).eval()
    alone = ObjectRelationNetwork(16, 5, num_object_classes=6, relation_hidden=8, gru_hidden=8,
                                  activity_hidden=8, shape_hidden=4, heads=heads).eval()
    alone.load_state_dict(both.state_dict())
    feats = torch.randn(2, 3, 16, 4, 4)
    masks = torch.zeros(2, 3, 2, 8, 8)
    masks[..., 1:5, 2:6] = 1.0
    classes = torch.tensor([1, 4]).expand(2, 3, 2)
    inputs = alone.inputs({"object_masks": masks, "object_classes": classes})
    out, full = alone(feats, **inputs), both(feats, object_masks=masks, object_classes=classes)
    key = "activity" if heads == "activity" else "relation"
    torch.testing.assert_close(out.logits["action"], full.logits[key])
    assert alone.makes_maps == (heads == "object") == bool(out.attention)
    assert (heads == "activity") == (not alone.reads) == ("object_top1" not in alone.metrics())
