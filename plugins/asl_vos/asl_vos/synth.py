"""A synthetic video-object-segmentation dataset written in the YouTube-VOS layout.

YouTube-VOS cannot be downloaded everywhere, so this module draws a small stand-in from a seed and
writes it exactly as the real release lays out its train split (reference specs §C.1), so the demo
and the tests run the same loader (:class:`asl_vos.data.YouTubeVos`)::

    <root>/train/JPEGImages/<video>/<frame>.jpg     RGB frames, JPEG quality 95
    <root>/train/Annotations/<video>/<frame>.png    palette masks (pixel value = object id)
    <root>/train/meta.json                          category and visible frames of every object
    <root>/README.txt                               what this is, the parameters, the seed

Frames are named like the release's sampled frames: every ``frame_step``-th index of an imaginary
clip, 5-digit zero-padded, starting at a random multiple of ``frame_step`` (so names need not
start at ``00000``). Video ids are ``synth_NNNN``.

What is in a video:

* **Objects** (1 to ``max_objects``) of the :data:`CATEGORIES`. A category is a shape with its
  own texture and colour family (e.g. a ``disc`` is red with concentric rings, a ``square`` blue
  and chequered), so a category is recognisable from appearance and held-out categories are a
  real test of generalisation. Several objects of a video may share a category.
* **Motion**: each object drifts smoothly with random turns and speed changes, rotates, and
  grows or shrinks; some are steered to pass over another one (``cross_fraction``).
* **Occlusion**: objects are drawn back to front in a fixed per-video depth order; a mask holds
  the **visible** pixels only, so an occluded part belongs to the object in front.
* **Entering and leaving**: some objects start outside the frame and enter later (first visible
  frame > 0), some leave before the end; a ``ring`` shows the background through its hole.
  ``meta.json`` lists for each object exactly the frames where it is visible, and every object is
  visible on at least two frames.
* **Nuisances**: a textured background that pans, lighting drift (gain and colour cast) and
  pixel noise.

Generation is deterministic: video ``i`` draws from ``SeedSequence(seed, spawn_key=(i,))``, so
the same parameters give byte-identical files, and a video does not depend on how many others
are drawn.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import field, frozen, validators

from asl_core import AslUsageError, NullProgress, Progress

from .pngio import write_mask

__all__ = [
    "CATEGORIES",
    "SynthVideo",
    "SynthVosParams",
    "generate_synthetic_vos",
    "render_video",
]

#: object categories: a shape, with its own texture and colour family
CATEGORIES: tuple[str, ...] = (
    "disc",
    "square",
    "triangle",
    "ring",
    "cross",
    "star",
    "ellipse",
    "diamond",
)
#: radius of the circle around every shape, in units of the object's radius
_REACH = 1.25


def _categories(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def _check_categories(_inst: Any, _attr: Any, value: tuple[str, ...]) -> None:
    unknown = [c for c in value if c not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown categories {unknown}; choose from {list(CATEGORIES)}")
    if len(set(value)) != len(value) or not value:
        raise ValueError(f"categories must be distinct names, got {list(value)}")


def _check_size(_inst: Any, _attr: Any, value: tuple[int, ...]) -> None:
    if len(value) != 2 or any(v < 32 or v > 2048 or v % 16 for v in value):
        raise ValueError(f"size must be (H, W), each a multiple of 16 in 32..2048, got {value}")


def _check_range(lo: float, hi: float) -> Callable[[Any, Any, tuple[float, ...]], None]:
    def check(_inst: Any, attribute: Any, value: tuple[float, ...]) -> None:
        if len(value) != 2 or not lo <= value[0] <= value[1] <= hi:
            raise ValueError(
                f"{attribute.name} must be (lo, hi) with {lo} <= lo <= hi <= {hi}, got {value}"
            )

    return check


@frozen
class SynthVosParams:
    """Parameters of the synthetic VOS dataset (defaults sized for a 2-core CPU).

    Attributes:
        num_videos: videos to draw. Defaults to 60.
        min_frames: fewest (sampled) frames in a video. Defaults to 12.
        max_frames: most (sampled) frames in a video. Defaults to 24.
        size: frame ``(H, W)`` in pixels, multiples of 16. Defaults to (64, 112).
        min_objects: fewest objects in a video. Defaults to 1.
        max_objects: most objects in a video. Defaults to 3.
        seed: seed of everything drawn. Defaults to 0.
        frame_step: index step between the named frames (the release samples every 5th).
            Defaults to 5.
        categories: the categories to draw from. Defaults to all of :data:`CATEGORIES`.
        object_size: range ``(lo, hi)`` of an object's radius as a share of the frame's shorter
            side. Defaults to (0.16, 0.3).
        speed: range ``(lo, hi)`` of an object's speed, as a share of the frame width per frame.
            Defaults to (0.03, 0.08).
        enter_fraction: share of objects that start outside and enter after the first frame.
            Defaults to 0.3.
        leave_fraction: share of objects that leave the frame before the last frame.
            Defaults to 0.3.
        cross_fraction: share of the objects after a video's first that are steered to pass over
            another object (certain occlusion). Defaults to 0.5.
        scale_change: largest change of an object's log-size over a video. Defaults to 0.4.
        lighting_change: amplitude of the brightness drift (0 = constant). Defaults to 0.2.
        noise: standard deviation of the pixel noise, in 0-255 units. Defaults to 3.0.
        background_contrast: contrast of the background texture, 0 (flat) to 1. Defaults to 0.5.
        jpeg_quality: quality of the JPEG frames. Defaults to 95.
    """

    num_videos: int = field(default=60, converter=int, validator=validators.ge(1))
    min_frames: int = field(default=12, converter=int, validator=validators.ge(3))
    max_frames: int = field(default=24, converter=int)
    size: tuple[int, int] = field(
        default=(64, 112), converter=lambda v: tuple(int(x) for x in v), validator=_check_size
    )
    min_objects: int = field(default=1, converter=int, validator=validators.ge(1))
    max_objects: int = field(default=3, converter=int, validator=validators.le(16))
    seed: int = field(default=0, converter=int, validator=validators.ge(0))
    frame_step: int = field(default=5, converter=int, validator=validators.ge(1))
    categories: tuple[str, ...] = field(
        default=CATEGORIES, converter=_categories, validator=_check_categories
    )
    object_size: tuple[float, float] = field(
        default=(0.16, 0.3),
        converter=lambda v: tuple(float(x) for x in v),
        validator=_check_range(0.05, 0.5),
    )
    speed: tuple[float, float] = field(
        default=(0.03, 0.08),
        converter=lambda v: tuple(float(x) for x in v),
        validator=_check_range(0.0, 0.5),
    )
    enter_fraction: float = field(
        default=0.3, converter=float, validator=[validators.ge(0.0), validators.le(1.0)]
    )
    leave_fraction: float = field(
        default=0.3, converter=float, validator=[validators.ge(0.0), validators.le(1.0)]
    )
    cross_fraction: float = field(
        default=0.5, converter=float, validator=[validators.ge(0.0), validators.le(1.0)]
    )
    scale_change: float = field(
        default=0.4, converter=float, validator=[validators.ge(0.0), validators.le(1.0)]
    )
    lighting_change: float = field(
        default=0.2, converter=float, validator=[validators.ge(0.0), validators.le(0.5)]
    )
    noise: float = field(default=3.0, converter=float, validator=validators.ge(0.0))
    background_contrast: float = field(
        default=0.5, converter=float, validator=[validators.ge(0.0), validators.le(1.0)]
    )
    jpeg_quality: int = field(
        default=95, converter=int, validator=[validators.ge(1), validators.le(100)]
    )

    @max_frames.validator
    def _check_max_frames(self, _attr: Any, value: int) -> None:
        if value < self.min_frames:
            raise ValueError(f"max_frames ({value}) must be >= min_frames ({self.min_frames})")

    @max_objects.validator
    def _check_max_objects(self, _attr: Any, value: int) -> None:
        if value < self.min_objects:
            raise ValueError(f"max_objects ({value}) must be >= min_objects ({self.min_objects})")


# --------------------------------------------------------------------------- appearance


def _shape(category: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Which object-local points ``(u, v)`` (units of the object's radius) lie in the shape.

    Every shape fits in the circle of radius :data:`_REACH`.
    """
    r = np.hypot(u, v)
    if category == "disc":
        return r <= 1.0
    if category == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.85
    if category == "triangle":
        inside = np.ones(u.shape, dtype=bool)
        for k in range(3):  # three half-planes; circumradius 1
            a = np.pi / 2 + 2 * np.pi * k / 3
            inside &= u * np.cos(a) + v * np.sin(a) >= -0.5
        return inside
    if category == "ring":
        return (r <= 1.0) & (r >= 0.5)
    if category == "cross":
        return ((np.abs(u) <= 0.32) & (np.abs(v) <= 1.0)) | (
            (np.abs(v) <= 0.32) & (np.abs(u) <= 1.0)
        )
    if category == "star":
        # five points: the radius falls linearly from 1 at a tip to 0.45 between tips
        phase = np.mod(np.arctan2(v, u) * 5 / (2 * np.pi), 1.0)
        return r <= 0.45 + 0.55 * np.abs(2 * phase - 1)
    if category == "ellipse":
        return u**2 + (v / 0.55) ** 2 <= 1.0
    if category == "diamond":
        return np.abs(u) / 0.75 + np.abs(v) <= 1.0
    raise ValueError(f"unknown category {category!r}")


