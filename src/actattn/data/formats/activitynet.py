"""ActivityNet v1.2/v1.3 and HACS Segments JSON (format ``activitynet``; annotations/README.md
section 9, activitynet/FORMAT.md, hacs/FORMAT.md). One task, ``action``.

- ``{"taxonomy": [...], "version", "database": {youtube_id: {"subset": "training" | "validation" |
  "testing", "duration", "url", "annotations": [{"segment": [start, end], "label"}]}}}``; HACS
  Segments has the same database (its ``duration`` may be a **string**, ``"92.166667"``) and may
  lack a taxonomy. Key order varies; testing videos have no annotations.
- Classes: the taxonomy's leaves by ``nodeId`` (nodes no other node names as ``parentId``),
  sorted by name. Leaves by *name* would miss ``Playing volleyball``, a leaf (id 342) that shares
  its name with a parent (id 123); node ids are not unique either (268 twice). Without a taxonomy:
  the sorted labels of the file. (The official evaluation numbers classes by first appearance in
  the ground truth, which depends on the file; names are what its results carry.)
- One sample per annotated segment, id ``<youtube_id>_<k>`` (k: 0-based position in the list);
  a testing (or unannotated) video is one unlabelled sample with id ``<youtube_id>``. ``video`` is
  the crawler's file name ``v_<youtube_id>.mp4``. Splits ``train``, ``validation``, ``test``.
- A segment that ends after ``duration`` (74 in v1.3, e.g. 124.18031746 for 124.18) is clipped to
  it (a counted note); one with a missing or non-numeric time, or with start >= stop (after
  clipping), is skipped (counted).
"""
from __future__ import annotations

from pathlib import Path

from actattn.data.formats.base import Problems, ReadResult, RowError, Sample, class_index, lookup, parse_seconds
from actattn.files import read_json

TASK = "action"
SUBSETS = {"training": "train", "validation": "validation", "testing": "test"}


def taxonomy_classes(taxonomy: object, path: str | Path) -> list[str]:
    """The leaf names of an ActivityNet taxonomy (see the module docstring), sorted."""
    if not isinstance(taxonomy, list) or not all(isinstance(n, dict) and "nodeId" in n and "nodeName" in n
                                                  for n in taxonomy):
        raise ValueError(f"{path}: 'taxonomy' must be a list of nodes with nodeId and nodeName")
    parents = {node.get("parentId") for node in taxonomy}
    leaves = {node["nodeName"] for node in taxonomy if node["nodeId"] not in parents}
    return sorted(leaves)


def read_activitynet(path: str | Path, *, strict: bool = True) -> ReadResult:
    """ActivityNet (``activity_net.v1-3.min.json``) or HACS (``HACS_segments_v1.1.1.json``) segments."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise ValueError(f"{path}: expected an object with a 'database' object")
    database = data["database"]
    problems = Problems(strict)
    if "taxonomy" in data:
        names = taxonomy_classes(data["taxonomy"], path)
    else:
        names = sorted({a.get("label") for v in database.values() if isinstance(v, dict)
                        for a in v.get("annotations") or [] if isinstance(a, dict) and isinstance(a.get("label"), str)})
    index = class_index(names, path)
    splits: dict[str, list[Sample]] = {"train": [], "validation": [], "test": []}
    for video_id, video in database.items():
        where = f"database[{video_id!r}]"
        try:
            if not isinstance(video, dict):
                raise RowError(f"expected an object, got {type(video).__name__}")
            if video.get("subset") not in SUBSETS:
                raise RowError(f"subset {video.get('subset')!r} is not training, validation or testing")
            duration = parse_seconds(video.get("duration"), "duration")
            annotations = video.get("annotations", [])
            if not isinstance(annotations, list):
                raise RowError("'annotations' must be a list")
        except RowError as err:
            problems.bad(path, None, str(err), where)
            continue
        split = SUBSETS[video["subset"]]
        info = {"youtube_id": video_id, "duration": duration, "url": video.get("url")}
        if not annotations:
            splits[split].append(Sample(video_id, f"v_{video_id}.mp4", {}, info=info))
            continue
        for k, annotation in enumerate(annotations):
            item = f"{where} segment {k}"
            try:
                if not isinstance(annotation, dict) or not isinstance(annotation.get("label"), str):
                    raise RowError(f"expected an object with a 'label', got {annotation!r}")
                label = lookup(index, annotation["label"])
            except RowError as err:
                problems.bad(path, None, str(err), item)
                continue
            segment = annotation.get("segment")
            try:
                if not isinstance(segment, list) or len(segment) != 2:
                    raise RowError(f"segment {segment!r} is not [start, end]")
                start, stop = parse_seconds(segment[0], "segment start"), parse_seconds(segment[1], "segment end")
            except RowError as err:
                problems.skip(path, None, f"missing timestamps: {err}", item)
                continue
            if stop > duration:
                problems.note(path, None, f"segment end {stop} s clipped to the duration {duration} s", item)
                stop = duration
            if not start < stop:
                problems.skip(path, None, f"segment start {start} s is not before its end {stop} s", item)
                continue
            splits[split].append(Sample(f"{video_id}_{k}", f"v_{video_id}.mp4", {TASK: label}, start, stop,
                                        info=info))
    return problems.result("activitynet", {TASK: names}, splits)
