"""Planning a SynthHOI scene: everything random about it (layout of the template's objects,
their motion, distractors, the arm and its hand targets per frame, camera shake, lighting, noise
crops), drawn from the seed before any pixel is rendered (:func:`plan_scene`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from actattn.data.synthetic.catalog import OBJECTS, TEMPLATES, SynthConfig, Template, usable

REST, SIDE, GAP, GRIP, PRESS, OPEN, RIM = range(7)  # what the hand does in a frame (its "kind")

_POSES = ("cx", "base", "z", "sx", "sy", "angle", "blur", "dx", "dy")


@dataclass
class Track:
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

    def animated(self, T: int) -> Track:
        """A copy whose pose arrays have one entry per frame (so they can be animated)."""
        return replace(self, **{k: np.broadcast_to(getattr(self, k), (T,)).astype(np.float64) for k in _POSES})


@dataclass
class Hand:
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
class Plan:
    """Everything random about a scene, drawn before any pixel is rendered."""

    config: SynthConfig
    label: int
    context: int
    interval: tuple[int, int]
    tracks: list[Track]
    actee: int
    placeholders: list[int]
    hand: Hand
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

    def new_object(self, prop: str, exclude: tuple[int, ...] = ()) -> Track:
        """A static object of a random category with property ``prop``, standing in the action row."""
        choices = [i for i in usable(self.config, prop) if i not in exclude] or usable(self.config, prop)
        return self.object(int(self.rng.choice(choices)), self.row, self.S)

    def object(self, category: int, base: float, max_height: float, scale: float = 1.0) -> Track:
        """A static object of ``category`` standing on ``base``, scaled (perspective), at most ``max_height`` tall."""
        cat = OBJECTS[category]
        t = self.rng.random()
        width = (cat.width[0] + t * (cat.width[1] - cat.width[0])) * self.S
        height = (cat.height[0] + t * (cat.height[1] - cat.height[0])) * self.S
        shrink = min(scale, max_height / height)
        scheme = cat.colours[self.rng.integers(len(cat.colours))]
        colours = np.array(scheme, np.float32) * np.float32(self.rng.uniform(0.9, 1.06))
        pose = {k: np.full(1, {"base": base, "sx": 1.0, "sy": 1.0}.get(k, 0.0)) for k in _POSES}
        return Track(category, width * shrink, height * shrink, colours, float(self.rng.random()), base, **pose)

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
    def top(track: Track) -> np.ndarray:
        return track.base - track.z - track.height * track.sy


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _push(b: _Builder, template: Template) -> list[Track]:
    a = b.new_object(template.affordance).animated(b.T)
    s, S = template.direction, b.S
    travel = b.M * b.uniform(0.14, 0.2) * S
    left = b.span(0.3 * S + a.width + travel)
    x0 = left + 0.3 * S + a.width / 2 if s > 0 else left + travel + a.width / 2
    a.cx = x0 + s * travel * b.q
    b.target(SIDE, a.cx - s * a.width / 2, b.row - 0.45 * a.height, (s, 0.0))
    return [a]


def _pretend(b: _Builder, template: Template) -> list[Track]:
    a = b.new_object(template.affordance)
    s, S = (1 if b.rng.random() < 0.5 else -1), b.S
    gap = S * (0.12 + 0.06 * b.M * (0.5 + 0.5 * np.cos(2 * np.pi * b.q)))
    left = b.span(0.5 * S + a.width)
    a.cx = np.array([left + 0.5 * S + a.width / 2 if s > 0 else left + a.width / 2])
    b.target(GAP, a.cx - s * a.width / 2, b.row - 0.45 * a.height, (s, 0.0), gap)
    return [a]


def _lift(b: _Builder, template: Template) -> list[Track]:
    a = b.new_object(template.affordance).animated(b.T)
    a.cx[:] = b.span(a.width) + a.width / 2
    height = b.M * b.uniform(0.13, 0.19) * b.S
    rise = 0.35 + 0.65 * _smooth(b.q / 0.7)
    lower = 1.0 - 0.65 * (b.q - 0.85) / 0.15
    a.z = np.where(b.active, height * np.where(b.q < 0.85, rise, lower), 0.0)
    b.target(GRIP, a.cx, b.top(a), (0.0, 1.0), reach=a.width / 2)
    return [a]


def _drop(b: _Builder, template: Template) -> list[Track]:
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


def _tear(b: _Builder, template: Template) -> list[Track]:
    a = b.new_object(template.affordance).animated(b.T)
    split = b.M * b.uniform(0.13, 0.17) * b.S
    a.cx[:] = b.span(a.width + split + 0.05 * b.S) + a.width / 2
    a.dx = np.where(b.p >= 0, split * np.where(b.active, 0.45 + 0.55 * b.q, 1.0), 0.0)
    a.dy = np.where(b.active, -0.35 * a.dx, 0.0)
    b.target(GRIP, a.cx + a.dx + a.width / 4, b.row + a.dy - a.height, (0.0, 1.0), reach=a.width / 4)
    return [a]


def _squeeze(b: _Builder, template: Template) -> list[Track]:
    a = b.new_object(template.affordance).animated(b.T)
    a.cx[:] = b.span(a.width * 1.3) + a.width * 0.65
    a.sy = 1 - np.where(b.active, 0.5 * (0.6 + 0.4 * np.sin(np.pi * b.q)), 0.0)
    a.sx = 1 + 0.5 * (1 - a.sy)
    b.target(PRESS, a.cx, b.top(a), (0.0, 1.0))
    return [a]


def _spin(b: _Builder, template: Template) -> list[Track]:
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


def _pair(b: _Builder, template: Template, gap0: float, room: float) -> tuple[Track, Track, int]:
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


def _closer(b: _Builder, template: Template) -> list[Track]:
    gap0 = b.M * b.uniform(0.16, 0.21) * b.S + 0.03 * b.S
    a, partner, s = _pair(b, template, gap0, 0.15 * b.S)
    a.cx = partner.cx[0] + s * ((a.width + partner.width) / 2 + gap0 + (0.02 * b.S - gap0) * _smooth(b.q / 0.6))
    b.target(SIDE, a.cx + s * a.width / 2, b.row - 0.45 * a.height, (-s, 0.0))
    return [a, partner]


def _away(b: _Builder, template: Template) -> list[Track]:
    gap0, travel = 0.13 * b.S, b.M * b.uniform(0.14, 0.19) * b.S
    a, partner, s = _pair(b, template, gap0 + travel, 0.0)
    a.cx = partner.cx[0] + s * ((a.width + partner.width) / 2 + gap0 + travel * b.q)
    b.target(SIDE, a.cx - s * a.width / 2, b.row - 0.45 * a.height, (s, 0.0))
    b.entry = _rotate(np.array([-0.4 * s, -1.0]) / math.hypot(0.4, 1.0), b.uniform(-15, 15))
    return [a, partner]


def _stack(b: _Builder, template: Template) -> list[Track]:
    a, support, _ = _pair(b, template, b.uniform(0.06, 0.12) * b.S, 0.0)
    a.order += 0.5
    x0, x1 = a.cx[0], support.cx[0] + b.uniform(-0.1, 0.1) * support.width
    a.cx = x0 + (x1 - x0) * _smooth(b.q / 0.3)
    hop = 0.05 * b.S * np.where(b.q < 0.3, _smooth(b.q / 0.15), 1 - _smooth((b.q - 0.3) / 0.15))
    a.z = np.where(b.p >= 0, support.height * _smooth(b.q / 0.3) + np.where(b.active, hop, 0.0), 0.0)
    b.target(GRIP, a.cx, b.top(a), (0.0, 1.0), reach=a.width / 2)
    return [a, support]


def _cover(b: _Builder, template: Template) -> list[Track]:
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


def _add_distractors(b: _Builder, tracks: list[Track]) -> None:
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


def _arm(b: _Builder) -> Hand:
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
    return Hand(b.kind, b.point, b.d, b.gap, b.reach, centre + entry * (reach + 0.12 * S),
                 1.0 if rng.random() < 0.5 else -1.0, skin, sleeve)


def plan_scene(config: SynthConfig, seed: int, label: int) -> Plan:
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
    plan = Plan(config, label, context, (start, start + length), tracks, 0, placeholders, hand, background,
                 shake, margin, gain, gradient, noise_pick)
    return _reversed(plan) if template.reverse else plan


def _reversed(plan: Plan) -> Plan:
    """The same scene played backwards: objects, hand, camera, lighting and noise."""
    T = plan.config.num_frames
    tracks = [replace(t, **{k: getattr(t, k)[::-1].copy() for k in _POSES}) for t in plan.tracks]
    h = plan.hand
    hand = replace(h, kind=h.kind[::-1].copy(), point=h.point[::-1].copy(), d=h.d[::-1].copy(),
                   gap=h.gap[::-1].copy(), reach=h.reach[::-1].copy())
    start, end = plan.interval
    return replace(plan, tracks=tracks, hand=hand, interval=(T - end, T - start), shake=plan.shake[::-1].copy(),
                   gain=plan.gain[::-1].copy(), noise_pick=plan.noise_pick[::-1].copy())


def still_plan(plan: Plan) -> Plan:
    """The same context and objects, posed as in frame 0, with the hand idling between its rest spots."""
    T = plan.config.num_frames
    tracks = [replace(t, manipulated=False, **{k: getattr(t, k)[:1].copy() for k in _POSES}) for t in plan.tracks]
    h, w = plan.hand, np.linspace(0.0, 1.0, T)[:, None]
    hand = replace(h, kind=np.full(T, REST), point=h.point[0] * (1 - w) + h.point[-1] * w,
                   d=np.repeat(h.d[:1], T, 0), gap=np.zeros(T), reach=np.zeros(T))
    return replace(plan, label=-1, tracks=tracks, hand=hand, interval=(0, 0))
