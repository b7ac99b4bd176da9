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

Rendering is vectorised numpy over frames; context textures and a noise bank are built once
per process. Everything comes from the seed: the same ``(config, seed)`` gives identical bytes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy import ndimage


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


def _usable(config: SynthConfig, prop: str) -> list[int]:
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
                if prop and not _usable(self, prop):
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



# ------------------------------------------------------------------------------------- planning
REST, SIDE, GAP, GRIP, PRESS, OPEN, RIM = range(7)
_CONTACT = np.array([False, True, False, True, True, False, True])
_SNAP = np.array([False, True, True, True, True, False, True])
# finger tips in finger lengths along the hand direction d and its upward/rightward normal n: (index, thumb);
# a pushing hand is a fist, a pretending one points flat at the object, a grip's n offset is the object's half width
_FINGERS = {
    REST: ((0.9, 0.25), (0.45, -0.55)),
    SIDE: ((0.25, 0.35), (0.2, -0.3)),
    GAP: ((1.1, 0.1), (0.6, -0.45)),
    GRIP: ((0.8, 0.0), (0.75, 0.0)),
    PRESS: ((0.2, 1.05), (0.25, -0.9)),
    OPEN: ((0.55, 1.15), (0.45, -1.15)),
    RIM: ((1.1, 0.05), (0.3, -0.45)),
}


_POSES = ("cx", "base", "z", "sx", "sy", "angle", "blur", "dx", "dy")


@dataclass
class _Track:
    """One object: fixed appearance and per-frame pose arrays of length 1 (static) or T."""

    category: int
    width: float
    height: float
    colours: np.ndarray
    phase: float
    order: float
    cx: np.ndarray
    base: np.ndarray
    z: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    angle: np.ndarray
    blur: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    manipulated: bool = False

    def animated(self, T: int) -> _Track:
        """A copy whose pose arrays have one entry per frame (so they can be animated)."""
        return replace(self, **{k: np.broadcast_to(getattr(self, k), (T,)).astype(np.float64) for k in _POSES})


@dataclass
class _Hand:
    """Per-frame hand targets (kind, point on the object or rest anchor, direction d, gap) and the arm."""

    kind: np.ndarray
    point: np.ndarray
    d: np.ndarray
    gap: np.ndarray
    reach: np.ndarray
    shoulder: np.ndarray
    bend: float
    skin: np.ndarray
    sleeve: np.ndarray


@dataclass
class _Plan:
    """Everything random about a scene, drawn before any pixel is rendered."""

    config: SynthConfig
    label: int
    context: int
    interval: tuple[int, int]
    tracks: list[_Track]
    actee: int
    placeholders: list[int]
    hand: _Hand
    background: tuple[int, int, float]
    shake: np.ndarray
    margin: int
    gain: np.ndarray
    gradient: np.ndarray
    noise_pick: np.ndarray


class _Builder:
    """Lays out the objects of one template and fills the hand targets frame by frame."""

    def __init__(self, config: SynthConfig, rng: np.random.Generator, interval: tuple[int, int]):
        self.config, self.rng = config, rng
        self.S, self.T, self.M = float(config.size), config.num_frames, config.motion
        start, end = interval
        self.p = np.full(self.T, -1.0)
        self.p[start:end] = np.linspace(0.0, 1.0, end - start)
        self.p[end:] = 2.0
        self.q = np.clip(self.p, 0.0, 1.0)
        self.active = (self.p >= 0) & (self.p <= 1)
        self.row = rng.uniform(0.64, 0.76) * self.S
        self.kind = np.full(self.T, REST)
        self.point = np.zeros((self.T, 2))
        self.d = np.zeros((self.T, 2))
        self.gap = np.zeros(self.T)
        self.reach = np.zeros(self.T)
        self.entry: np.ndarray | None = None

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def new_object(self, prop: str, exclude: tuple[int, ...] = ()) -> _Track:
        """A static object of a random category with property ``prop``, standing in the action row."""
        choices = [i for i in _usable(self.config, prop) if i not in exclude] or _usable(self.config, prop)
        return self.object(int(self.rng.choice(choices)), self.row, self.S)

    def object(self, category: int, base: float, max_height: float, scale: float = 1.0) -> _Track:
        """A static object of ``category`` standing on ``base``, scaled (perspective), at most ``max_height`` tall."""
        cat = OBJECTS[category]
        t = self.rng.random()
        width = (cat.width[0] + t * (cat.width[1] - cat.width[0])) * self.S
        height = (cat.height[0] + t * (cat.height[1] - cat.height[0])) * self.S
        shrink = min(scale, max_height / height)
        scheme = cat.colours[self.rng.integers(len(cat.colours))]
        colours = np.array(scheme, np.float32) * np.float32(self.rng.uniform(0.9, 1.06))
        pose = {k: np.full(1, {"base": base, "sx": 1.0, "sy": 1.0}.get(k, 0.0)) for k in _POSES}
        return _Track(category, width * shrink, height * shrink, colours, float(self.rng.random()), base, **pose)

    def span(self, width: float) -> float:
        """Left end of a horizontal span of ``width`` pixels placed at random inside the frame."""
        lo, hi = 0.05 * self.S, 0.95 * self.S - width
        return self.uniform(lo, max(lo, hi))

    def target(self, kind: int, x, y, d: tuple[float, float], gap=0.0, reach=0.0,
               when: np.ndarray | None = None) -> None:
        """Hand ``kind`` at point ``(x, y)`` facing ``d`` in the frames ``when`` (the interval by default).

        ``gap``: distance kept from the object (GAP, OPEN); ``reach``: half width a GRIP spans.
        """
        when = self.active if when is None else when
        x, y, gap, reach = (np.broadcast_to(np.asarray(a, float), (self.T,)) for a in (x, y, gap, reach))
        self.kind[when] = kind
        self.point[when] = np.stack([x, y], -1)[when]
        self.d[when] = d
        self.gap[when] = gap[when]
        self.reach[when] = reach[when]

    @staticmethod
    def top(track: _Track) -> np.ndarray:
        return track.base - track.z - track.height * track.sy


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _push(b: _Builder, template: Template) -> list[_Track]:
    a = b.new_object(template.affordance).animated(b.T)
    s, S = template.direction, b.S
    travel = b.M * b.uniform(0.14, 0.2) * S
    left = b.span(0.3 * S + a.width + travel)
    x0 = left + 0.3 * S + a.width / 2 if s > 0 else left + travel + a.width / 2
    a.cx = x0 + s * travel * b.q
    b.target(SIDE, a.cx - s * a.width / 2, b.row - 0.45 * a.height, (s, 0.0))
    return [a]


