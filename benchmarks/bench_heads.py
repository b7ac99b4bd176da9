"""Time the attentional pooling variants against average pooling: the head alone and a training step.

Heads table: the same random feature maps (B, T, C, H, W) for every head; forward, cross-entropy
(plus the pose heatmap loss against random targets for the pose-regularised head) and backward to
the features, as in training, so without per-class maps. One more row times the pose branch's
hidden layer (1x1 conv C -> 768 + ReLU) alone on the same features.

Step table: each head on a ResNet-50 (random weights, the same for every head) fed the same random
clips; a training step is forward, the same losses, backward and an SGD update.

Each row: the median time (and the fastest run, a guide on a busy machine), its ratio to average
pooling, the forward+backward GFLOP (torch's FlopCounterMode, multiply-adds x2) and its ratio, the
parameter count and its ratio. Then where the pose head's FLOPs go, and the goals: a step of every
variant but the pose-regularised one within 1.05x of average pooling's; the class-specific head at
most 1.5x rank 1's.

    PYTHONPATH=src python benchmarks/bench_heads.py [--grids 7 14] [--repeats 5] [--step-batch 1]

(or without PYTHONPATH after ``pip install -e .``)
"""
from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from actattn.backbones import create_backbone
from actattn.heads import AttentionalPooling, AveragePooling, pose_heatmap_loss
from actattn.models import ActionModel
from actattn.output import ModelOutput
from timing import ratio_rows, time_ms

POSE_JOINTS = 16
POSE = f"attentional pose J={POSE_JOINTS}"
HEADS: dict[str, Callable[[int, int], nn.Module]] = {
    "average pooling": AveragePooling,
    "attentional rank 1": AttentionalPooling,
    "attentional rank 2": partial(AttentionalPooling, rank=2),
    "attentional class-specific": partial(AttentionalPooling, class_specific=True),
    POSE: partial(AttentionalPooling, pose_joints=POSE_JOINTS),
}
HIDDEN = "  pose hidden layer alone"
STEP_GOAL, CLASS_SPECIFIC_GOAL = 1.05, 1.5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--channels", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=400)
    parser.add_argument("--grids", type=int, nargs="+", default=[7, 14])
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--step-batch", type=int, default=1, help="clips per training step (8 frames at 224 px)")
    parser.add_argument("--step-repeats", type=int, default=5)
    return parser.parse_args()


def loss_of(out: ModelOutput, labels: Tensor) -> Tensor:
    """Cross-entropy, plus the pose heatmap loss against random targets for a pose head."""
    loss = F.cross_entropy(out.logits["action"], labels)
    if "pose" in out.aux:
        pose = out.aux["pose"]
        loss = loss + pose_heatmap_loss(pose, torch.rand_like(pose), torch.ones(pose.shape[:3], dtype=torch.bool))
    return loss


def head_step(head: nn.Module, feats: Tensor, labels: Tensor) -> None:
    """Forward, losses and backward from cleared gradients."""
    head.zero_grad(set_to_none=True)
    feats.grad = None
    loss_of(head(feats), labels).backward()


def hidden_step(hidden: nn.Module, frames: Tensor) -> None:
    """The pose hidden layer alone: forward and backward to its input."""
    hidden.zero_grad(set_to_none=True)
    frames.grad = None
    hidden(frames).sum().backward()


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, video: Tensor, labels: Tensor) -> None:
    """One training step: forward, losses, backward, SGD update."""
    optimizer.zero_grad(set_to_none=True)
    loss_of(model(video), labels).backward()
    optimizer.step()


def flop_counts(step: Callable[[], None]) -> dict[str, int]:
    """FLOPs of one call of ``step`` per module (``"Global"``: all of them); the call also warms up."""
    with FlopCounterMode(display=False) as counter:
        step()
    return {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}


