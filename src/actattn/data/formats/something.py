"""Something-Something V1 and V2, and Something-Else's splits of V2 (formats ``ssv1``, ``ssv2``,
``something_else``). One task, ``action`` (174 templates; Something-Else's splits use subsets).

- V1 (annotations/README.md section 8): ``something-something-v1-labels.csv`` is one class name
  per line, no header, **not sorted**; names hold unquoted commas, so it is read as lines, never
  as CSV. Ids are the index in the **sorted** names (TSM/TRN). ``-train.csv`` / ``-validation.csv``
  lines are ``<id>;<name>`` (exactly one ``;``), ``-test.csv`` one id per line. A sample's video
  is the frame folder ``<id>`` (V1 ships JPEG frames).
- V2 (section 1): labels JSON maps name -> id as a string; split JSON entries
  ``{"id", "label", "template", "placeholders"}``, the class is the template without brackets;
  test entries have only ``id``. CRLF or LF. Video ``<id>.webm``.
- Something-Else (section 7): the same entries (plus ``new_placeholdes`` (sic) in
  ``compositional_oneobject/train.json``), key order varying between and within files; each
  split folder has its ``labels.json`` (fewshot: ``base_labels.json``, ``finetune_labels.json``)
  mapping name -> **int**. The official loader ignores those ints and numbers the classes by
  their sorted names; the file's own ids agree with that for 1 of 174 compositional classes.
  ``ids="loader"`` (the default) follows the loader, so a model trained with the authors' code
  reads the same indices; ``ids="file"`` takes the file's ints (checked to be 0..K-1).
"""
from __future__ import annotations

from pathlib import Path

from actattn.data.formats.base import (
    Ids, Problems, ReadResult, RowError, Sample, class_index, lookup, read_lines,
)
from actattn.data.ssv2 import class_name, read_labels as read_ssv2_labels
from actattn.files import read_json

TASK = "action"


def _ssv1_classes(path: Path) -> list[str]:
    names = [line.strip() for line in read_lines(path)]
    for number, name in enumerate(names, start=1):
        if not name:
            raise ValueError(f"{path}, line {number}: empty class name")
    class_index(names, path)
    return sorted(names)


def read_ssv1(labels: str | Path, *, train: str | Path | None = None, validation: str | Path | None = None,
              test: str | Path | None = None, strict: bool = True) -> ReadResult:
    """Something-Something V1 from ``something-something-v1-labels.csv`` and any of the split CSVs."""
    labels = Path(labels)
    names = _ssv1_classes(labels)
    index = class_index(names, labels)
    problems = Problems(strict)
    splits: dict[str, list[Sample]] = {}
    for split, path in (("train", train), ("validation", validation), ("test", test)):
        if path is None:
            continue
        path = Path(path)
        samples, ids = [], Ids()
        for number, line in enumerate(read_lines(path), start=1):
            if not line.strip():
                continue
            try:
                fields = line.split(";")
                if split == "test":
                    if len(fields) != 1:
                        raise RowError(f"expected one id per line in a test list, got {line!r}")
                    label = {}
                elif len(fields) != 2:
                    raise RowError(f"expected '<id>;<class name>' (one ';'), got {line!r}")
                else:
                    label = {TASK: lookup(index, fields[1].strip())}
                sample_id = fields[0].strip()
                if not sample_id.isdigit():
                    raise RowError(f"id {sample_id!r} is not an integer")
                ids.add(sample_id, f"line {number}")
            except RowError as err:
                problems.bad(path, number, str(err))
                continue
            samples.append(Sample(sample_id, sample_id, label))
        splits[split] = samples
    return problems.result("ssv1", {TASK: names}, splits)


