"""actattn conjugates SOURCE: mine ActX's conjugate samples, cache them and draw a few.

Sources (actattn.conjugates.sources):
  synthhoi    the idle lead-in and tail of each scene of a SynthHOI split
  segments    the frames before and after each annotated action of any format with times
              (EPIC, ActivityNet/HACS, Charades ...), never overlapping another annotated segment
  neighbours  the k nearest negatives by pooled feature maps of actattn extract (HACS-30: 3)
  stills      still images with every annotated person removed and filled in (voc_action)

Each run writes OUT (the cache: its videos relative to OUT's folder; stills also write their
images to OUT's folder, in <OUT stem>-inpainted/), prints the count of each kind and the samples
without a conjugate, and draws --pictures samples beside their conjugates (OUT with .png).
Segments and stills read the annotation files as actattn data inspect does.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from actattn.conjugates.cache import KINDS, relative_to, save_pairs
from actattn.conjugates.figure import pairs_figure
from actattn.conjugates.sources import Mined, from_neighbours, from_segments, from_stills, from_synthhoi
from actattn.data.formats import FORMATS, ReadResult
from actattn.data.inspect import parse_option, read

SHOWN = 10  # sample keys and skipped items printed


def _read(args: argparse.Namespace) -> ReadResult:
    """The annotation files of ``args``, read as ``actattn data inspect`` reads them."""
    options = dict(parse_option(item) for item in args.option)
    return read(args.format, args.files, args.file, options, strict=not args.lenient)


def _synthhoi(args: argparse.Namespace) -> Mined:
    return from_synthhoi(Path(args.data), args.split, args.min_frames)


def _segments(args: argparse.Namespace) -> Mined:
    return from_segments(_read(args), video_dir=args.video_dir, frames_dir=args.frames_dir, video_ext=args.video_ext,
                         frame_rate=args.frame_rate, splits=args.split, min_frames=args.min_frames,
                         max_seconds=args.max_seconds)


def _neighbours(args: argparse.Namespace) -> Mined:
    return from_neighbours(args.features, args.negatives, args.k)


def _stills(args: argparse.Namespace) -> Mined:
    out = Path(args.out)
    return from_stills(_read(args), video_dir=args.video_dir, images_dir=out.parent / f"{out.stem}-inpainted",
                       splits=args.split)


def report(out: Path, mined: Mined) -> str:
    """What a run prints: the samples, the count of each kind, those without a conjugate, the skips."""
    counts = {kind: sum(c.kind == kind for value in mined.pairs.values() for c in value) for kind in KINDS}
    lonely = [key for key, value in mined.pairs.items() if not value]
    kinds = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "0 conjugates"
    listed = (": " + ", ".join(lonely[:SHOWN]) + (" ..." if len(lonely) > SHOWN else "")) if lonely else ""
    lines = [f"{out}: {len(mined.pairs)} samples; {kinds}; {len(lonely)} without a conjugate{listed}"]
    if mined.skipped:
        lines.append(f"skipped {len(mined.skipped)}:")
        lines += [f"  {item}" for item in mined.skipped[:SHOWN]] + (["  ..."] if len(mined.skipped) > SHOWN else [])
    return "\n".join(lines)


def cmd_conjugates(args: argparse.Namespace) -> None:
    """Mine, write the cache, print the report and draw the picture."""
    out = Path(args.out)
    mined = args.mine(args)
    save_pairs(relative_to(mined.pairs, mined.root, out.parent), out)
    print(report(out, mined))
    if args.pictures and any(mined.pairs.values()):
        picture = pairs_figure(mined.root, mined.pairs, mined.samples, out.with_suffix(".png"), args.pictures)
        print(f"picture: {picture}")


def _source(sources: argparse._SubParsersAction, name: str, text: str, mine) -> argparse.ArgumentParser:
    p = sources.add_parser(name, help=text, description=text)
    p.add_argument("--out", required=True, help="the conjugate cache (JSON); the picture is OUT with .png")
    p.add_argument("--pictures", type=int, default=4, help="samples drawn beside their conjugates (0: none)")
    p.set_defaults(func=cmd_conjugates, mine=mine)
    return p


def _annotation_files(p: argparse.ArgumentParser, format: str | None = None) -> None:
    """The options of ``actattn data inspect`` that say which files to read and how, and ``--split``."""
    p.add_argument("--format", required=format is None, default=format, choices=list(FORMATS),
                   help="the dataset format" + (f" (default: {format})" if format else ""))
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="annotation files, matched to the format's roles by name (actattn data inspect --help)")
    p.add_argument("--file", action="append", default=[], metavar="ROLE=PATH", help="a file for an explicit role")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a reader keyword")
    p.add_argument("--lenient", action="store_true", help="skip malformed rows instead of stopping at the first")
    p.add_argument("--split", action="append", metavar="NAME", help="a split of the files to mine (repeatable; "
                                                                     "default: every split read)")


def add_conjugates_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``actattn conjugates SOURCE`` to the CLI's subcommands."""
    p = sub.add_parser("conjugates", help="mine ActX's conjugate samples (before/after the action, nearest "
                                          "negatives, stills without the actor): a cache and a picture",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sources = p.add_subparsers(dest="source", required=True, metavar="SOURCE")
    s = _source(sources, "synthhoi", "the idle lead-in and tail of each scene of a SynthHOI split", _synthhoi)
    s.add_argument("--data", required=True, help="SynthHOI scenes in SSv2 layout (actattn synth, or a demo's data/)")
    s.add_argument("--split", default="train")
    s.add_argument("--min-frames", type=int, default=4, help="the shortest lead-in or tail kept")
    g = _source(sources, "segments", "the frames before and after each annotated action", _segments)
    _annotation_files(g)
    g.add_argument("--video-dir", help="the videos: VIDEO_DIR/<the sample's video>")
    g.add_argument("--frames-dir", help="frame folders instead (EPIC's layout)")
    g.add_argument("--video-ext", help="the videos' suffix where the annotations name none (e.g. .mp4)")
    g.add_argument("--frame-rate", type=float, help="the rate frame folders were extracted at (default: the reader's)")
    g.add_argument("--min-frames", type=int, default=4, help="the shortest span kept")
    g.add_argument("--max-seconds", type=float, help="keep at most this much next to the action (default: the gap)")
    n = _source(sources, "neighbours", "the k nearest negatives by pooled feature maps (actattn extract)", _neighbours)
    n.add_argument("--features", required=True, help="the positives' feature folder (actattn extract --out)")
    n.add_argument("--negatives", required=True,
                   help="the negatives' feature folder, or a text file of ids (one a line) of maps in --features")
    n.add_argument("-k", type=int, default=3, help="neighbours per positive (HACS-30: 3)")
    t = _source(sources, "stills", "still images with every annotated person removed and filled in", _stills)
    _annotation_files(t, "voc_action")
    t.add_argument("--video-dir", required=True, help="the images: VIDEO_DIR/<the sample's image>")
    return p