def timed(
    steps: dict[str, Callable[[], None]], warmup: int, repeats: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Interleaved times (ms) and total FLOPs of each step; the FLOP count is one of the warm-up calls."""
    flops = {name: flop_counts(step)["Global"] for name, step in steps.items()}
    return time_ms(steps, max(warmup - 1, 0), repeats), flops


def print_rows(label: str, times: dict[str, list[float]], flops: dict[str, int], params: dict[str, int]) -> None:
    """One row per step: ratio_rows' columns, then GFLOP and its ratio to average pooling."""
    base = next(iter(times))
    for name, row in zip(times, ratio_rows(times, params, base)):
        print(f"{name:<28} {label:>7} {row} {flops[name] / 1e9:>8.2f} {flops[name] / flops[base]:>7.2f}")


def median_ratio(times: dict[str, list[float]], name: str, base: str) -> float:
    return statistics.median(times[name]) / statistics.median(times[base])


def head_table(args: argparse.Namespace) -> dict[int, dict[str, list[float]]]:
    """Print the heads table; return its times per grid."""
    heads = {name: build(args.channels, args.classes).train() for name, build in HEADS.items()}
    params = {name: sum(p.numel() for p in head.parameters()) for name, head in heads.items()}
    params[HIDDEN] = sum(p.numel() for p in heads[POSE].pose_hidden.parameters())
    labels = torch.randint(args.classes, (args.batch,))
    head_times = {}
    for grid in args.grids:
        feats = torch.randn(args.batch, args.frames, args.channels, grid, grid, requires_grad=True)
        frames = rearrange(feats.detach(), "b t c h w -> (b t) c h w").requires_grad_()
        steps = {name: partial(head_step, head, feats, labels) for name, head in heads.items()}
        steps[HIDDEN] = partial(hidden_step, heads[POSE].pose_hidden, frames)
        times, flops = timed(steps, args.warmup, args.repeats)
        print_rows(f"{grid}x{grid}", times, flops, params)
        head_times[grid] = times
    flops = flop_counts(partial(head_step, heads[POSE], feats, labels))
    hidden, keypoints = (flops[f"AttentionalPooling.{part}"] / flops["Global"] for part in ("pose_hidden", "pose"))
    print(f"pose head at {grid}x{grid}: FLOPs hidden layer {hidden:.1%}, keypoint conv {keypoints:.1%}, attention "
          f"and loss {1 - hidden - keypoints:.1%}; time of the hidden layer alone "
          f"{median_ratio(times, HIDDEN, POSE):.0%} of the head's")
    return head_times


def step_table(args: argparse.Namespace) -> dict[str, list[float]]:
    """Print the training-step table (each head on a ResNet-50 at 224 px); return its times."""
    video = torch.randn(args.step_batch, 3, args.frames, 224, 224)
    labels = torch.randint(args.classes, (args.step_batch,))
    steps, params = {}, {}
    for name, build in HEADS.items():
        torch.manual_seed(0)
        backbone = create_backbone("resnet50")
        model = ActionModel(backbone, build(backbone.out_channels, args.classes)).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        steps[name] = partial(train_step, model, optimizer, video, labels)
        params[name] = sum(p.numel() for p in model.parameters())
    times, flops = timed(steps, 1, args.step_repeats)
    print_rows("step", times, flops, params)
    return times


def print_goals(head_times: dict[int, dict[str, list[float]]], step_times: dict[str, list[float]]) -> None:
    base = next(iter(HEADS))
    print("goals (ratios of median times):")
    for name in HEADS:
        if name != base:
            ratio = median_ratio(step_times, name, base)
            verdict = "(no goal)" if name == POSE else ("met" if ratio <= STEP_GOAL else "NOT met")
            print(f"  step {name} / {base}: {ratio:.2f}, goal <= {STEP_GOAL}: {verdict}")
    for grid, times in head_times.items():
        ratio = median_ratio(times, "attentional class-specific", "attentional rank 1")
        verdict = "met" if ratio <= CLASS_SPECIFIC_GOAL else "NOT met"
        print(f"  head {grid}x{grid} class-specific / rank 1: {ratio:.2f}, goal <= {CLASS_SPECIFIC_GOAL}: {verdict}")


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    print(f"{torch.get_num_threads()} threads; heads: B={args.batch} T={args.frames} C={args.channels} "
          f"K={args.classes}, median of {args.repeats}; step: resnet50 at 224 px, B={args.step_batch} "
          f"T={args.frames}, median of {args.step_repeats}; one warm-up each (the FLOP count)")
    header = f"{'head':<28} {'input':>7} {'median ms':>10} {'min ms':>8} {'x avg':>7} {'params':>11} {'x avg':>7}"
    print(f"{header} {'GFLOP':>8} {'x avg':>7}")
    print_goals(head_table(args), step_table(args))


if __name__ == "__main__":
    main()
