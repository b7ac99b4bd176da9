"""SynthHOI scenes: determinism, ground truth against pixels, conjugates, static matches, reversals."""
from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
from scipy import ndimage

from actattn.data.synthetic import (NULL_OBJECT, OBJECTS, PRESETS, TEMPLATES, Scene, conjugate_clips, preset,
                                    render_scene, render_scene_for_label, render_static_match)

ALL = preset("tiny", num_classes=len(TEMPLATES))


@pytest.fixture(scope="module")
def scenes() -> list[Scene]:
    """One tiny scene per template (hard-only ones included)."""
    return [render_scene_for_label(ALL, 5, label) for label in range(len(TEMPLATES))]


def test_same_seed_gives_identical_scene_and_another_seed_differs() -> None:
    a, b, c = render_scene(PRESETS["tiny"], 3), render_scene(PRESETS["tiny"], 3), render_scene(PRESETS["tiny"], 4)
    assert a.frames.dtype == np.uint8 and a.frames.shape == (8, 64, 64, 3)
    assert a.frames.tobytes() == b.frames.tobytes()
    for field in fields(Scene):
        np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name), err_msg=field.name)
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