def _texture(category: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The category's texture in ``[0, 1]`` at object-local points (it moves with the object)."""
    r = np.hypot(u, v)
    if category == "disc":  # concentric rings
        return 0.5 + 0.5 * np.cos(2 * np.pi * 2.5 * r)
    if category == "square":  # chequer
        return ((np.floor(u * 2.5) + np.floor(v * 2.5)) % 2).astype(u.dtype)
    if category == "triangle":  # stripes across
        return 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * 2.0 * v))
    if category == "ring":  # spokes
        return 0.5 + 0.5 * np.cos(8 * np.arctan2(v, u))
    if category == "cross":  # dots
        return ((np.mod(u * 3, 1) - 0.5) ** 2 + (np.mod(v * 3, 1) - 0.5) ** 2 < 0.09).astype(
            u.dtype
        )
    if category == "star":  # bright centre, dark tips
        return np.clip(1.0 - r, 0.0, 1.0)
    if category == "ellipse":  # waves
        return 0.5 + 0.5 * np.sin(2 * np.pi * (1.5 * u + 0.3 * np.sin(4 * v)))
    if category == "diamond":  # diagonal grid lines
        return (np.minimum(np.mod(2.5 * (u + v), 1), np.mod(2.5 * (u - v), 1)) < 0.25).astype(
            u.dtype
        )
    raise ValueError(f"unknown category {category!r}")