def _entries(path: Path, index: dict[str, int], problems: Problems, *, labelled: bool | None) -> list[Sample]:
    """The samples of a Something-Something V2-style entry list; ``labelled`` None: as the first entry."""
    data = read_json(path)
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of entries, got {type(data).__name__}")
    samples, ids = [], Ids()
    for position, item in enumerate(data):
        where = f"entry {position} (0-based)"
        try:
            if not isinstance(item, dict):
                raise RowError(f"expected an object, got {type(item).__name__}")
            sample_id = item.get("id")
            if not isinstance(sample_id, str) or not sample_id.strip():
                raise RowError(f"'id' must be a non-empty string, got {sample_id!r}")
            placeholders = item.get("placeholders", [])
            if not isinstance(placeholders, list) or not all(isinstance(p, str) for p in placeholders):
                raise RowError(f"id {sample_id}: 'placeholders' must be a list of strings, got {placeholders!r}")
            has_template = "template" in item
            if labelled is None:
                labelled = has_template
            if has_template != labelled:
                raise RowError(f"id {sample_id}: {'has' if has_template else 'has no'} template, unlike the "
                               "first entry (labelled and test entries mixed)")
            label = {}
            if has_template:
                template = item["template"]
                if not isinstance(template, str):
                    raise RowError(f"id {sample_id}: 'template' must be a string, got {template!r}")
                label = {TASK: lookup(index, class_name(template))}
            ids.add(sample_id, where)
        except RowError as err:
            problems.bad(path, None, str(err), where)
            continue
        info: dict[str, object] = {"placeholders": list(placeholders)}
        if "new_placeholdes" in item:  # sic, compositional_oneobject/train.json
            info["new_placeholders"] = list(item["new_placeholdes"])
        samples.append(Sample(sample_id, f"{sample_id}.webm", label, info=info))
    return samples


def read_ssv2(labels: str | Path, *, train: str | Path | None = None, validation: str | Path | None = None,
              test: str | Path | None = None, strict: bool = True) -> ReadResult:
    """Something-Something V2 from ``something-something-v2-labels.json`` and any of the split JSONs."""
    ids = read_ssv2_labels(labels)
    names = sorted(ids, key=ids.__getitem__)
    problems = Problems(strict)
    splits = {}
    for split, path in (("train", train), ("validation", validation), ("test", test)):
        if path is not None:
            splits[split] = _entries(Path(path), ids, problems, labelled=None if split == "test" else True)
    return problems.result("ssv2", {TASK: names}, splits)


def read_something_else_labels(path: str | Path, ids: str = "loader") -> list[str]:
    """The class names of a Something-Else ``labels.json`` in index order (see the module docstring)."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected an object mapping class name to id")
    if ids == "loader":
        return sorted(data)
    if ids != "file":
        raise ValueError(f"ids must be 'loader' (sorted names, as the official loader) or 'file', got {ids!r}")
    values = list(data.values())
    if any(isinstance(v, bool) or not isinstance(v, int) for v in values) or sorted(values) != list(range(len(data))):
        raise ValueError(f"{path}: with ids='file' the ids must be the integers 0..{len(data) - 1}, each once")
    return sorted(data, key=data.__getitem__)


def read_something_else(labels: str | Path, *, train: str | Path | None = None,
                        validation: str | Path | None = None, ids: str = "loader",
                        strict: bool = True) -> ReadResult:
    """One Something-Else split set: its ``labels.json`` and its train and/or validation JSON
    (compositional, compositional_shuffled, compositional_oneobject; fewshot: ``base_labels.json``
    with ``base_training_set.json`` / ``base_validation_set.json``, or ``finetune_labels.json``
    with ``finetune_{5,10}shot_train*.json`` / ``..._validation.json``)."""
    names = read_something_else_labels(labels, ids)
    index = class_index(names, labels)
    problems = Problems(strict)
    splits = {}
    for split, path in (("train", train), ("validation", validation)):
        if path is not None:
            splits[split] = _entries(Path(path), index, problems, labelled=True)
    return problems.result("something_else", {TASK: names}, splits)
