"""SynthHOI: determinism, ground truth against pixels, conjugates, SSv2 layout on disk, presets."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from actattn.data.ssv2 import class_name, read_labels, read_split
from actattn.data.synthetic import (NULL_OBJECT, OBJECTS, PRESETS, TEMPLATES, Scene, conjugate_clips, preset,
                                    render_scene, render_scene_for_label, render_static_match)
from actattn.data.synthetic_write import load_groundtruth, write_dataset
from actattn.data.video import read_video

ALL = preset("tiny", num_classes=len(TEMPLATES))
GROUND_TRUTH = ("categories", "manipulated", "boxes", "masks", "hand_boxes", "arm_masks", "keypoints", "contact")


@pytest.fixture(scope="module")
def scenes() -> list[Scene]:
    """One tiny scene per template (hard-only ones included)."""
    return [render_scene_for_label(ALL, 5, label) for label in range(len(TEMPLATES))]


def test_same_seed_gives_identical_scene_and_another_seed_differs() -> None:
    a, b, c = render_scene(PRESETS["tiny"], 3), render_scene(PRESETS["tiny"], 3), render_scene(PRESETS["tiny"], 4)
    assert a.frames.dtype == np.uint8 and a.frames.shape == (8, 64, 64, 3)
    assert a.frames.tobytes() == b.frames.tobytes()
    for name in GROUND_TRUTH:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (a.label, a.interval, a.context, a.placeholders) == (b.label, b.interval, b.context, b.placeholders)
    assert not np.array_equal(a.frames, c.frames)


def test_labels_placeholders_and_affordances(scenes: list[Scene]) -> None:
    for label, (scene, template) in enumerate(zip(scenes, TEMPLATES)):
        assert scene.label == label and scene.template == template.text
        assert len(scene.placeholders) == template.num_objects == template.text.count("[something]")
        assert scene.placeholders == [OBJECTS[i].name for i in scene.object_labels[: template.num_objects]]
        assert (scene.object_labels[1] == NULL_OBJECT) == (template.num_objects == 1)
        assert scene.manipulated.sum() == 1
        acted_on = OBJECTS[scene.categories[scene.manipulated][0]]
        assert template.affordance in acted_on.properties, (template.text, acted_on.name)


def test_interval_leaves_idle_lead_in_and_tail_without_contact(scenes: list[Scene]) -> None:
    for scene in scenes:
        start, end = scene.interval
        assert 0 < start < end < len(scene.frames), scene.template
        touching = scene.contact.any((1, 2))
        assert not touching[:start].any() and not touching[end:].any(), scene.template
        if scene.template.startswith("Pretending"):
            assert not touching.any()
        else:
            assert touching[start:end].any(), scene.template


def test_boxes_are_tight_around_masks(scenes: list[Scene]) -> None:
    for scene in scenes:
        T, N = scene.boxes.shape[:2]
        assert scene.masks.shape == (T, N, 64, 64) and scene.boxes.dtype == np.float32
        for t in range(T):
            for n in range(N):
                x1, y1, x2, y2 = scene.boxes[t, n].astype(int)
                mask = scene.masks[t, n]
                assert mask.any(), (scene.template, t, n)
                assert mask[y1:y2, x1:x2].sum() == mask.sum()
                assert mask[y1].any() and mask[y2 - 1].any() and mask[:, x1].any() and mask[:, x2 - 1].any()


def test_keypoints_lie_on_the_drawn_arm_and_hand_box_holds_the_hand(scenes: list[Scene]) -> None:
    for scene in scenes:
        visible = scene.keypoints[..., 2] > 0
        start, end = scene.interval
        assert visible[start:end, 4].all(), scene.template
        for t, j in zip(*np.nonzero(visible)):
            x, y = scene.keypoints[t, j, :2]
            assert scene.arm_masks[t, int(y), int(x)], (scene.template, t, j)
        for t in range(len(scene.frames)):
            x1, y1, x2, y2 = scene.hand_boxes[t].astype(int)
            x, y = scene.keypoints[t, 4, :2].astype(int)
            if visible[t, 4]:
                assert x1 <= x < x2 and y1 <= y < y2


def test_contact_lies_on_the_manipulated_object_and_touches_the_hand(scenes: list[Scene]) -> None:
    for scene in scenes:
        target = scene.masks[:, scene.manipulated][:, 0]
        for t in np.flatnonzero(scene.contact.any((1, 2))):
            near = ndimage.binary_dilation(target[t], iterations=2)
            assert (scene.contact[t] <= near).all(), scene.template
            assert (scene.contact[t] <= scene.arm_masks[t]).all()
            x1, y1, x2, y2 = scene.hand_boxes[t].astype(int)
            assert scene.contact[t, y1:y2, x1:x2].any()


def test_pixels_follow_the_ground_truth(scenes: list[Scene]) -> None:
    """The static match differs from the scene where the moving arm is and matches it far from anything."""
    scene, still = render_scene(PRESETS["tiny"], 9), render_static_match(PRESETS["tiny"], 9)
    start, end = scene.interval
    t = (start + end) // 2
    arm_only = scene.arm_masks[t] & ~still.arm_masks[t] & ~scene.masks[t].any(0)
    empty = ~(scene.arm_masks[t] | still.arm_masks[t] | scene.masks[t].any(0) | still.masks[t].any(0))
    empty = ndimage.binary_erosion(empty, iterations=6)
    diff = np.abs(scene.frames[t].astype(int) - still.frames[t].astype(int)).sum(-1)
    assert arm_only.sum() > 20 and empty.sum() > 100
    assert diff[arm_only].mean() > 5 * diff[empty].mean() + 10


def test_conjugate_clips_are_the_idle_frames_of_the_same_scene(scenes: list[Scene]) -> None:
    for scene in scenes:
        lead, tail = conjugate_clips(scene)
        start, end = scene.interval
        assert len(lead) == start and len(tail) == len(scene.frames) - end
        np.testing.assert_array_equal(lead, scene.frames[:start])
        np.testing.assert_array_equal(tail, scene.frames[end:])


def test_static_match_has_the_same_context_and_objects_and_no_action() -> None:
    for seed in range(4):
        scene, still = render_scene(PRESETS["tiny"], seed), render_static_match(PRESETS["tiny"], seed)
        assert still.context == scene.context and still.placeholders == scene.placeholders
        np.testing.assert_array_equal(still.categories, scene.categories)
        np.testing.assert_array_equal(still.boxes[0], scene.boxes[0])
        assert still.label == -1 and still.interval == (0, 0) and not still.manipulated.any()
        assert not still.contact.any()


def test_hard_only_templates_are_exact_time_reversals() -> None:
    config = preset("tiny", num_classes=len(TEMPLATES))
    for reverse in (t for t in TEMPLATES if t.reverse):
        forward = next(i for i, t in enumerate(TEMPLATES) if not t.reverse and (t.kind, t.direction) ==
                       (reverse.kind, reverse.direction))
        a = render_scene_for_label(config, 2, forward)
        b = render_scene_for_label(config, 2, TEMPLATES.index(reverse))
        np.testing.assert_array_equal(b.masks, a.masks[::-1])
        np.testing.assert_array_equal(b.keypoints, a.keypoints[::-1])
        assert b.interval == (8 - a.interval[1], 8 - a.interval[0])
    assert not any(t.reverse for t in TEMPLATES[: PRESETS["default"].num_classes])


def test_write_dataset_is_ssv2_and_round_trips(tmp_path: Path) -> None:
    config, counts = PRESETS["tiny"], {"train": 6, "validation": 3}
    paths = write_dataset(tmp_path / "a", config, seed=1, counts=counts, workers=2, progress=False)
    again = write_dataset(tmp_path / "b", config, seed=1, counts=counts, workers=1, progress=False)
    raw = json.loads(paths["labels"].read_text())
    assert raw == {class_name(t.text): str(i) for i, t in enumerate(TEMPLATES[: config.num_classes])}
    labels = read_labels(paths["labels"])
    ids = []
    for split, count in counts.items():
        entries = json.loads(paths[split].read_text())
        assert len(entries) == count and len(read_split(paths[split], labels)) == count
        for entry in entries:
            assert isinstance(entry["id"], str) and class_name(entry["template"]) in raw
            assert entry["label"] == entry["label"].lower() and all(p in entry["label"] for p in entry["placeholders"])
            ids.append(entry["id"])
    assert len(set(ids)) == len(ids)
    entry = json.loads(paths["validation"].read_text())[0]
    video = paths["videos"] / f"{entry['id']}.mp4"
    assert read_video(video).shape == (8, 64, 64, 3)
    assert video.read_bytes() == (again["videos"] / video.name).read_bytes()
    truth = load_groundtruth(paths["groundtruth"] / f"{entry['id']}.npz")
    scene = render_scene_for_label(config, int(truth["seed"]), int(truth["label"]))
    assert scene.template == entry["template"] and scene.placeholders == entry["placeholders"]
    for name in GROUND_TRUTH:
        np.testing.assert_array_equal(truth[name], getattr(scene, name))
        assert truth[name].dtype == getattr(scene, name).dtype
    assert tuple(truth["interval"]) == scene.interval and int(truth["context"]) == scene.context
    meta = json.loads(paths["meta"].read_text())
    assert meta["counts"] == counts and len(meta["templates"]) == config.num_classes


def test_balanced_labels_per_split(tmp_path: Path) -> None:
    config = preset("tiny", num_classes=3)
    paths = write_dataset(tmp_path, config, seed=0, counts={"train": 6}, workers=1, progress=False)
    names = [class_name(e["template"]) for e in json.loads(paths["train"].read_text())]
    assert sorted(names.count(class_name(t.text)) for t in TEMPLATES[:3]) == [2, 2, 2]


def test_presets() -> None:
    with pytest.raises(ValueError, match="tiny.*default.*hard"):
        preset("nope")
    assert PRESETS["hard"].num_classes > PRESETS["default"].num_classes == 12
    assert preset("default", size=128).size == 128
    with pytest.raises(ValueError, match="size"):
        preset("tiny", size=65)
    with pytest.raises(ValueError, match="tearable"):
        preset("default", num_objects=2)
