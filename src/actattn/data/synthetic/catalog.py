"""What a SynthHOI scene can hold: action templates, object categories, contexts, the
parameters with their presets, and the :class:`Scene` record of one rendered clip.

The first 12 templates are recognisable from any single frame inside the interval, so a
frame-level model with order-invariant (TSN) consensus can learn them; per class the cue is:

 0 Pushing [something] from left to right: the hand presses the object's LEFT side.
 1 Pushing [something] from right to left: the hand presses the object's RIGHT side.
 2 Lifting [something] up: the object is raised above its own shadow, the hand grips its top.
 3 Dropping [something]: the object hangs in the air above its shadow under an OPEN hand,
   with a gap between them (after one or two gripping frames).
 4 Pretending to push [something]: the hand is beside the object with a visible gap.
 5 Tearing [something] into two pieces: the sheet is split in two halves, the hand holds one.
 6 Squeezing [something]: a soft object is flattened under a palm.
 7 Spinning [something]: a round object is motion-blurred by rotation (its stripes rotated),
   the fingers touch its rim.
 8 Moving [something] and [something] closer to each other: two objects in one row, the hand
   on the OUTER side of one of them.
 9 Moving [something] away from [something]: two objects in one row, the hand BETWEEN them.
10 Putting [something] on top of [something]: one object stands on another, gripped by the hand.
11 Covering [something] with [something]: a cloth or sheet is draped over part of another
   object, the hand holding the cloth.

The ``hard`` preset adds four templates that are exact time reversals of default ones
(12 Putting on a surface = reversed Lifting up, 13 Uncovering = reversed Covering, 14/15
Pulling = reversed Pushing): their single frames look like their partners', so only a model
that uses frame order can tell them apart. Affordances constrain objects: only tearable things
tear (paper, napkin), only soft things squeeze (towel, sponge), only round things spin (ball,
plate), only cloth-like things cover, only flat-topped things support a stack.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Template:
    """An action template; ``roles`` says which object fills each placeholder.

    ``kind`` names the motion (push, lift, ...); ``affordance`` is the property the object the
    hand acts on ("actee") needs, ``partner`` the property of the second object ("" = none);
    ``reverse`` renders the clip of ``kind`` backwards in time (hard-only templates);
    ``context`` is the context the action prefers (modulo ``num_contexts``; see
    ``SynthConfig.context_correlation``), chosen so that similar actions prefer different contexts.
    """

    text: str
    kind: str
    affordance: str
    roles: tuple[str, ...] = ("actee",)
    partner: str = ""
    direction: int = 0
    reverse: bool = False
    context: int = 0
    cue: str = ""

    @property
    def num_objects(self) -> int:
        return len(self.roles)


TEMPLATES: tuple[Template, ...] = (
    Template("Pushing [something] from left to right", "push", "rigid", direction=1, context=0,
             cue="hand on the object's left side"),
    Template("Pushing [something] from right to left", "push", "rigid", direction=-1, context=1,
             cue="hand on the object's right side"),
    Template("Lifting [something] up", "lift", "graspable", context=1, cue="object above its shadow, gripped on top"),
    Template("Dropping [something]", "drop", "graspable", context=0, cue="object in the air under an open hand, gap"),
    Template("Pretending to push [something]", "pretend", "rigid", context=2, cue="hand pointing at the object, gap"),
    Template("Tearing [something] into two pieces", "tear", "tearable", context=1, cue="sheet in two halves"),
    Template("Squeezing [something]", "squeeze", "soft", context=2, cue="soft object flattened under the palm"),
    Template("Spinning [something]", "spin", "round", context=3, cue="round object blurred by rotation, finger at rim"),
    Template("Moving [something] and [something] closer to each other", "closer", "rigid", ("actee", "partner"),
             "rigid", context=3, cue="two objects in a row, hand on the outer side"),
    Template("Moving [something] away from [something]", "away", "rigid", ("actee", "partner"), "rigid",
             context=2, cue="two objects in a row, hand between them"),
    Template("Putting [something] on top of [something]", "stack", "graspable", ("actee", "partner"), "can_support",
             context=3, cue="object standing on another, gripped"),
    Template("Covering [something] with [something]", "cover", "can_cover", ("partner", "actee"), "rigid",
             context=0, cue="cloth draped over another object, held"),
    Template("Putting [something] on a surface", "lift", "graspable", reverse=True, context=1,
             cue="reversed Lifting up"),
    Template("Uncovering [something]", "cover", "can_cover", ("partner",), "rigid", reverse=True,
             context=0, cue="reversed Covering"),
    Template("Pulling [something] from right to left", "push", "rigid", direction=1, reverse=True,
             context=0, cue="reversed Pushing from left to right"),
    Template("Pulling [something] from left to right", "push", "rigid", direction=-1, reverse=True,
             context=1, cue="reversed Pushing from right to left"),
)


@dataclass(frozen=True)
class ObjectCategory:
    """An object category: silhouette, size range (fractions of S), colour schemes, texture, affordances."""

    name: str
    shape: str
    width: tuple[float, float]
    height: tuple[float, float]
    colours: tuple[tuple[tuple[int, int, int], ...], ...]
    texture: str
    properties: frozenset[str]


def _category(name, shape, width, height, colours, texture, properties) -> ObjectCategory:
    return ObjectCategory(name, shape, width, height, colours, texture, frozenset(properties.split()))


OBJECTS: tuple[ObjectCategory, ...] = (
    _category("cup", "cup", (0.21, 0.28), (0.23, 0.29),
              (((200, 40, 40), (240, 240, 235)), ((40, 80, 200), (240, 240, 235)), ((235, 200, 40), (60, 60, 60))),
              "band", "rigid graspable"),
    _category("box", "rect", (0.28, 0.34), (0.21, 0.26),
              (((180, 130, 80), (225, 205, 160)), ((150, 105, 60), (215, 195, 150))), "tape",
              "rigid graspable can_support"),
    _category("pen", "pen", (0.28, 0.34), (0.07, 0.08),
              (((30, 60, 200), (20, 30, 90)), ((30, 30, 35), (120, 120, 130)), ((200, 30, 30), (90, 20, 20))),
              "pen", "rigid graspable"),
    _category("book", "rect", (0.3, 0.36), (0.12, 0.15),
              (((40, 130, 60), (240, 235, 215)), ((150, 30, 40), (240, 235, 215)), ((30, 40, 110), (240, 235, 215))),
              "book", "rigid graspable can_support"),
    _category("ball", "disc", (0.2, 0.24), (0.2, 0.24),
              (((230, 90, 30), (30, 30, 30)), ((40, 160, 60), (250, 250, 250)), ((220, 40, 140), (250, 220, 40))),
              "ball", "rigid graspable round"),
    _category("bottle", "bottle", (0.12, 0.16), (0.31, 0.36),
              (((60, 150, 90), (240, 240, 240)), ((60, 120, 200), (250, 230, 60)), ((150, 190, 210), (220, 60, 50))),
              "label", "rigid graspable"),
    _category("paper", "rect", (0.36, 0.42), (0.16, 0.19), (((245, 245, 240), (110, 140, 225)),), "ruled",
              "tearable can_cover flat"),
    _category("phone", "rounded", (0.16, 0.19), (0.25, 0.29),
              (((25, 25, 30), (50, 110, 200)), ((200, 200, 205), (40, 90, 170))), "phone", "rigid graspable"),
    _category("spoon", "spoon", (0.29, 0.34), (0.09, 0.11), (((185, 185, 195), (120, 120, 130)),), "metal",
              "rigid graspable"),
    _category("towel", "rounded", (0.33, 0.39), (0.15, 0.17),
              (((60, 170, 200), (250, 250, 240)), ((230, 120, 150), (255, 240, 245)), ((250, 200, 60), (200, 60, 40))),
              "stripes", "soft can_cover flat"),
    _category("sponge", "rounded", (0.21, 0.25), (0.15, 0.17), (((245, 215, 60), (50, 140, 60)),), "sponge",
              "soft graspable"),
    _category("plate", "disc", (0.33, 0.38), (0.15, 0.17),
              (((245, 245, 245), (40, 90, 170)), ((245, 240, 225), (180, 40, 40))), "plate",
              "rigid graspable round can_support"),
    _category("napkin", "rect", (0.3, 0.35), (0.16, 0.19),
              (((250, 215, 220), (200, 60, 90)), ((215, 235, 250), (40, 110, 180))), "dots", "tearable can_cover flat"),
)
NULL_OBJECT: int = len(OBJECTS)
CONTEXTS: tuple[str, ...] = ("wood table", "tiled floor", "grass", "office desk", "carpet", "marble counter")
KEYPOINT_NAMES: tuple[str, ...] = ("shoulder", "elbow", "wrist", "thumb_tip", "index_tip")


def usable(config: SynthConfig, prop: str) -> list[int]:
    """Indices of the categories among the first ``num_objects`` that have property ``prop``."""
    return [i for i, c in enumerate(OBJECTS[: config.num_objects]) if prop in c.properties]


@dataclass(frozen=True)
class SynthConfig:
    """Scene parameters; the defaults are the ``default`` preset. Lengths are in pixels at ``size``."""

    size: int = 96
    num_frames: int = 16
    num_classes: int = 12
    num_objects: int = len(OBJECTS)
    num_contexts: int = 4
    max_distractors: int = 2
    motion: float = 1.0
    noise: float = 3.0
    context_correlation: float = 0.5
    shake: float = 1.0
    lighting: float = 0.12
    fps: float = 12.0
    action_fraction: tuple[float, float] = (0.5, 0.8)

    def __post_init__(self):
        checks = (
            (64 <= self.size <= 256 and self.size % 2 == 0, "size must be even and in [64, 256]", self.size),
            (self.num_frames >= 4, "num_frames must be >= 4 (lead-in, 2-frame action, tail)", self.num_frames),
            (1 <= self.num_classes <= len(TEMPLATES), f"num_classes must be in [1, {len(TEMPLATES)}]",
             self.num_classes),
            (1 <= self.num_objects <= len(OBJECTS), f"num_objects must be in [1, {len(OBJECTS)}]", self.num_objects),
            (1 <= self.num_contexts <= len(CONTEXTS), f"num_contexts must be in [1, {len(CONTEXTS)}]",
             self.num_contexts),
            (0 <= self.max_distractors <= 4, "max_distractors must be in [0, 4]", self.max_distractors),
            (0 <= self.context_correlation <= 1, "context_correlation must be in [0, 1]", self.context_correlation),
            (self.motion > 0 and self.fps > 0, "motion and fps must be > 0", (self.motion, self.fps)),
            (min(self.noise, self.shake, self.lighting) >= 0, "noise, shake, lighting must be >= 0",
             (self.noise, self.shake, self.lighting)),
            (0 < self.action_fraction[0] <= self.action_fraction[1] < 1, "action_fraction must be 0 < lo <= hi < 1",
             self.action_fraction),
        )
        for ok, message, value in checks:
            if not ok:
                raise ValueError(f"SynthConfig: {message}, got {value}")
        for template in TEMPLATES[: self.num_classes]:
            for prop in (template.affordance, template.partner):
                if prop and not usable(self, prop):
                    raise ValueError(f"SynthConfig: template {template.text!r} needs a {prop!r} object, "
                                     f"none among the first num_objects={self.num_objects} of OBJECTS")


PRESETS: dict[str, SynthConfig] = {
    "tiny": SynthConfig(size=64, num_frames=8, num_classes=6, num_contexts=2, max_distractors=1, noise=2.0,
                        shake=0.5, lighting=0.08),
    "default": SynthConfig(),
    "hard": SynthConfig(num_classes=len(TEMPLATES), num_contexts=len(CONTEXTS), max_distractors=4, motion=0.7,
                        noise=6.0, context_correlation=0.7, shake=2.0, lighting=0.25, action_fraction=(0.4, 0.7)),
}


def preset(name: str, **overrides) -> SynthConfig:
    """The named preset with ``overrides`` applied (e.g. ``preset("default", size=128)``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown SynthHOI preset {name!r}; presets: {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides)


@dataclass
class Scene:
    """One rendered clip and its ground truth; boxes are ``x1, y1, x2, y2`` in pixel-edge coordinates.

    ``label`` is -1 and ``interval`` empty for a static match (:func:`render_static_match`).
    Keypoints are ``(x, y, visible)`` in pixels, ``visible`` = inside the frame.
    """

    frames: np.ndarray          # (T, S, S, 3) uint8
    label: int
    template: str
    placeholders: list[str]
    object_labels: tuple[int, int]
    context: int
    interval: tuple[int, int]
    categories: np.ndarray      # (N,) int64
    manipulated: np.ndarray     # (N,) bool
    boxes: np.ndarray           # (T, N, 4) float32
    masks: np.ndarray           # (T, N, S, S) bool, visible + occluded
    hand_boxes: np.ndarray      # (T, 4) float32
    arm_masks: np.ndarray       # (T, S, S) bool
    keypoints: np.ndarray       # (T, J, 3) float32
    contact: np.ndarray         # (T, S, S) bool

