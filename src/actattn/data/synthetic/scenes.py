"""Rendering SynthHOI scenes: a plan (:mod:`.planning`) drawn (:mod:`.drawing`), by seed and label."""
from __future__ import annotations

import numpy as np

from actattn.data.synthetic.catalog import Scene, SynthConfig
from actattn.data.synthetic.drawing import render_plan
from actattn.data.synthetic.planning import plan_scene, still_plan


def render_scene_for_label(config: SynthConfig, seed: int, label: int) -> Scene:
    """Scene ``seed`` of class ``label`` (``0 <= label < config.num_classes``), deterministic."""
    if not 0 <= label < config.num_classes:
        raise ValueError(f"label {label} out of range for num_classes={config.num_classes}")
    return render_plan(plan_scene(config, seed, label))


def _seed_label(config: SynthConfig, seed: int) -> int:
    return int(np.random.default_rng(seed).integers(config.num_classes))


def render_scene(config: SynthConfig, seed: int) -> Scene:
    """Scene ``seed`` of a class drawn from the seed; same ``(config, seed)`` -> identical arrays."""
    return render_scene_for_label(config, seed, _seed_label(config, seed))


def render_static_match(config: SynthConfig, seed: int) -> Scene:
    """The context and objects of ``render_scene(config, seed)`` posed as in its first frame, and no action.

    The hand idles between its rest spots; ``label`` is -1, ``template`` "", ``interval`` ``(0, 0)``,
    no object is manipulated and ``contact`` is empty; placeholders and object labels are the
    original scene's.
    """
    return render_plan(still_plan(plan_scene(config, seed, _seed_label(config, seed))))


def conjugate_clips(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """The idle lead-in and tail frames of ``scene``: same context and objects, no action."""
    start, end = scene.interval
    return scene.frames[:start], scene.frames[end:]

