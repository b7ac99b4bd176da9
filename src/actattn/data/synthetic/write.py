"""Write SynthHOI scenes to disk in the Something-Something V2 release layout.

``root/`` gets:
- ``videos/{id}.mp4``: H.264 (4:4:4) through :func:`actattn.data.video.write_video`;
- ``something-something-v2-labels.json``: class name (template without brackets) -> id as a string;
- ``something-something-v2-{split}.json``: a list of ``{"id", "label", "template", "placeholders"}``
  with ``id`` a string and ``label`` the lower-case filled sentence, as in the real files;
- ``groundtruth/{id}.npz``: every ground-truth array of :class:`~actattn.data.synthetic.Scene`
  (boolean masks bit-packed), read back with :func:`load_groundtruth`;
- ``synthhoi.json``: config, seed, counts, templates, objects, contexts and keypoint names.

Ids run 1, 2, ... over the splits in the order of ``counts``; labels are balanced per split
(``index % num_classes``, shuffled from the seed); scene ``id`` is rendered from the seed
``item_seed(seed, id)``, stored in its ground-truth file.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from tqdm import tqdm

from actattn.data.ssv2 import class_name, release_file
from actattn.data.synthetic.catalog import CONTEXTS, KEYPOINT_NAMES, OBJECTS, TEMPLATES, SynthConfig
from actattn.data.synthetic.scenes import render_scene_for_label
from actattn.data.video import write_video

_PACKED = ("masks", "arm_masks", "contact")
_ARRAYS = ("categories", "manipulated", "boxes", "hand_boxes", "keypoints")


def item_seed(seed: int, item_id: int) -> int:
    """The rendering seed of scene ``item_id`` of a dataset written with ``seed``."""
    return int(np.random.SeedSequence([seed, item_id]).generate_state(1)[0])


def _sentence(text: str, placeholders: list[str]) -> str:
    """The template filled with the placeholders, lower case (SSv2's ``label`` field)."""
    for name in placeholders:
        text = text.replace("[something]", name, 1)
    return text.lower()


def _write_one(task: tuple[Path, SynthConfig, int, int, int]) -> dict:
    """Render scene ``item_id`` of class ``label``; write its video and ground truth; return its entry."""
    root, config, item_id, seed, label = task
    scene = render_scene_for_label(config, seed, label)
    # 4:4:4: at 64-96 px, 4:2:0 halves the colour resolution of the hand and the small objects, and a
    # small CNN then reached 0.86 top-1 instead of 0.92 on the default preset
    write_video(root / "videos" / f"{item_id}.mp4", scene.frames, fps=config.fps, pix_fmt="yuv444p")
    arrays = {k: getattr(scene, k) for k in _ARRAYS}
    for k in _PACKED:
        mask = getattr(scene, k)
        arrays[k] = np.packbits(mask.ravel())
        arrays[f"{k}_shape"] = np.array(mask.shape)
    np.savez_compressed(root / "groundtruth" / f"{item_id}.npz", label=scene.label, seed=seed,
                        object_labels=np.array(scene.object_labels), context=scene.context,
                        interval=np.array(scene.interval), **arrays)
    return {"id": str(item_id), "label": _sentence(scene.template, scene.placeholders),
            "template": scene.template, "placeholders": scene.placeholders}


def load_groundtruth(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of ``groundtruth/{id}.npz`` with masks unpacked to their ``(T, ...)`` bool shapes."""
    with np.load(path) as archive:
        data = {k: archive[k] for k in archive.files}
    for k in _PACKED:
        if k not in data or f"{k}_shape" not in data:
            raise ValueError(f"{path}: not a SynthHOI ground-truth file (no {k!r} / {k + '_shape'!r})")
        shape = tuple(int(n) for n in data.pop(f"{k}_shape"))
        data[k] = np.unpackbits(data[k], count=int(np.prod(shape))).reshape(shape).astype(bool)
    return data


def _json_lines(items: list[str], open_: str, close: str) -> str:
    """One item per line, as the real release writes its files."""
    return open_ + "\n" + ",\n".join(items) + "\n" + close + "\n"


def _tasks(root: Path, config: SynthConfig, seed: int, counts: dict[str, int]) -> dict[str, list[tuple]]:
    """Per split: (root, config, id, item seed, label) with balanced, seed-shuffled labels."""
    tasks, next_id = {}, 1
    for position, (split, count) in enumerate(counts.items()):
        labels = np.arange(count) % config.num_classes
        np.random.default_rng([seed, position]).shuffle(labels)
        ids = range(next_id, next_id + count)
        tasks[split] = [(root, config, i, item_seed(seed, i), int(y)) for i, y in zip(ids, labels)]
        next_id += count
    return tasks


def _metadata(config: SynthConfig, seed: int, counts: dict[str, int]) -> dict:
    return {
        "config": asdict(config), "seed": seed, "counts": counts,
        "templates": [{"text": t.text, "kind": t.kind, "num_objects": t.num_objects, "affordance": t.affordance,
                       "partner": t.partner, "reverse": t.reverse, "cue": t.cue}
                      for t in TEMPLATES[: config.num_classes]],
        "objects": [{"name": o.name, "shape": o.shape, "width": o.width, "height": o.height, "texture": o.texture,
                     "properties": sorted(o.properties)} for o in OBJECTS[: config.num_objects]],
        "null_object": len(OBJECTS),
        "contexts": list(CONTEXTS[: config.num_contexts]),
        "keypoint_names": list(KEYPOINT_NAMES),
    }


def write_dataset(root: str | Path, config: SynthConfig, seed: int, counts: dict[str, int], workers: int = 2,
                  progress: bool = True) -> dict[str, Path]:
    """Render ``counts[split]`` scenes per split into ``root`` (see the module docstring).

    Rendering and encoding run in a pool of ``workers`` processes (in this process when 1).
    Returns the paths written: ``"labels"``, one per split, ``"videos"``, ``"groundtruth"``, ``"meta"``.
    """
    root = Path(root)
    if any(n < 0 for n in counts.values()):
        raise ValueError(f"write_dataset: counts must be >= 0, got {counts}")
    (root / "videos").mkdir(parents=True, exist_ok=True)
    (root / "groundtruth").mkdir(exist_ok=True)
    tasks = _tasks(root, config, seed, counts)
    flat = [task for split in tasks.values() for task in split]
    bar = tqdm(total=len(flat), desc="SynthHOI", unit="scene", disable=not progress)
    entries = []
    if workers > 1:
        with Pool(workers) as pool:
            for entry in pool.imap(_write_one, flat, chunksize=8):
                entries.append(entry)
                bar.update()
    else:
        for task in flat:
            entries.append(_write_one(task))
            bar.update()
    bar.close()
    paths = {"labels": release_file(root, "labels")}
    names = [json.dumps(class_name(t.text)) + ":" + json.dumps(str(i)) for i, t in
             enumerate(TEMPLATES[: config.num_classes])]
    paths["labels"].write_text(_json_lines([" " + n for n in names], "{", "}"), encoding="utf-8")
    start = 0
    for split, split_tasks in tasks.items():
        chunk = entries[start:start + len(split_tasks)]
        start += len(split_tasks)
        paths[split] = release_file(root, split)
        paths[split].write_text(_json_lines([json.dumps(e, separators=(",", ":")) for e in chunk], "[", "]"),
                                encoding="utf-8")
    paths.update(videos=root / "videos", groundtruth=root / "groundtruth", meta=root / "synthhoi.json")
    paths["meta"].write_text(json.dumps(_metadata(config, seed, counts), indent=1), encoding="utf-8")
    return paths
