"""Time a training step of the Dual Attention Network's modes against the TRN baseline.

Every mode (Table 1's rows) is a DualAttention head with multi-scale TRN on the same backbone,
fed the same random clips; a step is forward, the summed cross-entropies of
:func:`actattn.heads.dual_attention_loss` (action and both objects, both steps in ``"dual"``),
backward and an SGD update, as in training. Prints the median time (and the fastest run, a guide
on a busy machine), its ratio to the baseline, the parameter count and its ratio.

    PYTHONPATH=src python benchmarks/bench_dual_attention.py [--backbone resnet50 --size 224]

(or without PYTHONPATH after ``pip install -e .``)
"""
from __future__ import annotations

import argparse
from functools import partial

import torch
from torch import Tensor

from actattn.heads import dual_attention_loss
from actattn.heads.dual_attention import MODES
from actattn.models import ActionModel, create_model
from timing import ratio_rows, time_ms


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=4, help="TRN-4, the paper's ablation setting")
    parser.add_argument("--actions", type=int, default=174)
    parser.add_argument("--objects", type=int, default=308, help="307 clusters and the null label")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    return parser.parse_args()


def step(model: ActionModel, optimizer: torch.optim.Optimizer, video: Tensor, actions: Tensor, objects: Tensor) -> None:
    """One training step: forward, the Dual Attention losses, backward, SGD update."""
    optimizer.zero_grad(set_to_none=True)
    out = model(video, action_labels=actions, object_labels=objects)
    sum(dual_attention_loss(out, actions, objects).values()).backward()
    optimizer.step()


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    print(f"{args.backbone} at {args.size} px, B={args.batch} T={args.frames}, K={args.actions} actions, "
          f"{args.objects} objects, {torch.get_num_threads()} threads, median of {args.repeats} "
          f"after {args.warmup} warm-up")
    video = torch.randn(args.batch, 3, args.frames, args.size, args.size)
    actions = torch.randint(args.actions, (args.batch,))
    objects = torch.randint(args.objects, (args.batch, 2))
    steps, params = {}, {}
    for mode in MODES:
        torch.manual_seed(0)
        model = create_model("dual_attention", num_classes=args.actions, backbone=args.backbone,
                             num_objects=args.objects, mode=mode, temporal="trn", num_frames=args.frames).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        steps[mode] = partial(step, model, optimizer, video, actions, objects)
        params[mode] = sum(p.numel() for p in model.parameters())
    times = time_ms(steps, args.warmup, args.repeats)
    print(f"{'mode':<10} {'median ms':>10} {'min ms':>8} {'x base':>7} {'params':>11} {'x base':>7}")
    for mode, row in zip(steps, ratio_rows(times, params, "baseline")):
        print(f"{mode:<10} {row}")


if __name__ == "__main__":
    main()
