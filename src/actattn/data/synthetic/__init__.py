"""SynthHOI: procedurally rendered hand-object interaction clips with full ground truth.

Each scene is ``T`` RGB frames of ``S x S`` pixels (SYNTHETIC.md): a textured table-top
"context" (wood table, tiled floor, grass, ...), one or two objects that an arm acts on, up to
``max_distractors`` static objects in a far and a near row, and an arm (shoulder, elbow, wrist,
thumb tip, index tip) that enters from a frame edge. The view is oblique: an object stands on
its contact shadow, so an object lifted off the table is drawn above its shadow. A clip is an
idle lead-in (hand resting near its frame edge), the action interval ``[start, end)`` (50-80 %
of the clip in ``default``), and an idle tail; the hand touches an object only inside the
interval. Nuisances: camera shake, lighting drift and gradient, sensor noise, occlusion by the
arm, distractors, and a configurable correlation between action and context.

A scene is planned, then drawn: :mod:`.planning` draws everything random about it from the seed
before any pixel exists, and :mod:`.drawing` rasterises the plan. :mod:`.catalog` holds what a
scene can contain (templates, object categories, contexts, the parameters and their presets, the
:class:`Scene` record), :mod:`.scenes` is the way in (:func:`render_scene` and its variants), and
:mod:`.write` stores scenes as MP4 files with Something-Something V2 annotations.
"""
from actattn.data.synthetic.catalog import (CONTEXTS, KEYPOINT_NAMES, NULL_OBJECT, OBJECTS, PRESETS, TEMPLATES,
                                            ObjectCategory, Scene, SynthConfig, Template, preset)
from actattn.data.synthetic.scenes import conjugate_clips, render_scene, render_scene_for_label, render_static_match

__all__ = ["CONTEXTS", "KEYPOINT_NAMES", "NULL_OBJECT", "OBJECTS", "PRESETS", "TEMPLATES", "ObjectCategory", "Scene",
           "SynthConfig", "Template", "conjugate_clips", "load_groundtruth", "preset", "render_scene",
           "render_scene_for_label", "render_static_match", "write_dataset"]


def __getattr__(name: str):
    """``write_dataset`` and ``load_groundtruth`` (:mod:`.write`), imported on first use: writing
    imports the Something-Something reader, whose sampling imports the object sources, which read
    SynthHOI ground truth."""
    if name in ("write_dataset", "load_groundtruth"):
        from actattn.data.synthetic import write
        return getattr(write, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
