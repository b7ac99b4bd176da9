"""Time ORN's vectorised relations (eq. 4) against a per-pair loop written as the authors' code runs it.

Both compute g_t = sum_{j,k} h_theta(o_{t'}^j, o_t^k) over the real objects of every frame pair
with the same h_theta (the paper's widths: o_t^k of 2048 + 100 + 81 = 2229, h_theta 2 x 2229 ->
512 -> 512 -> 512) on the same random objects, a fraction of the slots left empty:
- loop: over clips, frames t, earlier frames t' and object pairs (j, k), h_theta called on each
  concatenated pair (empty pairs skipped, which only helps the loop);
- vectorised: :func:`actattn.heads.object_relation.clique_relations` (each W_i o once, the pairs
  broadcast, one batched MLP).
Two pair sets: evaluation (every t' < t, averaged) and training (one drawn t' per t). Forward only,
no gradients. The outputs are asserted equal (to 1e-5, relative to the largest |g|) before timing;
times are interleaved, medians of ``--repeats`` runs.

    PYTHONPATH=src python benchmarks/bench_relations.py [--objects 10] [--frames 8] [--batch 2]
"""
from __future__ import annotations

import argparse
import statistics
from functools import partial

import torch
from torch import Tensor, nn

from actattn.heads.object_relation import ObjectRelationNetwork
from actattn.heads.relations import clique_relations, relation_cliques
from timing import time_ms

GOAL = 20.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--objects", type=int, default=10, help="K, slots per frame")
    parser.add_argument("--empty", type=float, default=0.3, help="fraction of empty slots")
    parser.add_argument("--channels", type=int, default=2048)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    return parser.parse_args()


def loop_relations(relation_mlp: nn.Sequential, objects: Tensor, valid: Tensor, members: Tensor, later: Tensor,
                   weight: Tensor) -> Tensor:
    """g (B, T, H) the authors' way: Python loops over clips, frame pairs and object pairs."""
    b, t, k, _ = objects.shape
    g = objects.new_zeros(b, t, relation_mlp[-2].out_features)
    real = valid.tolist()
    for clip in range(b):
        for p in range(members.shape[1]):
            earlier, current = members[clip, p].tolist()
            for j in range(k):
                for i in range(k):
                    if real[clip][earlier][j] and real[clip][current][i]:
                        pair = torch.cat([objects[clip, earlier, j], objects[clip, current, i]])
                        g[clip, later[p]] += weight[p] * relation_mlp(pair)
    return g


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    head = ObjectRelationNetwork(args.channels, 30).eval()
    mlp, d = head.relation_mlp, head.object_dim
    objects = torch.randn(args.batch, args.frames, args.objects, d) / d ** 0.5
    valid = torch.rand(args.batch, args.frames, args.objects) >= args.empty
    print(f"{torch.get_num_threads()} threads; B={args.batch} T={args.frames} K={args.objects} "
          f"({valid.float().mean():.0%} real slots) D={d} h_theta {2 * d}->512->512->512; "
          f"median of {args.repeats}, interleaved")
    print(f"{'pair set':<12} {'pairs':>6} {'loop ms':>10} {'vector ms':>10} {'speed-up':>9}")
    ratios = []
    for name, training in (("evaluation", False), ("training", True)):
        members, later, weight = relation_cliques(args.frames, clique=2, pairs="inter", training=training,
                                                  batch=args.batch)
        loop = partial(loop_relations, mlp, objects, valid, members, later, weight)
        vector = partial(clique_relations, mlp, objects, valid, members, later, weight)
        with torch.no_grad():
            expected, (got, _, _) = loop(), vector()
            scale = expected.abs().max().item()
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-5 * scale)
            count = sum(int((valid[c, members[c, :, 0]].sum(-1) * valid[c, members[c, :, 1]].sum(-1)).sum())
                        for c in range(args.batch))
            times = time_ms({"loop": loop, "vector": vector}, args.warmup, args.repeats)
        loop_ms, vector_ms = statistics.median(times["loop"]), statistics.median(times["vector"])
        ratios.append(loop_ms / vector_ms)
        print(f"{name:<12} {count:>6} {loop_ms:>10.1f} {vector_ms:>10.2f} {loop_ms / vector_ms:>8.1f}x "
              f"(max |diff| / max |g| = {(got - expected).abs().max().item() / scale:.1e})")
    verdict = "met" if min(ratios) >= GOAL else "NOT met"
    print(f"goal: vectorised >= {GOAL:.0f}x faster than the loop: {verdict} (lowest {min(ratios):.1f}x)")


if __name__ == "__main__":
    main()