def _pretend(b: _Builder, template: Template) -> list[_Track]:
    a = b.new_object(template.affordance)
    s, S = (1 if b.rng.random() < 0.5 else -1), b.S
    gap = S * (0.12 + 0.06 * b.M * (0.5 + 0.5 * np.cos(2 * np.pi * b.q)))
    left = b.span(0.5 * S + a.width)
    a.cx = np.array([left + 0.5 * S + a.width / 2 if s > 0 else left + a.width / 2])
    b.target(GAP, a.cx - s * a.width / 2, b.row - 0.45 * a.height, (s, 0.0), gap)
    return [a]


def _lift(b: _Builder, template: Template) -> list[_Track]:
    a = b.new_object(template.affordance).animated(b.T)
    a.cx[:] = b.span(a.width) + a.width / 2
    height = b.M * b.uniform(0.13, 0.19) * b.S
    rise = 0.35 + 0.65 * _smooth(b.q / 0.7)
    lower = 1.0 - 0.65 * (b.q - 0.85) / 0.15
    a.z = np.where(b.active, height * np.where(b.q < 0.85, rise, lower), 0.0)
    b.target(GRIP, a.cx, b.top(a), (0.0, 1.0), reach=a.width / 2)
    return [a]


def _drop(b: _Builder, template: Template) -> list[_Track]:
    a = b.new_object(template.affordance).animated(b.T)
    a.cx[:] = b.span(a.width) + a.width / 2
    height, release = min(b.M * b.uniform(0.14, 0.19) * b.S, b.row - a.height - 0.24 * b.S), 0.12
    held = b.active & (b.q <= release)
    fall = np.maximum(0.0, 1 - ((b.q - release) / (1.1 - release)) ** 2)
    a.z = np.where(b.active, height * np.where(held, 0.55 + 0.45 * b.q / release, fall), 0.0)
    b.target(GRIP, a.cx, b.top(a), (0.0, 1.0), reach=a.width / 2, when=held)
    tips = b.row - height - a.height - 0.08 * b.S - 0.1 * b.S * (b.q - release)
    b.target(OPEN, a.cx, tips, (0.0, 1.0), when=b.active & ~held)
    return [a]


def _tear(b: _Builder, template: Template) -> list[_Track]:
    a = b.new_object(template.affordance).animated(b.T)
    split = b.M * b.uniform(0.13, 0.17) * b.S
    a.cx[:] = b.span(a.width + split + 0.05 * b.S) + a.width / 2
    a.dx = np.where(b.p >= 0, split * np.where(b.active, 0.45 + 0.55 * b.q, 1.0), 0.0)
    a.dy = np.where(b.active, -0.35 * a.dx, 0.0)
    b.target(GRIP, a.cx + a.dx + a.width / 4, b.row + a.dy - a.height, (0.0, 1.0), reach=a.width / 4)
    return [a]


def _squeeze(b: _Builder, template: Template) -> list[_Track]:
    a = b.new_object(template.affordance).animated(b.T)
    a.cx[:] = b.span(a.width * 1.3) + a.width * 0.65
    a.sy = 1 - np.where(b.active, 0.5 * (0.6 + 0.4 * np.sin(np.pi * b.q)), 0.0)
    a.sx = 1 + 0.5 * (1 - a.sy)
    b.target(PRESS, a.cx, b.top(a), (0.0, 1.0))
    return [a]


def _spin(b: _Builder, template: Template) -> list[_Track]:
    a = b.new_object(template.affordance).animated(b.T)
    a.cx[:] = b.span(a.width) + a.width / 2
    turn = b.uniform(2.5, 4.5) * np.pi * (1 if b.rng.random() < 0.5 else -1)
    a.angle = b.uniform(-0.2, 0.2) + turn * b.q
    a.blur = np.where(b.active, 1.3 * np.sign(turn), 0.0)
    phi = np.deg2rad(-50.0 if b.rng.random() < 0.5 else -130.0)
    centre = np.array([a.cx[0], b.row - a.height / 2])
    rim = centre + [math.cos(phi) * a.width / 2, math.sin(phi) * a.height / 2]
    d = (centre - rim) / np.linalg.norm(centre - rim)
    b.target(RIM, rim[0], rim[1], (d[0], d[1]))
    return [a]


def _pair(b: _Builder, template: Template, gap0: float, room: float) -> tuple[_Track, _Track, int]:
    """Actee ``a`` and partner in the action row, ``a`` on side ``s`` of the partner, ``gap0`` apart."""
    a = b.new_object(template.affordance).animated(b.T)
    partner = b.new_object(template.partner, exclude=(a.category,))
    s = 1 if b.rng.random() < 0.5 else -1
    fit = min(1.0, (0.9 * b.S - room - gap0) / (a.width + partner.width))
    for t in (a, partner):
        t.width, t.height = t.width * fit, t.height * fit
    left = b.span(room + a.width + gap0 + partner.width)
    if s < 0:
        a.cx[:] = left + room + a.width / 2
        partner.cx[:] = a.cx[0] + a.width / 2 + gap0 + partner.width / 2
    else:
        partner.cx[:] = left + partner.width / 2
        a.cx[:] = partner.cx[0] + partner.width / 2 + gap0 + a.width / 2
    return a, partner, s


