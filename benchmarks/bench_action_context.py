"""Time the ActX head (Attentive Action and Context Factorization) against average pooling.

The same random non-negative feature maps (B, T, C, H, W) for every head (I3D-like: C = 1024, the
7x7 grid of 224 px input and the paper's 8x11 of 256x352 px, supplement Sec. 2.1); each step is
forward, the head's losses (the action cross-entropy; with a conjugate also L_s and L_d on a
conjugate clip of the same size) and backward. By default as the paper trains (Sec. 4.1): on stored
feature maps, so no gradient reaches the features; ``--trainable-features`` sends it there too, as
with a backbone trained end to end. Rows:
- average pooling (the "I3D" baseline of Table 1);
- ActX, the default head (3x3x3 depthwise conv3d in theta), without a conjugate (the cost at
  test time and of the classification path) and with the conjugate losses (training);
- ActX w/o S^att and ACF (Table 1's ablation and baseline), with the conjugate losses;
- ActX with a 1x1x1 depthwise theta;
- parts of ActX alone, forward and backward: eq. 6's confidences (phi and psi) and theta
  (relu(F + conv3d(F)), 3x3x3 depthwise): where the time goes.

Each row: the median time (and the fastest run, a guide on a busy machine), its ratio to average
pooling, the parameter count and its ratio. No FLOP column: torch's FlopCounterMode counts the
backward of a grouped (depthwise) conv as a dense one. Then the goal: ActX at most 1.3x average
pooling's time, and the added parameters (negligible, Table 1).

    PYTHONPATH=src python benchmarks/bench_action_context.py [--grids 7x7 8x11] [--repeats 7]
        [--trainable-features]

(or without PYTHONPATH after ``pip install -e .``)
"""
from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from actattn.heads import AveragePooling
from actattn.heads.action_context import ActionContextFactorization, channels_last
from actattn.heads.base import Head, Supervision
from timing import ratio_rows, time_ms

BASE, ACTX, ACTX_CONJ = "average pooling", "ActX", "ActX + conjugate losses"
HEADS: dict[str, tuple[Callable[[int, int], Head], bool]] = {  # name -> (build, with a conjugate)
    BASE: (AveragePooling, False),
    ACTX: (ActionContextFactorization, False),
    ACTX_CONJ: (ActionContextFactorization, True),
    "ActX w/o S^att + conjugate": (partial(ActionContextFactorization, attention="no_att"), True),
    "ACF + conjugate": (partial(ActionContextFactorization, attention="acf"), True),
    "ActX theta 1x1x1": (partial(ActionContextFactorization, theta_kernel=1), False),
}
THETA = "  theta alone (3x3x3 dw)"
SCORES = "  eq. 6 confidences alone"
GOAL = 1.3
SUPERVISION = Supervision(action_loss=F.cross_entropy, feature_stride=32)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--channels", type=int, default=1024)
    parser.add_argument("--classes", type=int, default=13, help="ActionThread's 13 actions")
    parser.add_argument("--grids", nargs="+", default=["7x7", "8x11"], help="H x W of the feature maps")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--trainable-features", action="store_true",
                        help="backward into the features too (a trained backbone), not only into the head")
    return parser.parse_args()


def head_step(head: Head, feats: Tensor, conjugate: Tensor | None, labels: Tensor) -> None:
    """Forward, the head's losses and backward from cleared gradients."""
    head.zero_grad(set_to_none=True)
    feats.grad = None
    kwargs = {} if conjugate is None else {"conjugate_feats": conjugate}
    batch = {"label": labels}
    sum(head.losses(head(feats, **kwargs), batch, SUPERVISION).values()).backward()


def theta_step(theta: nn.Module, feats: Tensor) -> None:
    """theta(F) alone on the channels-last map, forward and backward."""
    theta.zero_grad(set_to_none=True)
    feats.grad = None
    theta(channels_last(feats)).mean().backward()


def scores_step(head: ActionContextFactorization, feats: Tensor) -> None:
    """eq. 6's S^act and S^att alone, forward and backward."""
    head.zero_grad(set_to_none=True)
    feats.grad = None
    s_act, s_att = head.maps(feats, channels_last(feats))
    (s_act.mean() + s_att.mean()).backward()


def median_ratio(times: dict[str, list[float]], name: str) -> float:
    return statistics.median(times[name]) / statistics.median(times[BASE])


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    heads = {name: build(args.channels, args.classes).train() for name, (build, _) in HEADS.items()}
    params = {name: sum(p.numel() for p in head.parameters()) for name, head in heads.items()}
    params[THETA] = sum(p.numel() for p in heads[ACTX].theta.parameters())
    params[SCORES] = sum(p.numel() for conv in (heads[ACTX].phi, heads[ACTX].psi) for p in conv.parameters())
    labels = torch.randint(args.classes, (args.batch,))
    print(f"{torch.get_num_threads()} threads; B={args.batch} T={args.frames} C={args.channels} K={args.classes}, "
          f"conjugate clips of the same size; median of {args.repeats} interleaved runs after {args.warmup} warm-ups; "
          f"gradients into {'the features and ' if args.trainable_features else ''}the head")
    print(f"{'head':<28} {'grid':>5} {'median ms':>10} {'min ms':>8} {'x avg':>7} {'params':>11} {'x avg':>7}")
    ratios = {}
    for grid in args.grids:
        h, w = (int(v) for v in grid.split("x"))
        shape = (args.batch, args.frames, args.channels, h, w)
        feats = torch.randn(*shape).relu().requires_grad_(args.trainable_features)
        conjugate = torch.randn(*shape).relu().requires_grad_(args.trainable_features)
        steps = {name: partial(head_step, heads[name], feats, conjugate if with_conj else None, labels)
                 for name, (_, with_conj) in HEADS.items()}
        steps[THETA] = partial(theta_step, heads[ACTX].theta, feats)
        steps[SCORES] = partial(scores_step, heads[ACTX], feats)
        times = time_ms(steps, args.warmup, args.repeats)
        for name, row in zip(times, ratio_rows(times, params, BASE)):
            print(f"{name:<28} {grid:>5} {row}")
        ratios[grid] = times
    print("goals (ratios of median times):")
    for grid, times in ratios.items():
        for name in (ACTX, ACTX_CONJ):
            ratio = median_ratio(times, name)
            print(f"  {grid} {name} / {BASE}: {ratio:.2f}, goal <= {GOAL}: {'met' if ratio <= GOAL else 'NOT met'}")
        for part in (THETA, SCORES):
            print(f"  {grid} {part.strip()} / ActX: {median_ratio(times, part) / median_ratio(times, ACTX):.0%}")
    added = params[ACTX] - params[BASE]
    print(f"  ActX adds {added:,} parameters to average pooling's {params[BASE]:,} "
          f"({added / 13.4e6:.2%} of Table 1's 13.4M I3D backbone)")


if __name__ == "__main__":
    main()
