"""``actattn data inspect``: read a dataset's annotation files with one of the format readers
(:mod:`actattn.data.formats`) and show what the project read: samples per split, each task's
classes, the first samples, and every skipped row with its reason; optionally write it as JSON
and count the videos missing under a root.

Files are given positionally and matched to the reader's file roles by their names (e.g. for
``epic100``: ``EPIC_100_verb_classes.csv`` -> ``verb_classes``), or explicitly with
``--file ROLE=PATH`` where a name is ambiguous or unusual.
"""
from __future__ import annotations

import argparse
import ast
import fnmatch
import json
from collections.abc import Sequence
from pathlib import Path

from actattn.data.formats import FORMATS, Format, ReadResult, Sample


def _role_help() -> str:
    lines = ["formats and their file roles (ROLE: file-name patterns; * = required, [] = several files):"]
    for spec in FORMATS.values():
        roles = ", ".join(f"{r.keyword}{'*' if r.required else ''}{'[]' if r.many else ''}: {'|'.join(r.patterns)}"
                          for r in spec.roles)
        lines.append(f"  {spec.name}: {spec.summary}\n      {roles}")
    return "\n".join(lines)


def assign_files(spec: Format, files: Sequence[str | Path], explicit: Sequence[str] = ()) -> dict[str, object]:
    """The reader's keyword arguments: each ``ROLE=PATH`` of ``explicit``, then each positional file
    under the one role whose patterns match its name. Ambiguous or unmatched names are errors."""
    roles = {role.keyword: role for role in spec.roles}
    kwargs: dict[str, object] = {}

    def put(role_name: str, path: Path) -> None:
        role = roles[role_name]
        if role.many:
            kwargs.setdefault(role_name, [])
            kwargs[role_name].append(path)  # type: ignore[union-attr]
        elif role_name in kwargs:
            raise ValueError(f"two files for {spec.name}'s {role_name!r}: {kwargs[role_name]} and {path}")
        else:
            kwargs[role_name] = path

    for item in explicit:
        name, sep, value = item.partition("=")
        if not sep or name not in roles:
            raise ValueError(f"--file {item!r}: expected ROLE=PATH with ROLE one of {list(roles)} for {spec.name}")
        put(name, Path(value))
    for file in map(Path, files):
        matches = [role.keyword for role in spec.roles
                   if any(fnmatch.fnmatch(file.name.lower(), p.lower()) for p in role.patterns)]
        if len(matches) != 1:
            why = "matches no" if not matches else f"matches several ({', '.join(matches)}) of the"
            raise ValueError(f"{file}: its name {why} file roles of {spec.name} ({', '.join(roles)}); "
                             "pass it as --file ROLE=PATH")
        put(matches[0], file)
    missing = [role.keyword for role in spec.roles if role.required and role.keyword not in kwargs]
    if missing:
        raise ValueError(f"{spec.name} needs the files for {missing} (see actattn data inspect --help)")
    return kwargs


def parse_option(item: str) -> tuple[str, object]:
    name, sep, value = item.partition("=")
    if not sep or not name.isidentifier():
        raise ValueError(f"--option {item!r}: expected KEY=VALUE")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def read(format: str, files: Sequence[str | Path], explicit: Sequence[str] = (), options: dict | None = None,
         strict: bool = True) -> ReadResult:
    """Run ``format``'s reader on ``files`` (see :func:`assign_files`) with extra keyword ``options``."""
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; known: {', '.join(FORMATS)}")
    spec = FORMATS[format]
    kwargs = assign_files(spec, files, explicit)
    if format != "csv":
        kwargs["strict"] = strict
    return spec.reader(**kwargs, **(options or {}))


def sample_json(sample: Sample) -> dict:
    """A sample as ``{"id", "video", "labels": {task: index or [indices]}, "start", "stop"}`` (+ ``ambiguous``
    where it has any)."""
    out = {"id": sample.id, "video": sample.video,
           "labels": {task: list(v) if isinstance(v, tuple) else v for task, v in sample.labels.items()},
           "start": sample.start, "stop": sample.stop}
    if any(sample.ambiguous.values()):
        out["ambiguous"] = {task: list(v) for task, v in sample.ambiguous.items()}
    return out


def result_json(result: ReadResult) -> dict:
    """``{"format", "tasks": {task: [class names]}, "splits": {split: count}, "samples": [...], "skipped": [...]}``;
    each sample also says its ``split``."""
    samples = [{**sample_json(s), "split": split} for split, items in result.splits.items() for s in items]
    return {"format": result.format, "tasks": result.tasks,
            "splits": {split: len(items) for split, items in result.splits.items()}, "samples": samples,
            "skipped": [{"file": s.file, "line": s.line, "item": s.item, "reason": s.reason} for s in result.skipped]}