def _closer(b: _Builder, template: Template) -> list[_Track]:
    gap0 = b.M * b.uniform(0.16, 0.21) * b.S + 0.03 * b.S
    a, partner, s = _pair(b, template, gap0, 0.15 * b.S)
    a.cx = partner.cx[0] + s * ((a.width + partner.width) / 2 + gap0 + (0.02 * b.S - gap0) * _smooth(b.q / 0.6))
    b.target(SIDE, a.cx + s * a.width / 2, b.row - 0.45 * a.height, (-s, 0.0))
    return [a, partner]


def _away(b: _Builder, template: Template) -> list[_Track]:
    gap0, travel = 0.13 * b.S, b.M * b.uniform(0.14, 0.19) * b.S
    a, partner, s = _pair(b, template, gap0 + travel, 0.0)
    a.cx = partner.cx[0] + s * ((a.width + partner.width) / 2 + gap0 + travel * b.q)
    b.target(SIDE, a.cx - s * a.width / 2, b.row - 0.45 * a.height, (s, 0.0))
    b.entry = _rotate(np.array([-0.4 * s, -1.0]) / math.hypot(0.4, 1.0), b.uniform(-15, 15))
    return [a, partner]


def _stack(b: _Builder, template: Template) -> list[_Track]:
    a, support, _ = _pair(b, template, b.uniform(0.06, 0.12) * b.S, 0.0)
    a.order += 0.5
    x0, x1 = a.cx[0], support.cx[0] + b.uniform(-0.1, 0.1) * support.width
    a.cx = x0 + (x1 - x0) * _smooth(b.q / 0.3)
    hop = 0.05 * b.S * np.where(b.q < 0.3, _smooth(b.q / 0.15), 1 - _smooth((b.q - 0.3) / 0.15))
    a.z = np.where(b.p >= 0, support.height * _smooth(b.q / 0.3) + np.where(b.active, hop, 0.0), 0.0)
    b.target(GRIP, a.cx, b.top(a), (0.0, 1.0), reach=a.width / 2)
    return [a, support]


def _cover(b: _Builder, template: Template) -> list[_Track]:
    cloth, covered, s = _pair(b, template, b.uniform(0.04, 0.08) * b.S, 0.0)
    cloth.order += 0.5
    S, row, height = b.S, b.row, cloth.height
    half = max(cloth.width, 1.3 * covered.width) / 2
    shift = max(0.0, 0.04 * S + half - covered.cx[0]) - max(0.0, covered.cx[0] + half - 0.96 * S)
    cloth.cx, covered.cx = cloth.cx + shift, covered.cx + shift
    top_carried = row - covered.height - 0.04 * S - height
    top_draped = row - covered.height - 0.03 * S
    carry = np.where(b.p > 1, 1.0, _smooth(b.q / 0.35))
    drape = np.where(b.p > 1, 1.0, _smooth((b.q - 0.35) / 0.5))
    cloth.cx = cloth.cx[0] + (covered.cx[0] - cloth.cx[0]) * carry
    cloth.sx = 1 + (2 * half / cloth.width - 1) * drape
    cloth.sy = 1 + ((0.7 * covered.height + 0.03 * S) / height - 0.7) * drape
    top = np.where(b.q < 0.35, row - height + (top_carried - row + height) * carry,
                   top_carried + (top_draped - top_carried) * drape)
    cloth.z = row - (top + height * cloth.sy)
    b.target(GRIP, cloth.cx + s * 0.3 * cloth.width * cloth.sx, top, (0.0, 1.0), reach=0.2 * cloth.width * cloth.sx)
    return [cloth, covered]


