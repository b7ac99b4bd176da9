"""Time ``actattn extract`` per backbone, and what training on stored features saves per step.

Extraction table: ``extract_jobs`` over a few synthetic videos (random pixels written as H.264 with
PyAV, decoded, resized to ``--size``, through the backbone with random weights, stored as float16),
each backbone in turn within every repeat (interleaved), into a fresh folder each time (no resume);
clips/s and frames/s from the median.

Step table: one training step (forward, cross-entropy, backward, Adam update) of the same head
(``--head``) on ``--batch`` clips of ``--frames`` frames at ``--size``: on the stored maps through the
``precomputed`` backbone, against the same head on pixels with the backbone frozen (forward under
no_grad: what extraction does once) and trained (backward through it). The ratio is each row's
median over the features row's. Data loading is not timed (decoding costs extra on the pixel path).

    PYTHONPATH=src:benchmarks python benchmarks/bench_extract.py [--videos 2] [--frames 16]
        [--size 112 112] [--repeats 7] [--backbones small_cnn r2plus1d_18 s3d]

CPU only (``CUDA_VISIBLE_DEVICES=`` is set before torch loads); medians of ``--repeats`` runs.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from actattn.data.video import write_video  # noqa: E402
from actattn.extract import ExtractSettings, build_backbone, extract_jobs, list_jobs  # noqa: E402
from actattn.models import create_model  # noqa: E402
from timing import time_ms  # noqa: E402


def write_videos(folder: Path, count: int, frames: int, height: int, width: int) -> Path:
    rng = np.random.default_rng(0)
    for i in range(count):
        write_video(folder / f"clip{i}.mp4", rng.integers(0, 256, (frames, height, width, 3), dtype=np.uint8))
    return folder


def extraction(args: argparse.Namespace, root: Path) -> None:
    videos = write_videos(root / "videos", args.videos, args.frames, args.size[0] + 16, args.size[1] + 16)
    jobs = list_jobs(videos)
    settings = {name: ExtractSettings(backbone=name, weights="random", size=tuple(args.size))
                for name in args.backbones}
    backbones = {name: build_backbone(s) for name, s in settings.items()}

    def run(name: str) -> None:
        out = root / f"features-{name}"
        shutil.rmtree(out, ignore_errors=True)
        extract_jobs(jobs, out, backbones[name], settings[name], progress=False)

    times = time_ms({name: (lambda n=name: run(n)) for name in args.backbones}, warmup=1, repeats=args.repeats)
    print(f"extraction: {args.videos} videos x {args.frames} frames, resized to {args.size[0]}x{args.size[1]}, "
          f"whole clips, {torch.get_num_threads()} threads")
    print(f"{'backbone':<14}{'median ms':>11}{'min ms':>9}{'clips/s':>9}{'frames/s':>10}  map per clip")
    for name, runs in times.items():
        seconds = statistics.median(runs) / 1000
        feats = torch.load(root / f"features-{name}" / "clip0.pt", weights_only=True, mmap=True)["features"]
        print(f"{name:<14}{1000 * seconds:>11.1f}{min(runs):>9.1f}{args.videos / seconds:>9.2f}"
              f"{args.videos * args.frames / seconds:>10.1f}  {tuple(feats.shape)} float16")


def training_steps(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    video = torch.randn(args.batch, 3, args.frames, *args.size)
    labels = torch.randint(0, 10, (args.batch,))
    steps, meta = {}, {}
    for name in args.step_backbones:
        backbone = create_model(args.head, num_classes=10, backbone=name).backbone.eval()
        with torch.no_grad():
            feats = backbone(video)
        kwargs = {"out_channels": backbone.out_channels, "output_stride": backbone.output_stride}
        models = {
            f"{name}: features": (create_model(args.head, num_classes=10, backbone="precomputed",
                                               backbone_kwargs=kwargs), feats, "features"),
            f"{name}: pixels, frozen": (create_model(args.head, num_classes=10, backbone=name), video, "frozen"),
            f"{name}: pixels, trained": (create_model(args.head, num_classes=10, backbone=name), video, "trained"),
        }
        for label, (model, inputs, mode) in models.items():
            if mode == "frozen":
                model.backbone.requires_grad_(False).eval()
            params = [p for p in model.parameters() if p.requires_grad]
            optimizer = torch.optim.Adam(params, lr=1e-4)

            def step(model=model, inputs=inputs, mode=mode, optimizer=optimizer) -> None:
                if mode == "frozen":
                    with torch.no_grad():
                        maps = model.backbone(inputs)
                    logits = model.head(maps).logits["action"]
                else:
                    logits = model(inputs).logits["action"]
                optimizer.zero_grad()
                F.cross_entropy(logits, labels).backward()
                optimizer.step()

            steps[label] = step
            meta[label] = (name, tuple(feats.shape))
    times = time_ms(steps, warmup=1, repeats=args.repeats)
    print(f"\ntraining step of {args.head}: batch {args.batch} x {args.frames} frames at {args.size[0]}x{args.size[1]}")
    print(f"{'step':<34}{'median ms':>11}{'min ms':>9}{'x features':>12}  maps")
    for label, runs in times.items():
        base = statistics.median(times[f"{meta[label][0]}: features"])
        print(f"{label:<34}{statistics.median(runs):>11.1f}{min(runs):>9.1f}{statistics.median(runs) / base:>12.1f}"
              f"  {meta[label][1]}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=int, default=2)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--size", type=int, nargs=2, default=[112, 112])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--backbones", nargs="+", default=["small_cnn", "r2plus1d_18", "s3d"])
    p.add_argument("--step-backbones", nargs="+", default=["small_cnn", "r2plus1d_18"])
    p.add_argument("--head", default="attentional_pooling")
    p.add_argument("--batch", type=int, default=2)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as root:
        extraction(args, Path(root))
    training_steps(args)


if __name__ == "__main__":
    main()
