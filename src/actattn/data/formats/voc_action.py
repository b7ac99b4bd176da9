"""PASCAL VOC 2012 Action (format ``voc_action``; pascal-voc-2012-action/FORMAT.md: no original file
found). Still images with person boxes; one multi-label task, ``action`` (a person may do several).

- ``ImageSets/Action/<action>_<set>.txt``: ``<image id> <1-based object index> <1|-1>`` per line,
  columns padded with extra spaces (split on whitespace); ``0`` is read as ambiguous
  (``Sample.ambiguous``; the devkit documents 1 / -1 only). Lines without the label column mark an
  unlabelled set (the test set); a set's files must all agree on that.
- ``Annotations/<image id>.xml``: the person's ``<bndbox>`` (``xmin ymin xmax ymax``, VOC's
  1-based pixels) is ``Sample.boxes[0]``; :func:`read_voc_persons` reads an XML's people with
  their ``<actions>``. The XML's ``<actions>`` must agree with the ImageSets labels.
- Classes in the devkit's order (jumping ... walking, other), those whose files are given; each
  set needs every one of them. Splits are the sets (``val`` -> ``validation``); the id is
  ``<image id>/<object index>``, ``video`` ``JPEGImages/<image id>.jpg``.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from actattn.data.formats.base import Box, Problems, ReadResult, RowError, Sample, read_lines

TASK = "action"
ACTIONS = ["jumping", "phoning", "playinginstrument", "reading", "ridingbike", "ridinghorse", "running",
           "takingphoto", "usingcomputer", "walking", "other"]


@dataclass(frozen=True)
class Person:
    """One ``<object>`` of an annotation XML: its box, and the actions marked 1 (None if it has no ``<actions>``)."""

    name: str
    box: Box
    actions: tuple[str, ...] | None


def read_voc_persons(path: str | Path) -> list[Person]:
    """The objects of a VOC annotation XML in file order (object index i+1 is item i)."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ValueError(f"{path}: not valid XML ({err})") from None
    persons = []
    for k, obj in enumerate(root.findall("object"), start=1):
        box = obj.find("bndbox")
        try:
            coords = tuple(float(box.findtext(tag)) for tag in ("xmin", "ymin", "xmax", "ymax"))  # type: ignore[union-attr]
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"{path}: object {k} has no complete <bndbox> (xmin, ymin, xmax, ymax)") from None
        actions = obj.find("actions")
        marked = None if actions is None else tuple(a.tag for a in actions if (a.text or "").strip() == "1")
        persons.append(Person((obj.findtext("name") or "").strip(), coords, marked))  # type: ignore[arg-type]
    return persons


def _set_of(path: Path) -> tuple[str, str]:
    for action in sorted(ACTIONS, key=len, reverse=True):
        if path.stem.startswith(action + "_"):
            return action, path.stem[len(action) + 1:]
    raise ValueError(f"{path}: expected a file named <action>_<set>.txt with an action of {ACTIONS}")


def read_voc_action(imagesets: Iterable[str | Path], *, annotations: str | Path | None = None,
                    strict: bool = True) -> ReadResult:
    """VOC action from ``ImageSets/Action/<action>_<set>.txt`` files; with ``annotations`` (the
    ``Annotations/`` folder) each sample carries its person box, checked against the XML."""
    files: dict[tuple[str, str], Path] = {}
    for path in map(Path, imagesets):
        key = _set_of(path)
        if key in files:
            raise ValueError(f"{path}: action {key[0]} set {key[1]} is given twice")
        files[key] = path
    if not files:
        raise ValueError("no VOC ImageSets/Action/<action>_<set>.txt files given")
    names = [a for a in ACTIONS if any(action == a for action, _ in files)]
    problems = Problems(strict)
    splits: dict[str, list[Sample]] = {}
    xml_cache: dict[str, list[Person]] = {}
    for set_name in sorted({s for _, s in files}):
        missing = [a for a in names if (a, set_name) not in files]
        if missing:
            raise ValueError(f"VOC action set {set_name!r} lacks the files of {missing}")
        values: dict[tuple[str, int], dict[int, int]] = {}
        order: list[tuple[str, int]] = []
        labelled: bool | None = None
        for k, action in enumerate(names):
            path = files[(action, set_name)]
            for number, line in enumerate(read_lines(path), start=1):
                fields = line.split()
                if not fields:
                    continue
                try:
                    if len(fields) not in (2, 3) or not fields[1].isdigit() or int(fields[1]) < 1:
                        raise RowError(f"expected '<image id> <object index> <1|0|-1>', got {line!r}")
                    if labelled is None:
                        labelled = len(fields) == 3
                    if (len(fields) == 3) != labelled:
                        raise RowError("labelled and unlabelled lines mixed in one set")
                    if labelled and fields[2] not in ("1", "0", "-1"):
                        raise RowError(f"label {fields[2]!r} is not 1, 0 or -1")
                    key = (fields[0], int(fields[1]))
                    if k == 0:
                        if key in values:
                            raise RowError(f"person {key[0]}/{key[1]} occurs twice")
                        values[key] = {}
                        order.append(key)
                    elif key not in values:
                        raise RowError(f"person {key[0]}/{key[1]} is not in {files[(names[0], set_name)].name}")
                    elif k in values[key]:
                        raise RowError(f"person {key[0]}/{key[1]} occurs twice")
                except RowError as err:
                    problems.bad(path, number, str(err))
                    continue
                values[key][k] = int(fields[2]) if labelled else 0
        samples = []
        for image, obj in order:
            got = values[(image, obj)]
            if len(got) != len(names):
                absent = [names[k] for k in range(len(names)) if k not in got]
                problems.bad(files[(absent[0], set_name)], None, f"person {image}/{obj} is missing")
                continue
            labels = {TASK: tuple(k for k, v in sorted(got.items()) if v == 1)} if labelled else {}
            ambiguous = {TASK: tuple(k for k, v in sorted(got.items()) if v == 0)} if labelled else {}
            boxes: tuple[Box, ...] = ()
            if annotations is not None:
                xml = Path(annotations) / f"{image}.xml"
                if not xml.is_file():
                    problems.bad(xml, None, f"person {image}/{obj}: no annotation XML")
                    continue
                if image not in xml_cache:
                    xml_cache[image] = read_voc_persons(xml)
                persons = xml_cache[image]
                if obj > len(persons):
                    problems.bad(xml, None, f"person {image}/{obj}: the XML has {len(persons)} objects")
                    continue
                person = persons[obj - 1]
                if labelled and person.actions is not None:
                    expected = {names[k] for k in labels[TASK]}
                    if set(person.actions) & set(names) != expected:
                        problems.bad(xml, None, f"person {image}/{obj}: <actions> {sorted(person.actions)} disagree "
                                                f"with the ImageSets labels {sorted(expected)}")
                        continue
                boxes = (person.box,)
            samples.append(Sample(f"{image}/{obj}", f"JPEGImages/{image}.jpg", labels, ambiguous=ambiguous,
                                  boxes=boxes))
        splits["validation" if set_name == "val" else set_name] = samples
    return problems.result("voc_action", {TASK: names}, splits, multi_label=[TASK])