def _rotate(v: np.ndarray, degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    return np.array([math.cos(a) * v[0] - math.sin(a) * v[1], math.sin(a) * v[0] + math.cos(a) * v[1]])


_KINDS = {"push": _push, "pretend": _pretend, "lift": _lift, "drop": _drop, "tear": _tear, "squeeze": _squeeze,
          "spin": _spin, "closer": _closer, "away": _away, "stack": _stack, "cover": _cover}
_SKINS = ((224, 172, 140), (198, 134, 100), (141, 85, 54), (240, 200, 170), (110, 70, 45))
_SLEEVES = ((40, 60, 140), (150, 30, 40), (50, 50, 50), (200, 200, 205), (60, 120, 70), (230, 150, 40))


def _add_distractors(b: _Builder, tracks: list[_Track]) -> None:
    """0..max_distractors static objects in a far row and a near row, not overlapping each other."""
    S, taken = b.S, {t.category for t in tracks}
    placed: list[tuple[float, bool, float]] = []
    for _ in range(int(b.rng.integers(0, b.config.max_distractors + 1))):
        choices = [i for i in range(b.config.num_objects) if i not in taken] or list(range(b.config.num_objects))
        category = int(b.rng.choice(choices))
        far = bool(b.rng.random() < 0.5)
        base = b.uniform(0.24, 0.33) * S if far else b.uniform(0.95, 0.99) * S
        track = b.object(category, base, base - 0.02 * S if far else base - b.row - 0.03 * S, 0.7 if far else 0.85)
        for _attempt in range(20):
            x = b.uniform(0.03 * S + track.width / 2, 0.97 * S - track.width / 2)
            if all(abs(x - px) > (track.width + pw) / 2 + 0.03 * S for px, pfar, pw in placed if pfar == far):
                track.cx = np.array([x])
                placed.append((x, far, track.width))
                tracks.append(track)
                taken.add(category)
                break


def _to_border(point: np.ndarray, direction: np.ndarray, size: float) -> float:
    """Distance from ``point`` along unit ``direction`` to the frame border."""
    steps = [((size if e > 0 else 0.0) - c) / e for c, e in zip(point, direction) if abs(e) > 1e-6]
    return max(0.0, min(steps))


def _arm(b: _Builder) -> _Hand:
    """Arm entry direction, shoulder off-frame, and rest anchors of the hand in the idle frames."""
    S, rng = b.S, b.rng
    acting = b.active & (b.kind != REST)
    centre = b.point[acting].mean(0)
    mean_d = b.d[acting].mean(0)
    entry = b.entry if b.entry is not None else _rotate(-mean_d / np.linalg.norm(mean_d), b.uniform(-25, 25))
    reach = _to_border(centre, entry, S)
    border, normal = centre + entry * reach, np.array([-entry[1], entry[0]])
    for idle in (b.p < 0, b.p > 1):
        rest = [border - entry * b.uniform(-0.03, 0.02) * S + normal * b.uniform(-0.06, 0.06) * S for _ in range(2)]
        w = np.linspace(0.0, 1.0, int(idle.sum()))[:, None]
        b.point[idle] = rest[0] * (1 - w) + rest[1] * w
        b.d[idle] = -entry
    skin = np.array(_SKINS[rng.integers(len(_SKINS))], np.float32) * np.float32(rng.uniform(0.92, 1.05))
    sleeve = np.array(_SLEEVES[rng.integers(len(_SLEEVES))], np.float32)
    return _Hand(b.kind, b.point, b.d, b.gap, b.reach, centre + entry * (reach + 0.12 * S),
                 1.0 if rng.random() < 0.5 else -1.0, skin, sleeve)


def _plan(config: SynthConfig, seed: int, label: int) -> _Plan:
    """Draw layout, motion, arm and nuisances of scene ``(seed, label)``.

    A reversed (hard-only) template draws exactly what its forward template draws for the same
    seed, then plays it backwards; only the context may differ (it follows the label).
    """
    template, T, S = TEMPLATES[label], config.num_frames, config.size
    forward = next(i for i, t in enumerate(TEMPLATES) if not t.reverse and (t.kind, t.direction) ==
                   (template.kind, template.direction))
    rng = np.random.default_rng([seed, forward])
    length = int(np.clip(round(T * rng.uniform(*config.action_fraction)), 2, T - 2))
    start = int(rng.integers(1, T - length))
    context = template.context % config.num_contexts if rng.random() < config.context_correlation else \
        int(rng.integers(config.num_contexts))
    b = _Builder(config, rng, (start, start + length))
    tracks = _KINDS[template.kind](b, template)
    tracks[0].manipulated = True
    placeholders = [{"actee": 0, "partner": 1}[role] for role in template.roles]
    _add_distractors(b, tracks)
    hand = _arm(b)
    shake_px = config.shake * S / 96
    margin = math.ceil(2 * shake_px)
    shake = np.clip(np.round(np.cumsum(rng.normal(0, 0.7 * shake_px, (T, 2)), 0)), -margin, margin).astype(int)
    free = 2 * S - (S + 2 * margin)
    background = (int(rng.integers(free + 1)), int(rng.integers(free + 1)), float(rng.uniform(0.9, 1.08)))
    drift = 2 * np.pi * rng.uniform(0.3, 0.8) * np.arange(T) / T + rng.uniform(0, 2 * np.pi)
    gain = 1 + config.lighting * np.sin(drift)
    theta = rng.uniform(0, 2 * np.pi)
    gradient = 0.8 * config.lighting * np.array([math.cos(theta), math.sin(theta)])
    noise_pick = np.stack([rng.integers(0, 4, T), rng.integers(0, 33, T), rng.integers(0, 33, T)], -1)
    plan = _Plan(config, label, context, (start, start + length), tracks, 0, placeholders, hand, background,
                 shake, margin, gain, gradient, noise_pick)
    return _reversed(plan) if template.reverse else plan


def _reversed(plan: _Plan) -> _Plan:
    """The same scene played backwards: objects, hand, camera, lighting and noise."""
    T = plan.config.num_frames
    tracks = [replace(t, **{k: getattr(t, k)[::-1].copy() for k in _POSES}) for t in plan.tracks]
    h = plan.hand
    hand = replace(h, kind=h.kind[::-1].copy(), point=h.point[::-1].copy(), d=h.d[::-1].copy(),
                   gap=h.gap[::-1].copy(), reach=h.reach[::-1].copy())
    start, end = plan.interval
    return replace(plan, tracks=tracks, hand=hand, interval=(T - end, T - start), shake=plan.shake[::-1].copy(),
                   gain=plan.gain[::-1].copy(), noise_pick=plan.noise_pick[::-1].copy())


def _still(plan: _Plan) -> _Plan:
    """The same context and objects, posed as in frame 0, with the hand idling between its rest spots."""
    T = plan.config.num_frames
    tracks = [replace(t, manipulated=False, **{k: getattr(t, k)[:1].copy() for k in _POSES}) for t in plan.tracks]
    h, w = plan.hand, np.linspace(0.0, 1.0, T)[:, None]
    hand = replace(h, kind=np.full(T, REST), point=h.point[0] * (1 - w) + h.point[-1] * w,
                   d=np.repeat(h.d[:1], T, 0), gap=np.zeros(T), reach=np.zeros(T))
    return replace(plan, label=-1, tracks=tracks, hand=hand, interval=(0, 0))


# -------------------------------------------------------------------------------------- drawing
@lru_cache(maxsize=None)
def _context_texture(context: int, size: int) -> np.ndarray:
    """A ``(2S, 2S, 3)`` float32 texture of ``CONTEXTS[context]``; scenes crop it at random offsets."""
    rng = np.random.default_rng([7, context, size])
    n = 2 * size
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / size
    fine = rng.standard_normal((n, n)).astype(np.float32)

    def blobs(sigma: float) -> np.ndarray:
        g = ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma * size, mode="wrap")
        return (g / g.std()).astype(np.float32)

    line = 1.5 / size
    name = CONTEXTS[context]
    if name == "wood table":
        grain = np.sin(2 * np.pi * y / 0.045 + 2.5 * blobs(0.12))
        value = 1 + 0.06 * grain + 0.02 * fine - 0.3 * (np.mod(y, 0.32) < line)
        rgb = value[..., None] * np.float32([150, 100, 60])
    elif name == "tiled floor":
        tiles = rng.uniform(0.9, 1.05, (12, 12)).astype(np.float32)
        shade = tiles[(y / 0.22).astype(int), (x / 0.22).astype(int)] * (1 + 0.03 * fine)
        grout = (np.mod(y, 0.22) < line) | (np.mod(x, 0.22) < line)
        rgb = np.where(grout[..., None], np.float32([120, 115, 110]), shade[..., None] * np.float32([205, 200, 188]))
    elif name == "grass":
        blades = ndimage.gaussian_filter(rng.standard_normal((n, n)), (1.2, 0.35))
        value = 1 + 0.08 * blades / blades.std() + 0.08 * blobs(0.08)
        rgb = value[..., None] * np.float32([70, 140, 50])
    elif name == "office desk":
        value = 1 + 0.035 * fine + 0.05 * blobs(0.3) + 0.06 * (x - 1)
        rgb = value[..., None] * np.float32([105, 112, 125])
    elif name == "carpet":
        diamond = np.abs(np.mod(x / 0.12, 1) - 0.5) + np.abs(np.mod(y / 0.12, 1) - 0.5) < 0.22
        rgb = np.where(diamond[..., None], np.float32([175, 85, 70]), np.float32([130, 40, 55]))
        rgb = rgb * (1 + 0.05 * fine)[..., None]
    else:
        veins = np.abs(np.sin(2 * np.pi * (x + y) / 0.5 + 3 * blobs(0.15)))
        value = (1 + 0.02 * fine) * (1 - 0.35 * np.clip(1 - veins / 0.1, 0, 1))
        rgb = value[..., None] * np.float32([228, 226, 220])
    return np.ascontiguousarray(rgb, dtype=np.float32)


