"""Time an ORN training step against its baseline, the activity head alone, on the same backbone.

Both models are :class:`~actattn.heads.ObjectRelationNetwork` on one ResNet (random weights, the same
for both): ``heads="both"`` (the activity head, the object head with its inter-frame relations and
the object loss) and ``heads="activity"`` (Table 2's baseline). Both get the same random clips and,
for ORN, K random box masks per frame with random classes. A step is forward, the head's own losses,
backward and an Adam update (the paper's optimiser). Medians of interleaved repeats; the ratio to
the baseline, and the parameters each step trains (those with a gradient: the baseline model holds
the object head too, unused).

    PYTHONPATH=src python benchmarks/bench_orn_step.py [--arch resnet50] [--frames 8] [--objects 10]
"""
from __future__ import annotations

import argparse
import statistics

import torch
import torch.nn.functional as F

from actattn.heads import Supervision
from actattn.models import create_model
from timing import time_ms


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--frames", type=int, default=8, help="8 for Something-Something, 4 for VLOG and EPIC")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--objects", type=int, default=10, help="K slots per frame (the authors' at most 10)")
    parser.add_argument("--classes", type=int, default=174)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    return parser.parse_args()


def random_objects(batch: int, frames: int, slots: int, grid: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """K box-shaped masks per frame on a ``grid`` square, random classes, a third of the slots empty."""
    corner = torch.randint(0, grid // 2, (batch, frames, slots, 2))
    side = torch.randint(4, grid // 2, (batch, frames, slots, 2))
    cells = torch.arange(grid)
    rows = (cells >= corner[..., :1]) & (cells < corner[..., :1] + side[..., :1])
    cols = (cells >= corner[..., 1:]) & (cells < corner[..., 1:] + side[..., 1:])
    masks = (rows[..., :, None] & cols[..., None, :]).float()
    classes = torch.randint(0, 80, (batch, frames, slots))
    empty = torch.rand(batch, frames, slots) < 1 / 3
    return masks.masked_fill(empty[..., None, None], 0.0), classes.masked_fill(empty, -1)


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    video = torch.randn(args.batch, 3, args.frames, args.size, args.size)
    masks, classes = random_objects(args.batch, args.frames, args.objects)
    batch = {"video": video, "label": torch.randint(0, args.classes, (args.batch,)),
             "object_masks": masks, "object_classes": classes}
    models, steps = {}, {}
    for name, heads in (("activity head alone", "activity"), ("ORN (both heads)", "both")):
        torch.manual_seed(0)
        model = create_model("object_relation", num_classes=args.classes, backbone=args.arch, heads=heads).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        supervision = Supervision(F.cross_entropy, model.backbone.output_stride)

        def step(model=model, optimizer=optimizer, supervision=supervision) -> None:
            optimizer.zero_grad()
            out = model(batch["video"], **model.head.inputs(batch))
            sum(model.head.losses(out, batch, supervision).values()).backward()
            optimizer.step()

        models[name], steps[name] = model, step
    times = time_ms(steps, args.warmup, args.repeats)
    base = statistics.median(times["activity head alone"])
    print(f"{args.arch}, batch {args.batch} x {args.frames} frames at {args.size} px, K = {args.objects} slots; "
          f"{torch.get_num_threads()} threads; median of {args.repeats}, interleaved")
    print(f"{'model':<22} {'ms':>9} {'fastest':>9} {'ratio':>6} {'trained parameters':>19}")
    for name, runs in times.items():
        params = sum(p.numel() for p in models[name].parameters() if p.grad is not None)
        print(f"{name:<22} {statistics.median(runs):>9.1f} {min(runs):>9.1f} {statistics.median(runs) / base:>6.2f} "
              f"{params:>19,}")


if __name__ == "__main__":
    main()