#: hue (0-1) of each category's colour family
_HUE = {
    "disc": 0.0,
    "square": 0.62,
    "triangle": 0.33,
    "ring": 0.15,
    "cross": 0.86,
    "star": 0.5,
    "ellipse": 0.07,
    "diamond": 0.74,
}


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    """RGB ``float32[3]`` in 0-255 of a hue, saturation and value in 0-1."""
    k = np.mod(np.array([5.0, 3.0, 1.0]) + h * 6, 6)
    rgb = v - v * s * np.clip(np.minimum(k, 4 - k), 0, 1)
    return (255.0 * rgb).astype(np.float32)


def _colours(rng: np.random.Generator, category: str) -> tuple[np.ndarray, np.ndarray]:
    """The two colours an object's texture mixes: its family's hue, a light and a dark shade."""
    hue = _HUE[category] + rng.uniform(-0.03, 0.03)
    light = _hsv(hue, rng.uniform(0.55, 0.85), rng.uniform(0.8, 1.0))
    dark = _hsv(hue + rng.uniform(-0.02, 0.02), rng.uniform(0.7, 1.0), rng.uniform(0.3, 0.5))
    return light, dark


# --------------------------------------------------------------------------- motion


def _fold(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect positions into ``[lo, hi]`` (a path that would leave bounces off the edge)."""
    span = hi - lo
    y = np.mod(x - lo, 2 * span)
    return lo + span - np.abs(y - span)


def _walk(rng: np.random.Generator, n: int, height: int, width: int, speed: float) -> np.ndarray:
    """A smooth path ``float[n, 2]`` of (x, y) centres inside the frame: drift with noise,
    occasional turns and speed changes, bouncing off the edges."""
    start = np.array([rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height])
    angle = rng.uniform(0, 2 * np.pi)
    steps = np.zeros((n, 2))
    pace = speed
    for t in range(1, n):
        if rng.uniform() < 0.2:  # a turn and a change of pace
            angle += rng.uniform(-1.5, 1.5)
            pace = speed * rng.uniform(0.5, 1.6)
        angle += rng.normal(0, 0.15)
        steps[t] = pace * np.array([np.cos(angle), np.sin(angle)])
    path = start + np.cumsum(steps, axis=0)
    return np.stack([_fold(path[:, 0], 0, width), _fold(path[:, 1], 0, height)], axis=1)


def _nearest_border(p: np.ndarray, height: int, width: int) -> tuple[np.ndarray, float]:
    """Outward unit normal of the frame border nearest to ``p`` and the distance to it."""
    dists = [p[0], width - p[0], p[1], height - p[1]]
    normals = [(-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0)]
    k = int(np.argmin(dists))
    return np.array(normals[k]), float(max(dists[k], 0.0))


@frozen(eq=False)
class _Plan:
    """Where one object is and how it looks on every frame of its video."""

    category: str
    centre: np.ndarray  # float[n, 2] (x, y)
    radius: np.ndarray  # float[n]
    angle: np.ndarray  # float[n]
    light: np.ndarray  # float32[3]
    dark: np.ndarray  # float32[3]


def _plan_objects(
    rng: np.random.Generator, n: int, params: SynthVosParams, categories: Sequence[str]
) -> list[_Plan]:
    """Draw every object's path, size, rotation and colours (module docstring)."""
    height, width = params.size
    side = min(height, width)
    k = len(categories)
    spans = []
    for _ in range(k):
        enters = n >= 5 and rng.uniform() < params.enter_fraction
        leaves = n >= 5 and rng.uniform() < params.leave_fraction
        t_in = int(rng.integers(1, n // 2)) if enters else 0
        t_out = int(rng.integers(max(t_in + 2, n // 2), n - 1)) if leaves else n - 1
        spans.append((t_in, max(t_out, t_in + 1)))
    plans: list[_Plan] = []
    t = np.arange(n)
    for j, category in enumerate(categories):
        speed = rng.uniform(*params.speed) * width
        t_in, t_out = spans[j]
        if j > 0 and rng.uniform() < params.cross_fraction:
            # pass over an earlier object at a frame where both are in the frame
            i = int(rng.integers(j))
            lo, hi = max(t_in, spans[i][0]), min(t_out, spans[i][1])
            t_c = int(rng.integers(lo, hi + 1)) if lo <= hi else (t_in + t_out) // 2
            heading = rng.uniform(0, 2 * np.pi)
            rel = speed * np.array([np.cos(heading), np.sin(heading)])
            centre = plans[i].centre + (t - t_c)[:, None] * rel
            centre = np.stack([_fold(centre[:, 0], 0, width), _fold(centre[:, 1], 0, height)], 1)
        else:
            centre = _walk(rng, n, height, width, speed)
        base = rng.uniform(*params.object_size) * side
        drift = params.scale_change * rng.uniform(-1, 1) * (t / max(n - 1, 1) - 0.5)
        wobble = 0.05 * np.sin(2 * np.pi * t / rng.uniform(6, 16) + rng.uniform(0, 6.3))
        radius = base * np.exp(drift + wobble)
        reach = _REACH * float(radius.max()) + 1.0
        if t_in > 0:  # come in from the nearest border, fully outside on frame 0
            normal, dist = _nearest_border(centre[t_in], height, width)
            step = max(speed, (dist + reach) / t_in)
            centre[:t_in] = centre[t_in] + normal * (step * (t_in - t[:t_in]))[:, None]
        if t_out < n - 1:  # go out through the nearest border, fully outside on the last frame
            normal, dist = _nearest_border(centre[t_out], height, width)
            step = max(speed, (dist + reach) / (n - 1 - t_out))
            centre[t_out + 1 :] = (
                centre[t_out] + normal * (step * (t[t_out + 1 :] - t_out))[:, None]
            )
        angle = rng.uniform(0, 2 * np.pi) + rng.uniform(-0.3, 0.3) * t
        light, dark = _colours(rng, category)
        plans.append(_Plan(category, centre, radius, angle, light, dark))
    return plans


# --------------------------------------------------------------------------- rendering


def _background(
    rng: np.random.Generator, n: int, height: int, width: int, contrast: float
) -> np.ndarray:
    """A panning textured background ``float32[n, H, W, 3]`` (filtered noise and stripes)."""
    fy, fx = np.fft.fftfreq(height), np.fft.fftfreq(width)
    radius = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    filt = 1.0 / (1.0 + (radius / rng.uniform(0.04, 0.12)) ** 2)
    noise = rng.standard_normal((height, width))
    tex = np.real(np.fft.ifft2(np.fft.fft2(noise) * filt))
    tex = (tex - tex.min()) / max(float(np.ptp(tex)), 1e-9)
    yy, xx = np.mgrid[0:height, 0:width]
    k = rng.integers(1, 4, size=2)
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (k[0] * xx / width + k[1] * yy / height))
    mix = rng.uniform(0.1, 0.4)
    tex = ((1 - mix) * tex + mix * stripes).astype(np.float32)
    # integer panning keeps the periodic texture exact
    pan = rng.uniform(-1.5, 1.5, size=2)
    shift = np.rint(np.arange(n)[:, None] * pan[None, :]).astype(int)
    rows = (np.arange(height)[None, :] + shift[:, 1:2]) % height
    cols = (np.arange(width)[None, :] + shift[:, 0:1]) % width
    moving = tex[rows[:, :, None], cols[:, None, :]]
    grey = rng.uniform(70, 170)
    c1 = (grey + rng.uniform(-25, 25, size=3)).astype(np.float32)
    c2 = (255 - grey + rng.uniform(-25, 25, size=3)).astype(np.float32)
    return c1 + (c2 - c1) * (0.5 + contrast * (moving[..., None] - 0.5))


def _draw(plan: _Plan, t: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The object's pixels on frame ``t``: ``(inside bool[h, w], colour float32[h, w, 3],
    (y0, y1, x0, x1))`` over its bounding crop (empty when it is outside the frame)."""
    cx, cy = plan.centre[t]
    r = float(plan.radius[t])
    reach = _REACH * r
    x0, x1 = max(math.floor(cx - reach), 0), min(math.ceil(cx + reach) + 1, width)
    y0, y1 = max(math.floor(cy - reach), 0), min(math.ceil(cy + reach) + 1, height)
    if x1 <= x0 or y1 <= y0:
        empty = np.zeros((0, 0), dtype=bool)
        return empty, np.zeros((0, 0, 3), np.float32), (0, 0, 0, 0)
    # pixel centres, relative to the object centre, rotated into the object's frame
    dx = (np.arange(x0, x1, dtype=np.float32) + 0.5 - cx)[None, :]
    dy = (np.arange(y0, y1, dtype=np.float32) + 0.5 - cy)[:, None]
    c, s = math.cos(plan.angle[t]), math.sin(plan.angle[t])
    u = (c * dx + s * dy) / r
    v = (-s * dx + c * dy) / r
    inside = _shape(plan.category, u, v)
    tex = _texture(plan.category, u, v)[..., None]
    colour = plan.dark + (plan.light - plan.dark) * tex
    return inside, colour.astype(np.float32), (y0, y1, x0, x1)


def _compose(
    background: np.ndarray, plans: Sequence[_Plan], depth: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw the objects back to front (``depth``: indices into ``plans``).

    Returns:
        ``(pixels float32[n, H, W, 3], ids uint8[n, H, W], full bool[K, n, H, W])``: ids are
        ``plan index + 1`` where that object is visible; ``full`` is each object's whole
        (amodal) extent inside the frame.
    """
    n, height, width = background.shape[:3]
    pixels = background.copy()
    ids = np.zeros((n, height, width), dtype=np.uint8)
    full = np.zeros((len(plans), n, height, width), dtype=bool)
    for k in depth:
        for t in range(n):
            inside, colour, (y0, y1, x0, x1) = _draw(plans[k], t, height, width)
            if not inside.any():
                continue
            full[k, t, y0:y1, x0:x1] = inside
            pixels[t, y0:y1, x0:x1][inside] = colour[inside]
            ids[t, y0:y1, x0:x1][inside] = k + 1
    return pixels, ids, full


def _lighting(rng: np.random.Generator, n: int, amount: float) -> np.ndarray:
    """Per-frame, per-channel gain ``float32[n, 3]``: a slow brightness drift and colour cast."""
    t = np.arange(n)[:, None]
    period = rng.uniform(0.7 * n, 2.5 * n)
    gain = 1.0 + amount * rng.uniform(0.4, 1.0) * np.sin(
        2 * np.pi * t / period + rng.uniform(0, 6.3)
    )
    cast = 1.0 + 0.3 * amount * np.sin(
        2 * np.pi * t / rng.uniform(n, 3 * n) + rng.uniform(0, 6.3, size=3)
    )
    return (gain * cast).astype(np.float32)


@frozen(eq=False)
class SynthVideo:
    """One drawn video, before it is written (what :func:`render_video` returns).

    Attributes:
        id: the video id (``synth_NNNN``).
        frames: frame names, ``frame_step`` apart.
        images: ``uint8[F, H, W, 3]`` RGB frames (before JPEG compression).
        masks: ``uint8[F, H, W]`` visible object ids, 0 = background.
        full_masks: ``bool[K, F, H, W]`` each object's whole extent inside the frame, ignoring
            occlusion (object id ``k + 1`` at index ``k``), so ``masks == k + 1`` is a subset.
        categories: category of object id ``k + 1`` at index ``k``.
        depth: object ids from back to front (the drawing order).
    """

    id: str
    frames: tuple[str, ...]
    images: np.ndarray
    masks: np.ndarray
    full_masks: np.ndarray
    categories: tuple[str, ...]
    depth: tuple[int, ...]

    def visible_frames(self, object_id: int) -> tuple[str, ...]:
        """Names of the frames where the object has a visible pixel."""
        seen = (self.masks == object_id).any(axis=(1, 2))
        return tuple(name for name, s in zip(self.frames, seen, strict=True) if s)


def render_video(params: SynthVosParams, index: int) -> SynthVideo:
    """Draw video ``index`` of the dataset ``params`` describe (module docstring).

    Objects not visible on at least two frames are redrawn without entering, leaving or
    crossing and put in front (at most three rounds); any still not visible on two frames are
    then dropped, and the others are renumbered ``1..K`` in their order.
    """
    rng = np.random.default_rng(np.random.SeedSequence(params.seed, spawn_key=(index,)))
    height, width = params.size
    n = int(rng.integers(params.min_frames, params.max_frames + 1))
    first = params.frame_step * int(rng.integers(0, 20))
    names = tuple(f"{first + params.frame_step * i:05d}" for i in range(n))
    count = int(rng.integers(params.min_objects, params.max_objects + 1))
    categories = [str(c) for c in rng.choice(params.categories, size=count)]
    background = _background(rng, n, height, width, params.background_contrast)
    plans = _plan_objects(rng, n, params, categories)
    depth = [int(k) for k in rng.permutation(count)]

    for attempt in range(4):
        pixels, ids, full = _compose(background, plans, depth)
        shown = [int((ids == k + 1).any(axis=(1, 2)).sum()) for k in range(len(plans))]
        weak = [k for k, s in enumerate(shown) if s < 2]
        if not weak or attempt == 3:
            break
        calm = attrs.evolve(params, enter_fraction=0.0, leave_fraction=0.0, cross_fraction=0.0)
        for k in weak:
            plans[k] = _plan_objects(rng, n, calm, [categories[k]])[0]
            depth.remove(k)
            depth.append(k)
    if weak:
        keep = [k for k, s in enumerate(shown) if s >= 2]
        plans = [plans[k] for k in keep]
        categories = [categories[k] for k in keep]
        depth = [keep.index(k) for k in depth if k in keep]
        pixels, ids, full = _compose(background, plans, depth)

    pixels *= _lighting(rng, n, params.lighting_change)[:, None, None, :]
    if params.noise > 0:
        pixels += params.noise * rng.standard_normal(pixels.shape, dtype=np.float32)
    images = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return SynthVideo(
        id=f"synth_{index:04d}",
        frames=names,
        images=images,
        masks=ids,
        full_masks=full,
        categories=tuple(categories),
        depth=tuple(k + 1 for k in depth),
    )


# --------------------------------------------------------------------------- writing


def _write_video(split_dir: Path, video: SynthVideo, quality: int) -> dict[str, Any]:
    """Write one video's JPEG frames and palette masks; returns its ``meta.json`` entry."""
    from PIL import Image

    image_dir = split_dir / "JPEGImages" / video.id
    mask_dir = split_dir / "Annotations" / video.id
    image_dir.mkdir(parents=True)
    mask_dir.mkdir(parents=True)
    for name, image, mask in zip(video.frames, video.images, video.masks, strict=True):
        Image.fromarray(image).save(image_dir / f"{name}.jpg", "JPEG", quality=quality)
        write_mask(mask_dir / f"{name}.png", mask)
    objects = {
        str(k + 1): {"category": category, "frames": list(video.visible_frames(k + 1))}
        for k, category in enumerate(video.categories)
    }
    return {"objects": objects}


def _readme(params: SynthVosParams) -> str:
    values = "\n".join(f"  {k} = {v!r}" for k, v in attrs.asdict(params).items())
    return f"""SynthVOS: a synthetic video-object-segmentation dataset drawn by asl_vos.synth.

Not real data. {params.num_videos} videos of textured shapes (one category per shape, each with its
own texture and colour family) moving over a panning textured background, occluding each other,
entering and leaving the frame, with lighting drift and pixel noise. Written in the YouTube-VOS
train layout so the real loader reads it.

Layout
  train/JPEGImages/<video>/<frame>.jpg    RGB frames (JPEG), named every {params.frame_step}th index
  train/Annotations/<video>/<frame>.png   palette PNG masks: pixel value = object id, 0 = background
  train/meta.json                         {{"videos": {{id: {{"objects": {{"<id>": {{"category",
                                          "frames": frames where the object is visible}}}}}}}}}}

Masks hold visible pixels only (an occluded part belongs to the object in front).
Categories: {", ".join(params.categories)}
Seed: {params.seed}
Generator parameters:
{values}

Regenerate with: asl-run data synth --dataset synthetic_vos (same parameters and seed give the
same files).
"""


def generate_synthetic_vos(
    root: Path, params: SynthVosParams, progress: Progress | None = None
) -> Path:
    """Draw the synthetic VOS dataset and write it to ``root`` in the YouTube-VOS train layout.

    The dataset is written to ``<root>.partial`` (a leftover one from an interrupted run is
    removed first) and renamed to ``root`` at the end, so a crash never leaves a half-written
    dataset that looks complete.

    Args:
        root: the dataset root to create; it may exist only as an empty folder.
        params: what to draw.
        progress: told the number of videos, then advanced once per video written.

    Returns:
        ``root / "train" / "meta.json"``.

    Raises:
        AslUsageError: when ``root`` is a file or a non-empty folder.
    """
    root = Path(root).expanduser()
    progress = progress or NullProgress()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise AslUsageError(f"{root}: exists and is not an empty folder; choose another")
    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    split_dir = partial / "train"
    split_dir.mkdir(parents=True)
    try:
        progress.start(params.num_videos, "drawing synthetic VOS videos")
        videos: dict[str, Any] = {}
        for index in range(params.num_videos):
            video = render_video(params, index)
            videos[video.id] = _write_video(split_dir, video, params.jpeg_quality)
            progress.advance()
        meta = json.dumps({"videos": videos}, indent=1) + "\n"
        (split_dir / "meta.json").write_text(meta, encoding="utf-8")
        (partial / "README.txt").write_text(_readme(params), encoding="utf-8")
        if root.exists():
            root.rmdir()
        partial.rename(root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return root / "train" / "meta.json"
