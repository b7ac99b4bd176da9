"""Drawing a planned SynthHOI scene (:func:`render_plan`): context texture, shadows, objects by
depth, the arm and hand placed against the object's drawn silhouette, then camera shake, lighting
and sensor noise; the ground truth (boxes, masks, keypoints, contact) comes from the same pixels.

Rendering is vectorised numpy over frames; context textures and a noise bank are built once
per process. Everything comes from the seed: the same ``(config, seed)`` gives identical bytes.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import ndimage

from actattn.data.synthetic.catalog import CONTEXTS, NULL_OBJECT, OBJECTS, TEMPLATES, Scene
from actattn.data.synthetic.planning import GAP, GRIP, OPEN, PRESS, REST, RIM, SIDE, Hand, Plan, Track

# per hand kind: whether the hand touches the object, and whether it snaps to the object's drawn silhouette
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


def _draw_shadow(canvas: np.ndarray, t: Track, margin: int, size: int) -> None:
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


def _draw_object(canvas: np.ndarray, t: Track, margin: int) -> np.ndarray:
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


def _joints(plan: Plan, actee: np.ndarray) -> dict[str, np.ndarray]:
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


def _draw_arm(canvas: np.ndarray, j: dict[str, np.ndarray], hand: Hand, margin: int, size: int):
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


def render_plan(plan: Plan) -> Scene:
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
