"""Time forward+backward of the attentional pooling variants against average pooling.

Same random feature maps (B, T, C, H, W) for every head; the backward pass starts from the
summed logits (plus the pose heatmap loss for the pose-regularised head) and reaches the
features, as it would in training. Prints the median time (and the fastest run, a guide on a
busy machine), its ratio to average pooling, the parameter count and its ratio.

    PYTHONPATH=src python benchmarks/bench_heads.py [--grids 7 14] [--repeats 5]

(or without PYTHONPATH after ``pip install -e .``)
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from actattn.heads import AttentionalPooling, AveragePooling, pose_heatmap_loss
from timing import ratio_rows, time_ms

POSE_JOINTS = 16
HEADS: dict[str, Callable[[int, int], nn.Module]] = {
    "average pooling": AveragePooling,
    "attentional rank 1": AttentionalPooling,
    "attentional rank 2": partial(AttentionalPooling, rank=2),
    "attentional class-specific": partial(AttentionalPooling, class_specific=True),
    f"attentional pose J={POSE_JOINTS}": partial(AttentionalPooling, pose_joints=POSE_JOINTS),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--channels", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=400)
    parser.add_argument("--grids", type=int, nargs="+", default=[7, 14])
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args()


def step(head: nn.Module, feats: Tensor) -> None:
    """One forward+backward pass from cleared gradients."""
    head.zero_grad(set_to_none=True)
    feats.grad = None
    out = head(feats)
    loss = out.logits["action"].sum()
    if "pose" in out.aux:
        pose = out.aux["pose"]
        loss = loss + pose_heatmap_loss(pose, torch.rand_like(pose), torch.ones(pose.shape[:3], dtype=torch.bool))
    loss.backward()


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    print(
        f"B={args.batch} T={args.frames} C={args.channels} K={args.classes}, "
        f"{torch.get_num_threads()} threads, median of {args.repeats} after {args.warmup} warm-up"
    )
    print(f"{'head':<28} {'grid':>5} {'median ms':>10} {'min ms':>8} {'x avg':>7} {'params':>11} {'x avg':>7}")
    heads = {name: build(args.channels, args.classes).train() for name, build in HEADS.items()}
    params = {name: sum(p.numel() for p in head.parameters()) for name, head in heads.items()}
    base = next(iter(heads))
    for grid in args.grids:
        feats = torch.randn(args.batch, args.frames, args.channels, grid, grid, requires_grad=True)
        times = time_ms({name: partial(step, head, feats) for name, head in heads.items()}, args.warmup, args.repeats)
        for name, row in zip(heads, ratio_rows(times, params, base)):
            print(f"{name:<28} {grid:>2}x{grid:<2} {row}")


if __name__ == "__main__":
    main()