@lru_cache(maxsize=None)
def _noise_bank(size: int) -> np.ndarray:
    """Four ``(S + 32)^2`` frames of unit Gaussian noise; each frame crops one at random."""
    return np.random.default_rng([11, size]).standard_normal((4, size + 32, size + 32, 3), dtype=np.float32)


def _shape(name: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Silhouette in box coordinates ``u, v`` in [-1, 1] (x right, y down)."""
    au, av = np.abs(u), np.abs(v)
    if name == "rect":
        return (au <= 1) & (av <= 1)
    if name == "rounded":
        return u ** 4 + v ** 4 <= 1
    if name == "disc":
        return u * u + v * v <= 1
    if name == "cup":
        ring = ((u - 0.55) / 0.42) ** 2 + ((v + 0.05) / 0.5) ** 2
        return ((np.abs(u + 0.2) <= 0.7 - 0.1 * v) & (av <= 1)) | ((ring <= 1) & (ring >= 0.3) & (u > 0.3))
    if name == "bottle":
        half = np.where(v >= -0.3, 0.85, np.where(v >= -0.6, 0.3 + 0.55 * (v + 0.6) / 0.3, 0.32))
        return (au <= half) & (av <= 1)
    if name == "pen":
        return (av <= np.where(u <= 0.75, 0.9, 3.6 * (1 - u))) & (au <= 1)
    if name == "spoon":
        return (((u + 0.58) / 0.42) ** 2 + v * v <= 1) | ((u >= -0.25) & (u <= 1) & (av <= 0.3))
    raise ValueError(f"unknown object shape {name!r}")


def _pick(cond: np.ndarray, a, b) -> np.ndarray:
    return np.where(cond[..., None], np.asarray(a, np.float32), np.asarray(b, np.float32))


def _texture(name: str, u: np.ndarray, v: np.ndarray, c: np.ndarray, phase: float) -> np.ndarray:
    """RGB float32 ``(..., 3)`` of texture ``name`` with colour scheme ``c`` at box coordinates ``u, v``."""
    lit = (1 - 0.22 * np.clip(u, -1, 1) ** 2)[..., None]
    r2 = u * u + v * v
    if name == "band":
        return _pick(np.abs(v + 0.25) < 0.17, c[1], c[0]) * lit
    if name == "tape":
        edge = (np.abs(u) > 0.88) | (np.abs(v) > 0.85)
        return _pick(np.abs(u) < 0.16, c[1], c[0]) * _pick(edge, 0.8, 1.0)
    if name == "pen":
        rgb = _pick(u > 0.75, (180, 180, 185), _pick(u < -0.4, c[1], c[0]))
        return rgb * _pick(v < -0.3, 1.3, 1.0)
    if name == "book":
        label = (np.abs(u - 0.1) < 0.38) & (np.abs(v) < 0.35)
        return _pick(label, c[1], c[0]) * _pick(u < -0.8, 0.6, 1.0)
    if name == "ball":
        seam = (np.abs(v) < 0.16) | (np.abs(u) < 0.12)
        return _pick(seam, c[1], c[0]) * (1 - 0.35 * np.clip(r2, 0, 1))[..., None]
    if name == "label":
        rgb = _pick((v > -0.05) & (v < 0.5), _pick(np.abs(v - 0.22) < 0.08, c[0] * 0.7, c[1]), c[0] * lit)
        return _pick(v < -0.82, (50, 50, 55), rgb)
    if name == "ruled":
        rgb = _pick(np.mod((v + 1) * 2 + phase, 1) < 0.3, c[1], c[0])
        return _pick(np.abs(u + 0.7) < 0.05, (225, 110, 110), rgb)
    if name == "phone":
        screen = (np.abs(u) < 0.75) & (v > -0.8) & (v < 0.72)
        rgb = _pick(screen, c[1] * (0.65 + 0.175 * (v + 1))[..., None], c[0])
        return _pick(u * u + 4 * (v - 0.86) ** 2 < 0.05, (90, 90, 95), rgb)
    if name == "metal":
        bowl = ((u + 0.58) / 0.3) ** 2 + (v / 0.7) ** 2 < 1
        return _pick(bowl, c[1], c[0]) * (0.9 - 0.2 * v)[..., None]
    if name == "stripes":
        rgb = _pick((np.abs(u) > 0.5) & (np.mod(u * 5 + phase, 1) < 0.45), c[1], c[0])
        return rgb * (0.9 + 0.1 * (1 - np.clip(v * v, 0, 1)))[..., None]
    if name == "sponge":
        pore = (np.mod(u * 3.5, 1) - 0.5) ** 2 + (np.mod(v * 2.5 + phase, 1) - 0.5) ** 2 < 0.05
        return _pick(v < -0.35, c[1], c[0]) * _pick(pore, 0.72, 1.0)
    if name == "plate":
        angle = np.arctan2(v, u)
        rim = (r2 > 0.5) & (r2 < 0.9)
        rgb = _pick(rim, _pick(np.mod(angle * 4 / np.pi, 1) < 0.5, c[1], c[0] * 0.9), c[0])
        return _pick((u > 0) & (np.abs(v) < 0.14) & (r2 < 0.35), c[1], rgb) * (0.95 + 0.05 * v)[..., None]
    if name == "dots":
        dot = (np.mod(u * 2.5 + phase, 1) - 0.5) ** 2 + (np.mod(v * 2, 1) - 0.5) ** 2 < 0.06
        return _pick(dot | (np.abs(u) > 0.88) | (np.abs(v) > 0.82), c[1], c[0])
    raise ValueError(f"unknown object texture {name!r}")


def _bbox(x0, x1, y0, y1, margin: int, size: int) -> tuple[int, int, int, int]:
    """Integer canvas rows/cols covering frame coordinates ``[x0, x1] x [y0, y1]``, clipped."""
    def clip(a: float) -> int:
        return int(min(max(a + margin, 0), size))
    return clip(math.floor(y0)), clip(math.ceil(y1) + 1), clip(math.floor(x0)), clip(math.ceil(x1) + 1)


def _grid(rows: tuple[int, int], cols: tuple[int, int], margin: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres in frame coordinates, shaped ``(1, H, 1)`` and ``(1, 1, W)``."""
    ys = np.arange(*rows, dtype=np.float64) + 0.5 - margin
    xs = np.arange(*cols, dtype=np.float64) + 0.5 - margin
    return ys[None, :, None], xs[None, None, :]


def _col(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float64)[:, None, None]


def _draw_shadow(canvas: np.ndarray, t: _Track, margin: int, size: int) -> None:
    """Darken an ellipse at the object's support line; it widens and fades as the object rises."""
    flat = "flat" in OBJECTS[t.category].properties
    rise = t.z / (0.2 * size)
    cx = t.cx + t.dx / 2
    rx = (0.5 * t.width * t.sx + np.abs(t.dx) / 2) * (1 + 0.4 * rise) + 1
    ry = max(1.2, (0.02 if flat else 0.04) * size) * (1 + 0.4 * rise)
    strength = (0.25 if flat else 0.45) / (1 + 1.5 * rise)
    y0, y1, x0, x1 = _bbox((cx - rx).min(), (cx + rx).max(), (t.base - ry).min(), (t.base + ry).max(),
                           margin, canvas.shape[1])
    ys, xs = _grid((y0, y1), (x0, x1), margin)
    r2 = ((xs - _col(cx)) / _col(rx)) ** 2 + ((ys - _col(t.base)) / _col(ry)) ** 2
    factor = 1 - _col(strength) * np.sqrt(np.clip(1 - r2, 0, 1))
    canvas[:, y0:y1, x0:x1] *= factor[..., None].astype(np.float32)


def _draw_object(canvas: np.ndarray, t: _Track, margin: int) -> np.ndarray:
    """Paint ``t`` over ``canvas`` ``(T, P, P, 3)``; return its full silhouette ``(len(t.cx), P, P)``."""
    cat, P = OBJECTS[t.category], canvas.shape[1]
    w, h = t.width * t.sx, t.height * t.sy
    cy = t.base - t.z - h / 2
    y0, y1, x0, x1 = _bbox((t.cx - w / 2).min() - 1, (t.cx + w / 2 + t.dx).max() + 1,
                           (cy - h / 2 + np.minimum(t.dy, 0)).min() - 1, (cy + h / 2).max() + 1, margin, P)
    ys, xs = _grid((y0, y1), (x0, x1), margin)
    u, v = (xs - _col(t.cx)) / _col(w / 2), (ys - _col(cy)) / _col(h / 2)
    mask = _shape(cat.shape, u, v)
    if np.any(t.dx):
        def tear(vv: np.ndarray) -> np.ndarray:
            return 0.12 * np.sin(9 * vv + 2 * np.pi * t.phase) + 0.05 * np.sin(23 * vv)
        ur, vr = u - _col(t.dx / (w / 2)), v - _col(t.dy / (h / 2))
        right = _shape(cat.shape, ur, vr) & (ur >= tear(vr))
        mask = (mask & (u < tear(v))) | right
        u, v = np.where(right, ur, u), np.where(right, vr, v)
    if np.any(t.angle) or np.any(t.blur):
        spread = np.linspace(-0.5, 0.5, 5) if np.any(t.blur) else np.zeros(1)
        rgb = 0
        for o in spread:
            a = _col(t.angle + o * t.blur)
            rgb = rgb + _texture(cat.texture, np.cos(a) * u + np.sin(a) * v, np.cos(a) * v - np.sin(a) * u,
                                 t.colours, t.phase)
        rgb = rgb / len(spread)
    else:
        rgb = _texture(cat.texture, u, v, t.colours, t.phase)
    canvas[:, y0:y1, x0:x1] = np.where(mask[..., None], rgb.astype(np.float32), canvas[:, y0:y1, x0:x1])
    full = np.zeros((len(t.cx), P, P), bool)
    full[:, y0:y1, x0:x1] = mask
    return full


def _hand_sizes(size: int) -> dict[str, float]:
    """Arm and hand dimensions in pixels (keypoints lie on the drawn arm since radii are >= 0.9 px)."""
    return {"upper": 0.085 * size, "fore": 0.07 * size, "palm_r": 0.063 * size, "palm": 0.1 * size,
            "finger": 0.125 * size, "finger_r": max(0.9, 0.024 * size), "overlap": max(1.0, 0.028 * size)}


def _normal(d: np.ndarray) -> np.ndarray:
    """The normal of ``d`` pointing up (or right when ``d`` is vertical)."""
    n = np.array([-d[1], d[0]])
    return -n if n[1] > 1e-9 or (abs(n[1]) <= 1e-9 and n[0] < 0) else n


def _snap(mask: np.ndarray, point: np.ndarray, d: np.ndarray, margin: int, size: int) -> np.ndarray:
    """First pixel of ``mask`` met on a ray along ``d`` through ``point`` (``point`` if none)."""
    steps = np.arange(-0.2 * size, 0.2 * size, 0.5)
    pts = point + steps[:, None] * d
    ij = np.floor(pts + margin).astype(int)
    inside = ((ij >= 0) & (ij < mask.shape[0])).all(1)
    hits = np.zeros(len(steps), bool)
    hits[inside] = mask[ij[inside, 1], ij[inside, 0]]
    return pts[hits.argmax()] if hits.any() else point


def _joints(plan: _Plan, actee: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame arm joints ``(T, 2)``: the hand placed against the actee's drawn silhouette, elbow by IK."""
    h, size, margin = plan.hand, plan.config.size, plan.margin
    z = _hand_sizes(size)
    T = len(h.kind)
    out = {k: np.zeros((T, 2)) for k in ("anchor", "index", "thumb", "middle")}
    for t in range(T):
        kind, d = int(h.kind[t]), h.d[t]
        n = _normal(d)
        (ai, bi), (at, bt) = _FINGERS[kind]
        side = min(h.reach[t], 1.3 * z["finger"]) * n
        index, thumb = z["finger"] * (ai * d + bi * n) + side, z["finger"] * (at * d + bt * n) - side
        middle = 0.8 * index + 0.2 * thumb
        front = max(z["palm_r"], index @ d + z["finger_r"], thumb @ d + 1.2 * z["finger_r"],
                    middle @ d + 1.4 * z["finger_r"])
        point = _snap(actee[min(t, len(actee) - 1)], h.point[t], d, margin, size) if _SNAP[kind] else h.point[t]
        if _CONTACT[kind]:
            anchor = point - d * (z["palm_r"] - z["overlap"])
        elif kind in (GAP, OPEN):
            anchor = point - d * (front + h.gap[t])
        else:
            anchor = point
        out["anchor"][t], out["index"][t], out["thumb"][t], out["middle"][t] = (
            anchor, anchor + index, anchor + thumb, anchor + middle)
    wrist = out["anchor"] - h.d * z["palm"]
    reach = wrist - h.shoulder
    dist = np.linalg.norm(reach, axis=1, keepdims=True)
    bone = 0.55 * dist.max()
    lift = np.sqrt(np.maximum(bone ** 2 - (dist / 2) ** 2, 0))
    perp = h.bend * np.stack([-reach[:, 1], reach[:, 0]], 1) / dist
    out.update(wrist=wrist, elbow=h.shoulder + reach / 2 + perp * lift, shoulder=np.broadcast_to(h.shoulder, (T, 2)),
               thumb_base=wrist + 0.5 * (out["anchor"] - wrist))
    return out


def _capsule(q: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float, margin: int) -> None:
    """Lower ``q`` ``(T, P, P)`` to the distance to segment ``a -> b`` ``(T, 2)`` in radii, where smaller."""
    lo, hi = np.minimum(a, b).min(0) - radius, np.maximum(a, b).max(0) + radius
    y0, y1, x0, x1 = _bbox(lo[0], hi[0], lo[1], hi[1], margin, q.shape[1])
    if y0 >= y1 or x0 >= x1:
        return
    ys, xs = _grid((y0, y1), (x0, x1), margin)
    ax, ay, dx, dy = _col(a[:, 0]), _col(a[:, 1]), _col(b[:, 0] - a[:, 0]), _col(b[:, 1] - a[:, 1])
    s = np.clip(((xs - ax) * dx + (ys - ay) * dy) / (dx * dx + dy * dy + 1e-9), 0, 1)
    dist = np.sqrt((xs - ax - s * dx) ** 2 + (ys - ay - s * dy) ** 2) / radius
    np.minimum(q[:, y0:y1, x0:x1], dist.astype(np.float32), out=q[:, y0:y1, x0:x1])


def _draw_arm(canvas: np.ndarray, j: dict[str, np.ndarray], hand: _Hand, margin: int, size: int):
    """Paint sleeve and hand with rounded shading; return the hand mask and the arm mask ``(T, P, P)``."""
    z = _hand_sizes(size)
    T, P = canvas.shape[:2]
    q = np.full((2, T, P, P), np.inf, np.float32)
    for a, b, r, part in ((j["shoulder"], j["elbow"], z["upper"], 0), (j["elbow"], j["wrist"], z["fore"], 0),
                          (j["wrist"], j["anchor"], z["palm_r"], 1), (j["anchor"], j["index"], z["finger_r"], 1),
                          (j["anchor"], j["middle"], 1.4 * z["finger_r"], 1),
                          (j["thumb_base"], j["thumb"], 1.2 * z["finger_r"], 1)):
        _capsule(q[part], a, b, r, margin)
    hand_mask = q[1] < 1
    arm_mask = hand_mask | (q[0] < 1)
    rows, cols = np.flatnonzero(arm_mask.any((0, 2))), np.flatnonzero(arm_mask.any((0, 1)))
    if len(rows):
        box = np.s_[:, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        sleeve = hand.sleeve * (1 - 0.35 * np.minimum(q[0][box], 1) ** 2)[..., None]
        skin = hand.skin * (1 - 0.3 * np.minimum(q[1][box], 1) ** 2)[..., None]
        canvas[box] = np.where(hand_mask[box][..., None], skin,
                               np.where((q[0][box] < 1)[..., None], sleeve, canvas[box]))
    return hand_mask, arm_mask


def _dilate(mask: np.ndarray) -> np.ndarray:
    """4-neighbour dilation by one pixel of ``(N, P, P)`` masks."""
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    out[:, :, 1:] |= mask[:, :, :-1]
    out[:, :, :-1] |= mask[:, :, 1:]
    return out


def _boxes(masks: np.ndarray) -> np.ndarray:
    """Tight ``x1, y1, x2, y2`` pixel-edge boxes of ``(..., S, S)`` masks; all zeros where a mask is empty."""
    size = masks.shape[-1]
    rows, cols = masks.any(-1), masks.any(-2)
    box = np.stack([cols.argmax(-1), rows.argmax(-1), size - cols[..., ::-1].argmax(-1),
                    size - rows[..., ::-1].argmax(-1)], -1)
    return (box * rows.any(-1)[..., None]).astype(np.float32)


def _render(plan: _Plan) -> Scene:
    """Rasterise a plan: background, shadows, objects by depth, arm; then camera, lighting, noise."""
    config, m = plan.config, plan.margin
    S, T, P = config.size, config.num_frames, config.size + 2 * plan.margin
    bx, by, brightness = plan.background
    canvas = np.repeat(_context_texture(plan.context, S)[None, by:by + P, bx:bx + P] * np.float32(brightness), T, 0)
    for track in plan.tracks:
        _draw_shadow(canvas, track, m, S)
    masks: list[np.ndarray] = [np.zeros(0)] * len(plan.tracks)
    for i in sorted(range(len(plan.tracks)), key=lambda i: plan.tracks[i].order):
        masks[i] = _draw_object(canvas, plan.tracks[i], m)
    joints = _joints(plan, masks[plan.actee])
    hand_mask, arm_mask = _draw_arm(canvas, joints, plan.hand, m, S)
    touching = _CONTACT[plan.hand.kind][:, None, None]
    contact = hand_mask & _dilate(masks[plan.actee]) & touching

    def crop(a: np.ndarray) -> np.ndarray:
        return np.stack([a[min(t, len(a) - 1), m + oy:m + oy + S, m + ox:m + ox + S] for t, (ox, oy) in
                         enumerate(plan.shake)])

    ys, xs = np.mgrid[0:S, 0:S] / S - 0.5
    light = plan.gain[:, None, None] * (1 + plan.gradient[0] * xs + plan.gradient[1] * ys)
    bank = _noise_bank(S)
    noise = np.stack([bank[k, oy:oy + S, ox:ox + S] for k, oy, ox in plan.noise_pick])
    frames = crop(canvas) * light[..., None].astype(np.float32) + np.float32(config.noise) * noise
    frames = np.clip(frames + 0.5, 0, 255).astype(np.uint8)
    object_masks = np.stack([crop(mk) for mk in masks], 1)
    keypoints = np.stack([joints[k] for k in ("shoulder", "elbow", "wrist", "thumb", "index")], 1) - \
        plan.shake[:, None, :]
    visible = ((keypoints >= 0) & (keypoints < S)).all(-1, keepdims=True)
    template = TEMPLATES[plan.label] if plan.label >= 0 else None
    names = [OBJECTS[plan.tracks[i].category].name for i in plan.placeholders]
    labels = [plan.tracks[i].category for i in plan.placeholders] + [NULL_OBJECT]
    hands = crop(hand_mask)
    return Scene(
        frames=frames, label=plan.label, template=template.text if template else "", placeholders=names,
        object_labels=(labels[0], labels[1]), context=plan.context, interval=plan.interval,
        categories=np.array([t.category for t in plan.tracks], np.int64),
        manipulated=np.array([t.manipulated for t in plan.tracks]), boxes=_boxes(object_masks), masks=object_masks,
        hand_boxes=_boxes(hands), arm_masks=crop(arm_mask),
        keypoints=np.concatenate([keypoints, visible], -1).astype(np.float32), contact=crop(contact))


# ------------------------------------------------------------------------------------------ API
def render_scene_for_label(config: SynthConfig, seed: int, label: int) -> Scene:
    """Scene ``seed`` of class ``label`` (``0 <= label < config.num_classes``), deterministic."""
    if not 0 <= label < config.num_classes:
        raise ValueError(f"label {label} out of range for num_classes={config.num_classes}")
    return _render(_plan(config, seed, label))


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
    return _render(_still(_plan(config, seed, _seed_label(config, seed))))


def conjugate_clips(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """The idle lead-in and tail frames of ``scene``: same context and objects, no action."""
    start, end = scene.interval
    return scene.frames[:start], scene.frames[end:]


def __getattr__(name: str):
    """``write_dataset`` and ``load_groundtruth`` live in :mod:`actattn.data.synthetic_write`; importable here too."""
    if name in ("write_dataset", "load_groundtruth"):
        from actattn.data import synthetic_write
        return getattr(synthetic_write, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