def _label_text(result: ReadResult, sample: Sample) -> str:
    parts = []
    for task, value in sample.labels.items():
        names = result.tasks[task]
        if isinstance(value, tuple):
            parts.append(f"{task}=[{', '.join(f'{i} {names[i]!r}' for i in value)}]")
        else:
            parts.append(f"{task}={value} {names[value]!r}")
    for task, value in sample.ambiguous.items():
        if value:
            parts.append(f"{task} ambiguous={list(value)}")
    return "; ".join(parts) or "(unlabelled)"


def missing_videos(result: ReadResult, root: str | Path) -> list[str]:
    """The distinct ``video`` paths that exist under ``root`` neither as named nor with some extension."""
    root, missing, checked = Path(root), [], set()
    for sample in result.samples():
        if sample.video in checked:
            continue
        checked.add(sample.video)
        path = root / sample.video
        if not path.exists() and not any(path.parent.glob(f"{path.name}.*")):
            missing.append(sample.video)
    return missing


def summary(result: ReadResult, *, first: int = 5, classes: int = 5) -> str:
    """The text that ``actattn data inspect`` prints."""
    lines = [f"format {result.format}: {len(result.samples())} samples"]
    for split, samples in result.splits.items():
        lines.append(f"  {split}: {len(samples)}")
    for task, names in result.tasks.items():
        kind = " (multi-label)" if task in result.multi_label else ""
        shown = ", ".join(repr(n) for n in names[:classes]) + (", ..." if len(names) > classes else "")
        lines.append(f"task {task}{kind}: {len(names)} classes: {shown}")
    lines.append(f"first {first} samples of each split:")
    for split, samples in result.splits.items():
        for sample in samples[:first]:
            times = "" if sample.start is None else f" [{sample.start:.3f} s, {sample.stop:.3f} s]"
            lines.append(f"  {split} {sample.id}: {sample.video}{times} {_label_text(result, sample)}")
    lines.append(f"skipped {len(result.skipped)} rows" + (":" if result.skipped else ""))
    lines.extend(f"  {skip}" for skip in result.skipped)
    if result.notes:
        lines.append(f"changed {len(result.notes)} rows:")
        lines.extend(f"  {note}" for note in result.notes)
    return "\n".join(lines)


def run_inspect(args: argparse.Namespace) -> int:
    """``actattn data inspect``: print the summary, write ``--json``, count missing videos; 0 when done."""
    options = dict(parse_option(item) for item in args.option)
    result = read(args.format, args.files, args.file, options, strict=not args.lenient)
    print(summary(result, first=args.first))
    if args.video_root is not None:
        missing = missing_videos(result, args.video_root)
        total = len({s.video for s in result.samples()})
        print(f"videos missing under {args.video_root}: {len(missing)} of {total}"
              + (f" (first: {', '.join(missing[:5])})" if missing else ""))
    if args.json is not None:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result_json(result), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0


def _command(args: argparse.Namespace) -> None:
    code = run_inspect(args)
    if code:
        raise SystemExit(code)


def add_inspect_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``actattn data inspect`` to the CLI's subcommands (``add_inspect_parser(sub)`` in ``cli.parser``);
    the command's function is ``args.func`` as for the other subcommands."""
    data = sub.add_parser("data", help="dataset annotation files: inspect what the project reads from them")
    commands = data.add_subparsers(dest="data_command", required=True)
    p = commands.add_parser("inspect", help="read annotation files with a format reader and show what was read",
                            description=__doc__, epilog=_role_help(),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--format", required=True, choices=list(FORMATS), help="the dataset format")
    p.add_argument("files", nargs="*", metavar="FILE", help="annotation files, matched to roles by name (below)")
    p.add_argument("--file", action="append", default=[], metavar="ROLE=PATH",
                   help="a file for an explicit role (when its name does not say it)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a reader keyword, e.g. ids='file' (something_else), train_participants=25 (epic55), "
                        "multi_label=True (csv)")
    p.add_argument("--lenient", action="store_true", help="skip malformed rows (listed) instead of stopping at the first")
    p.add_argument("--json", metavar="OUT", help="write format, tasks, samples (and skipped rows) as JSON")
    p.add_argument("--video-root", help="count the samples' videos missing under this folder")
    p.add_argument("--first", type=int, default=5, help="samples shown per split")
    p.set_defaults(func=_command)
    return p
