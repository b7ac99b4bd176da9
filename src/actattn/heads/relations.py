"""The relation reasoning of the Object Relation Network (Baradel et al., ECCV 2018, Sec. 3.1-3.2):
which frames' objects form the cliques of eq. 3 (inter-frame pairs t' < t, drawn in training and
all averaged in evaluation; intra-frame pairs; cliques of 1 and 3), and g_t = sum of h_theta over
them (eq. 4), vectorised. :mod:`actattn.heads.object_relation` documents the choices.
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn


def draw_earlier_frames(
    batch: int, num_frames: int, count: int = 1, *, device: torch.device | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """For each clip and each t = count .. T-1, ``count`` distinct earlier frames drawn uniformly
    from [0, t) (torch's global RNG unless ``generator``), sorted: (batch, T - count, count) long,
    row i belonging to t = count + i. count 1 is the t' < t of Sec. 3.1; 2 the (t'', t') of cliques of 3."""
    later = torch.arange(count, num_frames, device=device)
    keys = torch.rand(batch, later.numel(), num_frames, device=device, generator=generator)
    keys = keys.masked_fill(torch.arange(num_frames, device=device) >= later[:, None], 2.0)  # only t' < t
    return keys.argsort(dim=-1)[..., :count].sort(dim=-1).values


def relation_cliques(
    num_frames: int, *, clique: int, pairs: str, training: bool, batch: int, device: torch.device | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """The cliques' frames: member frames (batch, P, clique) long, the frame t each clique's
    relation belongs to (P,) long and its weight (P,) (1 in training, 1 / #earlier tuples of t in
    evaluation: g_t is then the mean over them). See the module docstring for each mode."""
    if pairs == "intra":
        later = torch.arange(num_frames, device=device)
        members = later[None, :, None].expand(batch, num_frames, clique)
        return members, later, torch.ones(num_frames, device=device)
    size = max(clique, 2)  # frames per tuple: (t', t), or (t'', t', t)
    if training:
        earlier = draw_earlier_frames(batch, num_frames, size - 1, device=device)
        later = torch.arange(size - 1, num_frames, device=device)
        tuples = torch.cat([earlier, later[None, :, None].expand(batch, -1, 1)], dim=-1)
        weight = torch.ones(later.numel(), device=device)
    else:
        tuples = torch.combinations(torch.arange(num_frames, device=device), r=size).reshape(-1, size)
        later = tuples[:, -1]
        weight = 1.0 / torch.bincount(later, minlength=num_frames)[later]
        tuples = tuples[None].expand(batch, -1, -1)
    if clique == 1:  # eq. 3 with unary cliques over O_t' u O_t: each frame of the tuple alone
        return (rearrange(tuples, "b p s -> b (p s) 1"), later.repeat_interleave(size),
                weight.repeat_interleave(size))
    return tuples, later, weight


def clique_relations(
    relation_mlp: nn.Sequential, objects: Tensor, valid: Tensor, members: Tensor, later: Tensor, weight: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """eq. 3-4: g_t = sum over the cliques of t (weighted) of h_theta on their real objects.

    Args:
        relation_mlp: h_theta, its first layer ``clique * D`` wide.
        objects: o (B, T, K, D); valid: (B, T, K) bool, the real slots.
        members, later, weight: as :func:`relation_cliques` gives them.

    Returns g (B, T, H), zero where no clique ends; each object's share of it (B, T, K, H): the
    weighted sum of the h_theta outputs of the cliques it is a member of; and each clique's
    strength (B, P, K, ..., K): the norm of its weighted h_theta output (0 unless all its objects
    are real), member i's slot on axis 2 + i.
    """
    b, t, k, d = objects.shape
    c = members.shape[-1]
    first = relation_mlp[0]
    out_width = relation_mlp[-2].out_features
    g = objects.new_zeros(b, t, out_width)
    share = objects.new_zeros(b, t, k, out_width)
    if members.shape[1] == 0:
        return g, share, objects.new_zeros(b, 0, *[k] * c)
    clip = torch.arange(b, device=objects.device)[:, None]
    hidden = first.bias
    mask = objects.new_ones(())
    for i in range(c):  # W_i o for every object once, gathered at the member frames and broadcast
        pre = objects @ first.weight[:, i * d:(i + 1) * d].T  # (B, T, K, H1)
        axis = [1] * c
        axis[i] = k
        hidden = hidden + pre[clip, members[..., i]].reshape(b, -1, *axis, pre.shape[-1])
        mask = mask * valid[clip, members[..., i]].reshape(b, -1, *axis).to(objects.dtype)
    relations = relation_mlp[1:](hidden) * mask[..., None]  # (B, P, K, ..., K, H), real objects only
    relations = relations * weight.to(objects.dtype).reshape(1, -1, *[1] * (c + 1))
    object_axes = tuple(range(2, 2 + c))
    g = g.index_add(1, later, relations.sum(dim=object_axes))  # eq. 4
    for i in range(c):
        others = tuple(axis for axis in object_axes if axis != 2 + i)
        part = relations.sum(dim=others) if others else relations  # (B, P, K, H)
        index = members[..., i][..., None, None].expand_as(part)
        share = share.scatter_add(1, index, part)
    return g, share, torch.linalg.vector_norm(relations, dim=-1)
