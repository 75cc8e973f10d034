"""A synthetic action-detection dataset written in the real datasets' on-disk layout.

Real action-detection datasets (UCF101-24, J-HMDB-21) cannot be downloaded everywhere, so this
module draws a small one from a seed and writes it exactly as the real loaders expect it, so a demo
exercises the same loading path (:class:`asl_action_det.dataset.ActionDataset`)::

    <out>/Frames/<class>/<video>/00001.png ...            RGB uint8 PNG, 1-based
    <out>/puppet_mask/<class>/<video>/puppet_mask.mat     variable part_mask, uint8 H x W x T
    <out>/SynthActions-GT.pkl                             ACT ground truth (protocol 2)
    <out>/README.txt                                      what this is, the parameters, the seed

Video ids are ``"<class>/<class>_<NNNN>"`` (e.g. ``"wave/wave_0007"``).

What is in a video:

* **Actors** are articulated stick figures (head, torso, two two-segment arms and legs drawn as
  thick segments). Every class uses the same shapes and draws colours from the same distribution,
  so a single frame is often ambiguous (every class passes through a near-neutral standing pose);
  classes differ by how the pose **moves**: ``walk`` and ``run`` swing limbs and travel (run
  faster, leaning, with bent elbows), ``jump`` crouches and leaves the ground, ``wave`` swings a
  raised forearm, ``spin`` turns about the vertical axis with arms out, ``bend`` bows at the hip.
* **Tubes**: an actor is present only on frames ``[start, end]`` of its tube (at least
  ``min_tube_fraction`` of the video) and absent elsewhere. A ``two_actor_fraction`` of videos have
  a second actor doing the same action on its own tube (two tubes under the same label, as in
  UCF101-24).
* **Frames are not equally informative**: the pace changes within a video (pauses, slow and fast
  stretches), an occluder bar sweeps across part of the video, the actor's scale drifts (it
  approaches or recedes), and the lighting drifts with occasional dim spells.
* **Clutter**: a textured background (filtered noise plus stripes) scrolls, and up to
  ``max_distractors`` moving shapes (discs, boxes and rotating sticks, in actor-like colours) are
  not actors.

Ground-truth conventions:

* Boxes are ACT's: ``x1 y1 x2 y2`` in 0-based pixel coordinates with **inclusive** ``x2/y2`` (the
  last pixel), the tight box of the actor's **full** (amodal) mask, clipped to the image. The full
  mask ignores the occluder and other actors, so a tube stays contiguous while its actor is hidden.
* Masks (``part_mask``) are **visible** (modal) pixels: the union over actors of pixels where an
  actor is drawn and not hidden by the occluder. Where actors overlap, the pixel belongs to the
  actor drawn in front.

Generation is deterministic: the same parameters give a byte-identical pickle and identical PNG
frames (each video draws from its own child of ``numpy.random.SeedSequence(seed)``). The MAT
files' contents are identical too, but scipy stamps a creation time into their header.
"""

from __future__ import annotations

import math
import os
import pickle
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from attrs import field, frozen, validators

from asl_core import AslUsageError, Configurable, NullProgress, Progress

__all__ = [
    "CLASSES",
    "GT_FILE",
    "SynthParams",
    "SyntheticActionsDataset",
    "generate_synthetic_actions",
]

#: Action classes, in label-index order. Each is defined by motion only.
CLASSES: tuple[str, ...] = ("walk", "run", "jump", "wave", "spin", "bend")
#: File name of the ACT ground-truth pickle written at the dataset root.
GT_FILE = "SynthActions-GT.pkl"
FRAMES_DIR = "Frames"
MASKS_DIR = "puppet_mask"
FRAME_PATTERN = "{:05d}.png"


def _classes(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def _check_classes(_inst: Any, _attr: Any, value: tuple[str, ...]) -> None:
    unknown = [c for c in value if c not in CLASSES]
    if unknown:
        raise ValueError(f"unknown action classes {unknown}; choose from {list(CLASSES)}")
    if len(set(value)) != len(value) or len(value) < 2:
        raise ValueError(f"classes must be at least two distinct names, got {list(value)}")


@frozen
class SynthParams:
    """Parameters of the synthetic action dataset.

    Attributes:
        num_train: training videos (the active-learning pool). Defaults to 200.
        num_test: test videos. Defaults to 50.
        min_frames: fewest frames in a video. Defaults to 32.
        max_frames: most frames in a video. Defaults to 64.
        size: frame height and width in pixels. Defaults to 64.
        seed: seed of everything drawn. Defaults to 0.
        two_actor_fraction: share of videos with a second actor. Defaults to 0.25.
        min_tube_fraction: shortest tube, as a share of the video's frames. Defaults to 0.4.
        occlusion_fraction: share of videos crossed by an occluder bar. Defaults to 0.5.
        max_distractors: most moving non-actor shapes per video. Defaults to 1.
        pace_change: whether the action's pace varies within a video (pauses, slow and fast
            stretches). Defaults to True.
        scale_change: largest change of the actor's log-scale over a video. Defaults to 0.4.
        lighting_change: amplitude of the brightness drift (0 = constant). Defaults to 0.3.
        noise: standard deviation of the pixel noise, in 0-255 units. Defaults to 3.0.
        actor_height: range ``(lo, hi)`` of an actor's standing height as a share of the frame
            (15 % smaller when two actors share a video). Defaults to (0.6, 0.8).
        limb_width: thickness of limbs, torso and head relative to the base build.
            Defaults to 1.5.
        background_contrast: contrast of the background texture, 0 (flat) to 1. Defaults to 0.5.
        classes: which action classes to use, in label order. Defaults to all of :data:`CLASSES`.
        workers: processes that draw videos; 0 = one per CPU (at most 8), used only for 32 videos
            or more. The result does not depend on it. Defaults to 0.
    """

    num_train: int = field(default=200, converter=int, validator=validators.ge(1))
    num_test: int = field(default=50, converter=int, validator=validators.ge(0))
    min_frames: int = field(default=32, converter=int, validator=validators.ge(4))
    max_frames: int = field(default=64, converter=int)
    size: int = field(default=64, converter=int, validator=[validators.ge(24), validators.le(1024)])
    seed: int = field(default=0, converter=int, validator=validators.ge(0))
    two_actor_fraction: float = field(
        default=0.25, converter=float, validator=[validators.ge(0.0), validators.le(1.0)]
    )
    min_tube_fraction: float = field(
        default=0.4, converter=float, validator=[validators.gt(0.0), validators.le(1.0)]
    )
    occlusion_fraction: float = field(
        default=0.5, converter=float, validator=[validators.ge(0.0), validators.le(1.0)]
    )
    max_distractors: int = field(
        default=1, converter=int, validator=[validators.ge(0), validators.le(8)]
    )
    pace_change: bool = field(default=True, validator=validators.instance_of(bool))
    scale_change: float = field(
        default=0.4, converter=float, validator=[validators.ge(0.0), validators.le(1.0)]
    )
    lighting_change: float = field(
        default=0.3, converter=float, validator=[validators.ge(0.0), validators.le(0.5)]
    )
    noise: float = field(default=3.0, converter=float, validator=validators.ge(0.0))
    actor_height: tuple[float, float] = field(
        default=(0.6, 0.8), converter=lambda v: tuple(float(x) for x in v)
    )
    limb_width: float = field(
        default=1.5, converter=float, validator=[validators.gt(0.0), validators.le(3.0)]
    )
    background_contrast: float = field(
        default=0.5, converter=float, validator=[validators.ge(0.0), validators.le(1.0)]
    )
    classes: tuple[str, ...] = field(default=CLASSES, converter=_classes, validator=_check_classes)
    workers: int = field(default=0, converter=int, validator=validators.ge(0))

    @actor_height.validator
    def _check_actor_height(self, _attr: Any, value: tuple[float, ...]) -> None:
        if len(value) != 2 or not 0.1 <= value[0] <= value[1] <= 0.9:
            raise ValueError(
                f"actor_height must be (lo, hi) with 0.1 <= lo <= hi <= 0.9, got {value}"
            )

    @max_frames.validator
    def _check_max_frames(self, _attr: Any, value: int) -> None:
        if value < self.min_frames:
            raise ValueError(f"max_frames ({value}) must be >= min_frames ({self.min_frames})")


# --------------------------------------------------------------------------- the figure

# Body proportions in units of standing height (hip at the origin, y up, x towards the facing
# direction). Angles of limbs are measured from straight down, positive = forwards.
_THIGH, _SHIN, _TORSO = 0.25, 0.24, 0.33
_UPPER_ARM, _FOREARM = 0.17, 0.16
_NECK, _HEAD_R = 0.1, 0.085  # neck: torso top to head centre
_LIMB_R, _TORSO_R = 0.05, 0.075
# back to front; the far limbs are drawn darker so the figure reads as 3-D
_SEGMENT_RADII = np.array(
    [_LIMB_R, _LIMB_R, _LIMB_R, _LIMB_R, _TORSO_R, _LIMB_R, _LIMB_R, _LIMB_R, _LIMB_R, _HEAD_R]
)
_FAR_SEGMENTS = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=bool)
_HEAD_SEGMENT = 9
# phase speed of each class relative to the video's base rate, and travel per radian of phase
_RATE = {"walk": 1.0, "run": 1.5, "jump": 0.8, "wave": 1.4, "spin": 0.8, "bend": 0.6}
_TRAVEL = {"walk": 0.11, "run": 0.2, "jump": 0.0, "wave": 0.0, "spin": 0.0, "bend": 0.0}


@frozen
class _Pose:
    """Pose angles over ``n`` frames (all arrays ``float64[n]``)."""

    lean: np.ndarray
    air: np.ndarray
    squash: np.ndarray
    arms: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]  # near, far
    legs: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]  # near, far


def _pose(action: str, phase: np.ndarray, amp: float) -> _Pose:
    """Pose of ``action`` at each ``phase`` (radians); ``amp`` scales the movement (≈1)."""
    z = np.zeros_like(phase)
    one = np.ones_like(phase)
    s, c = np.sin(phase), np.cos(phase)
    if action == "walk":
        a = 0.45 * amp
        legs = ((a * s, 0.5 * np.maximum(0, -c)), (-a * s, 0.5 * np.maximum(0, c)))
        arms = ((-0.7 * a * s, 0.25 + z), (0.7 * a * s, 0.25 + z))
        return _Pose(0.05 + z, z, one, arms, legs)
    if action == "run":
        a = 0.75 * amp
        legs = ((a * s, 0.3 + 0.9 * np.maximum(0, -c)), (-a * s, 0.3 + 0.9 * np.maximum(0, c)))
        arms = ((-0.8 * a * s, 1.4 + z), (0.8 * a * s, 1.4 + z))
        return _Pose(0.25 + z, 0.05 * amp * np.abs(s), one, arms, legs)
    if action == "jump":
        u = np.mod(phase, 2 * np.pi) / (2 * np.pi)
        crouch = np.where(u < 0.35, np.sin(np.pi * u / 0.35), 0.0)
        flight = np.where((u >= 0.35) & (u < 0.85), np.sin(np.pi * (u - 0.35) / 0.5), 0.0)
        legs = ((0.9 * crouch + 0.1 * flight, 1.8 * crouch), (0.8 * crouch, 1.7 * crouch))
        up = -0.5 * crouch + 2.6 * flight
        arms = ((up, 0.1 + z), (0.9 * up, 0.1 + z))
        return _Pose(0.4 * crouch, 0.45 * amp * flight, one, arms, legs)
    if action == "wave":
        legs = ((0.12 + z, z), (-0.12 + z, z))
        arms = ((2.5 + z, 0.5 + 0.6 * amp * s), (0.05 + z, 0.1 + z))
        return _Pose(z, z, one, arms, legs)
    if action == "spin":
        legs = ((0.15 + z, z), (-0.15 + z, z))
        arms = ((np.pi / 2 * amp + z, z), (-np.pi / 2 * amp + z, z))
        return _Pose(z, z, c, arms, legs)
    if action == "bend":
        b = 0.5 * (1 - c)
        legs = ((-0.15 * b, z), (-0.15 * b, z))
        arms = ((0.1 + z, z), (0.05 + z, z))  # world-vertical: arms hang while the torso bows
        return _Pose(1.3 * amp * b, z, one, arms, legs)
    raise ValueError(f"unknown action {action!r}")


def _direction(angle: np.ndarray) -> np.ndarray:
    """Unit vectors ``float[n, 2]`` (x, y-up) of limbs at ``angle`` from straight down."""
    return np.stack([np.sin(angle), -np.cos(angle)], axis=-1)


def _segments(pose: _Pose) -> tuple[np.ndarray, np.ndarray]:
    """Segment end points in body units, ``float[n, 10, 2]`` each (p, q), y up, feet at y=0."""
    up = np.stack([np.sin(pose.lean), np.cos(pose.lean)], axis=-1)
    depth = [
        _THIGH * np.cos(a1) + _SHIN * np.cos(a1 - a2) for a1, a2 in pose.legs
    ]  # hip height that puts each foot on the ground
    hip_y = np.maximum(depth[0], depth[1]) + pose.air
    hip = np.stack([np.zeros_like(hip_y), hip_y], axis=-1)
    neck = hip + _TORSO * up
    head = neck + _NECK * up
    legs, arms = [], []
    for a1, a2 in pose.legs:
        knee = hip + _THIGH * _direction(a1)
        legs.append((hip, knee, knee, knee + _SHIN * _direction(a1 - a2)))
    for b1, b2 in pose.arms:
        elbow = neck + _UPPER_ARM * _direction(b1)
        arms.append((neck, elbow, elbow, elbow + _FOREARM * _direction(b1 + b2)))
    (near_arm, far_arm), (near_leg, far_leg) = arms, legs
    p = [far_arm[0], far_arm[2], far_leg[0], far_leg[2], hip, near_leg[0], near_leg[2]]
    p += [near_arm[0], near_arm[2], head]
    q = [far_arm[1], far_arm[3], far_leg[1], far_leg[3], neck, near_leg[1], near_leg[3]]
    q += [near_arm[1], near_arm[3], head]
    p_arr, q_arr = np.stack(p, axis=1), np.stack(q, axis=1)
    # turning about the vertical axis foreshortens every horizontal offset
    p_arr[..., 0] *= pose.squash[:, None]
    q_arr[..., 0] *= pose.squash[:, None]
    return p_arr, q_arr


def _rasterise(
    p: np.ndarray, q: np.ndarray, radius: np.ndarray, size: int
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """Rasterise thick segments (capsules) on a ``size`` x ``size`` pixel grid.

    Args:
        p, q: segment end points ``float[S, 2]`` as (x, y) pixel coordinates (pixel centres are
            integers).
        radius: ``float[S]`` half-thickness in pixels.
        size: image side.

    Returns:
        ``(top, (y0, y1, x0, x1))``: ``int[y1-y0, x1-x0]`` index of the front-most segment covering
        each pixel of the crop (-1: none), and the crop; ``None`` when nothing is in the image.
    """
    reach = float(radius.max())
    lo = np.floor(np.minimum(p, q).min(axis=0) - reach).astype(int)
    hi = np.ceil(np.maximum(p, q).max(axis=0) + reach).astype(int) + 1
    x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    x1, y1 = min(int(hi[0]), size), min(int(hi[1]), size)
    if x1 <= x0 or y1 <= y0:
        return None
    d = q - p
    length2 = np.maximum((d**2).sum(axis=1), 1e-9)
    x = np.arange(x0, x1, dtype=np.float32)[None, None, :] - p[:, 0, None, None]
    y = np.arange(y0, y1, dtype=np.float32)[None, :, None] - p[:, 1, None, None]
    dx, dy = d[:, 0, None, None], d[:, 1, None, None]
    t = np.clip((x * dx + y * dy) / length2[:, None, None], 0.0, 1.0)
    cover = (x - t * dx) ** 2 + (y - t * dy) ** 2 <= (radius**2)[:, None, None]
    n = cover.shape[0]
    top = np.where(cover.any(axis=0), n - 1 - np.argmax(cover[::-1], axis=0), -1)
    return top, (y0, y1, x0, x1)


# --------------------------------------------------------------------------- one video


def _colour(rng: np.random.Generator) -> np.ndarray:
    """A saturated random colour ``float[3]`` in 0-255 (actors and distractors share it)."""
    hue = rng.uniform(0, 1)
    rgb = 0.5 + 0.5 * np.cos(2 * np.pi * (hue + np.array([0.0, 1 / 3, 2 / 3])))
    return 255.0 * (0.25 + 0.7 * (rng.uniform(0.4, 1.0) * rgb + rng.uniform(0, 0.3)).clip(0, 1))


def _pace(rng: np.random.Generator, n: int, enabled: bool) -> np.ndarray:
    """Per-frame speed multiplier ``float[n]``: pauses, slow and fast stretches."""
    if not enabled:
        return np.ones(n)
    out = np.empty(n)
    i = 0
    while i < n:
        length = int(rng.integers(3, 11))
        out[i : i + length] = rng.choice([0.0, 0.4, 1.0, 1.0, 1.6, 2.2])
        i += length
    if np.mean(out == 0) > 0.3:  # too much stillness hides the class
        out[out == 0] = 1.0
    return out


def _background(rng: np.random.Generator, n: int, size: int, contrast: float) -> np.ndarray:
    """A scrolling textured background ``float32[n, size, size, 3]``.

    ``contrast`` scales the texture around its mean colour (the draws do not depend on it).
    """
    f = np.fft.fftfreq(size)
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    filt = 1.0 / (1.0 + (radius / rng.uniform(0.04, 0.15)) ** 2)
    tex = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((size, size))) * filt))
    tex = (tex - tex.min()) / max(float(np.ptp(tex)), 1e-9)
    k = rng.integers(1, 5, size=2)
    yy, xx = np.mgrid[0:size, 0:size]
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (k[0] * xx + k[1] * yy) / size + rng.uniform(0, 6.3))
    mix = rng.uniform(0.2, 0.6)
    tex = ((1 - mix) * tex + mix * stripes).astype(np.float32)
    # integer scrolling keeps the texture periodic and the indexing exact
    shift = np.round(np.cumsum(rng.uniform(-1.2, 1.2, size=(2, 1)) * np.ones((2, n)), axis=1))
    rows = (np.arange(size)[None, :] + shift[1][:, None].astype(int)) % size
    cols = (np.arange(size)[None, :] + shift[0][:, None].astype(int)) % size
    moving = tex[rows[:, :, None], cols[:, None, :]]
    c1 = rng.uniform(30, 200, size=3).astype(np.float32)
    c2 = rng.uniform(30, 200, size=3).astype(np.float32)
    return c1 + (c2 - c1) * (0.5 + contrast * (moving[..., None] - 0.5))


def _bounce(start: float, speed: float, n: int, lo: float, hi: float) -> np.ndarray:
    """Positions ``float[n]`` moving at ``speed`` per frame, reflecting off ``lo`` and ``hi``."""
    span = hi - lo
    x = np.mod(start - lo + speed * np.arange(n), 2 * span)
    return lo + span - np.abs(x - span)


def _draw_distractors(rng: np.random.Generator, frames: np.ndarray, count: int) -> None:
    """Draw ``count`` moving non-actor shapes into ``frames`` (in place)."""
    n, size = frames.shape[0], frames.shape[1]
    yy = np.arange(size, dtype=np.float32)[None, :, None]
    xx = np.arange(size, dtype=np.float32)[None, None, :]
    for _ in range(count):
        kind = rng.choice(["disc", "box", "stick"])
        colour = _colour(rng).astype(np.float32)
        cx = _bounce(rng.uniform(0, size), rng.uniform(-1.5, 1.5), n, 0, size)[:, None, None]
        cy = _bounce(rng.uniform(0, size), rng.uniform(-1.5, 1.5), n, 0, size)[:, None, None]
        a, b = rng.uniform(0.04, 0.11, size=2) * size
        if kind == "disc":
            frames[((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1.0] = colour
        elif kind == "box":
            frames[(np.abs(xx - cx) <= a) & (np.abs(yy - cy) <= b)] = colour
        else:
            half = rng.uniform(0.07, 0.15) * size
            angle = rng.uniform(0, 6.3) + rng.uniform(-0.4, 0.4) * np.arange(n)
            radius = np.array([max(0.8, 0.02 * size)])
            for t in range(n):
                d = half * np.array([np.cos(angle[t]), np.sin(angle[t])])
                centre = np.array([cx[t, 0, 0], cy[t, 0, 0]])
                drawn = _rasterise((centre - d)[None], (centre + d)[None], radius, size)
                if drawn is not None:
                    top, (y0, y1, x0, x1) = drawn
                    frames[t, y0:y1, x0:x1][top >= 0] = colour


@frozen
class _ActorPlan:
    """What one actor does: its tube and per-tube-frame placement."""

    start: int
    end: int  # inclusive
    p: np.ndarray  # float[n, S, 2] pixel coordinates of segment starts
    q: np.ndarray  # float[n, S, 2]
    radius: np.ndarray  # float[n, S]
    palette: np.ndarray  # float32[S, 3]


def _plan_actor(
    rng: np.random.Generator,
    action: str,
    num_frames: int,
    params: SynthParams,
    slot: int,
    slots: int,
) -> _ActorPlan:
    """Draw one actor's tube, pace, scale, path and colours; ``slot`` spreads actors apart."""
    size = params.size
    length = int(rng.integers(math.ceil(params.min_tube_fraction * num_frames), num_frames + 1))
    start = int(rng.integers(0, num_frames - length + 1))
    period = rng.uniform(9.0, 15.0)
    speed = 2 * np.pi / period * _RATE[action] * _pace(rng, length, params.pace_change)
    phase = rng.uniform(0, 2 * np.pi) + np.concatenate([[0.0], np.cumsum(speed[:-1])])
    amp = rng.uniform(0.8, 1.2)
    pose = _pose(action, phase, amp)
    p, q = _segments(pose)

    # height in pixels: smaller when two actors share the frame; drifts (approach/recede)
    base = rng.uniform(*params.actor_height) * (0.85 if slots > 1 else 1.0) * size
    drift = params.scale_change * rng.uniform(-1, 1) * (np.linspace(0, 1, length) - 0.5)
    height = base * np.exp(drift)
    facing = rng.choice([-1.0, 1.0])
    travel = facing * _TRAVEL[action] * amp * (phase - phase[0]) * height
    margin = 0.15 * size
    room = size - 2 * margin
    span = float(np.ptp(travel))
    if span > 0.9 * room:  # keep the hip inside the frame over the whole tube
        travel *= 0.9 * room / span
        span = float(np.ptp(travel))
    lo_slot = margin + room * slot / slots
    hi_slot = margin + room * (slot + 1) / slots
    x_start = rng.uniform(lo_slot, max(lo_slot, hi_slot - 1e-6))
    # shift the path into the frame if it would leave it
    path = x_start + travel
    path += max(0.0, margin - float(path.min())) - max(0.0, float(path.max()) - (size - margin))
    ground = rng.uniform(0.84, 0.95) * size

    scale = height[:, None, None]
    xy = np.array([1.0, -1.0])
    offset = np.stack([path, np.full(length, ground)], axis=-1)[:, None, :]
    flip = np.array([facing, 1.0])
    p_px = offset + xy * flip * p * scale
    q_px = offset + xy * flip * q * scale
    radius = np.maximum(params.limb_width * _SEGMENT_RADII[None, :] * height[:, None], 0.8)

    body, head = _colour(rng), _colour(rng)
    palette = np.where(_FAR_SEGMENTS[:, None], 0.7 * body, body)
    palette[_HEAD_SEGMENT] = head
    return _ActorPlan(start, start + length - 1, p_px, q_px, radius, palette.astype(np.float32))


@frozen
class _Video:
    frames: np.ndarray  # uint8[T, H, W, 3]
    part_mask: np.ndarray  # uint8[H, W, T]
    tubes: list[np.ndarray]  # float32[n, 5] per actor, ACT layout


def _occluder(
    rng: np.random.Generator, n: int, size: int, plans: Sequence[_ActorPlan]
) -> np.ndarray:
    """Masks ``bool[n, size, size]`` of a bar that sweeps across part of the video."""
    mask = np.zeros((n, size, size), dtype=bool)
    length = max(2, round(rng.uniform(0.3, 0.6) * n))
    first = plans[0]
    # the sweep passes over the first actor half-way through, so it really hides part of it
    mid = int(
        np.clip(
            round(0.5 * (first.start + first.end) + rng.uniform(-0.2, 0.2) * n),
            first.start,
            first.end,
        )
    )
    start = int(np.clip(mid - length // 2, 0, max(n - length, 0)))
    stop = min(n, start + length)  # start <= mid < stop by construction
    horizontal = rng.uniform() < 0.5
    torso = 0.5 * (first.p[mid - first.start, 4] + first.q[mid - first.start, 4])  # (x, y)
    centre = torso[1] if horizontal else torso[0]
    # thin enough that the bar hides part of an actor, never all of it for long
    thick = rng.uniform(0.12, 0.2) * size if horizontal else rng.uniform(0.08, 0.13) * size
    speed = rng.uniform(0.6, 1.5) * size / 64 * rng.choice([-1.0, 1.0])
    path = centre + speed * (np.arange(start, stop) - mid)
    coords = np.arange(size)[None, :]
    band = np.abs(coords - path[:, None]) <= thick / 2  # [frames, size]
    if horizontal:
        mask[start:stop] = band[:, :, None]
    else:
        mask[start:stop] = band[:, None, :]
    return mask


def _lighting(rng: np.random.Generator, n: int, amount: float) -> np.ndarray:
    """Per-frame brightness gain ``float32[n]``: a slow drift plus, sometimes, a dim spell."""
    t = np.arange(n)
    gain = rng.uniform(0.85, 1.05) + amount * rng.uniform(0.3, 1.0) * np.sin(
        2 * np.pi * t / rng.uniform(0.5 * n, 2.0 * n) + rng.uniform(0, 6.3)
    )
    if amount > 0 and rng.uniform() < 0.4:
        length = int(rng.integers(2, 6))
        start = int(rng.integers(0, max(n - length, 0) + 1))
        gain[start : start + length] *= rng.uniform(0.35, 0.6)
    return gain.astype(np.float32)


def _render_video(rng: np.random.Generator, action: str, params: SynthParams) -> _Video:
    """Draw one video of ``action``: frames, visible-actor mask and one ACT tube per actor."""
    size = params.size
    n = int(rng.integers(params.min_frames, params.max_frames + 1))
    frames = _background(rng, n, size, params.background_contrast)
    _draw_distractors(rng, frames, int(rng.integers(0, params.max_distractors + 1)))

    slots = 2 if rng.uniform() < params.two_actor_fraction else 1
    order = rng.permutation(slots)
    plans = [_plan_actor(rng, action, n, params, int(order[k]), slots) for k in range(slots)]
    occluder = (
        _occluder(rng, n, size, plans)
        if rng.uniform() < params.occlusion_fraction
        else np.zeros((n, size, size), dtype=bool)
    )

    full = np.zeros((slots, n, size, size), dtype=bool)
    for k, plan in enumerate(plans):  # later actors are drawn in front
        for i, t in enumerate(range(plan.start, plan.end + 1)):
            drawn = _rasterise(plan.p[i], plan.q[i], plan.radius[i], size)
            if drawn is None:
                continue
            top, (y0, y1, x0, x1) = drawn
            hit = top >= 0
            full[k, t, y0:y1, x0:x1] = hit
            frames[t, y0:y1, x0:x1][hit] = plan.palette[top[hit]]

    frames[occluder] = _colour(rng).astype(np.float32) * 0.5
    frames *= _lighting(rng, n, params.lighting_change)[:, None, None, None]
    if params.noise > 0:
        # grey (luminance) sensor noise: one draw per pixel, shared by the channels
        frames += params.noise * rng.standard_normal((*frames.shape[:3], 1), dtype=np.float32)
    pixels = np.clip(np.rint(frames), 0, 255).astype(np.uint8)

    visible = np.zeros((n, size, size), dtype=bool)
    covered = occluder.copy()
    for k in reversed(range(slots)):  # front to back: what is in front hides what is behind
        visible |= full[k] & ~covered
        covered |= full[k]

    tubes = []
    for k, plan in enumerate(plans):
        m = full[k, plan.start : plan.end + 1]
        rows, cols = m.any(axis=2), m.any(axis=1)
        if not rows.any(axis=1).all():  # unreachable: the hip is always inside the frame
            raise RuntimeError("an actor left the frame inside its tube")
        y1 = rows.argmax(axis=1)
        y2 = size - 1 - rows[:, ::-1].argmax(axis=1)
        x1 = cols.argmax(axis=1)
        x2 = size - 1 - cols[:, ::-1].argmax(axis=1)
        frame_no = np.arange(plan.start + 1, plan.end + 2)
        tubes.append(np.stack([frame_no, x1, y1, x2, y2], axis=1).astype(np.float32))
    part_mask = np.ascontiguousarray(visible.transpose(1, 2, 0)).astype(np.uint8)
    return _Video(pixels, part_mask, tubes)


# --------------------------------------------------------------------------- writing


def _write_video(root: Path, video: str, data: _Video) -> None:
    """Write one video's PNG frames and puppet mask under ``root``."""
    from PIL import Image
    from scipy.io import savemat

    frame_dir = root / FRAMES_DIR / video
    frame_dir.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(data.frames):
        Image.fromarray(frame, mode="RGB").save(
            frame_dir / FRAME_PATTERN.format(i + 1), "PNG", compress_level=1
        )
    mask_dir = root / MASKS_DIR / video
    mask_dir.mkdir(parents=True, exist_ok=True)
    savemat(mask_dir / "puppet_mask.mat", {"part_mask": data.part_mask}, do_compression=True)


def _make_video(
    job: tuple[Path, str, str, np.random.SeedSequence, SynthParams],
) -> tuple[int, list[np.ndarray]]:
    """Render and write one video; returns ``(num_frames, tubes)`` (runs in workers too)."""
    root, video, action, seed, params = job
    data = _render_video(np.random.default_rng(seed), action, params)
    _write_video(root, video, data)
    return data.frames.shape[0], data.tubes


def _video_ids(params: SynthParams) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(train, test)`` lists of ``(video_id, class)``; classes are dealt round-robin."""
    counters = dict.fromkeys(params.classes, 0)
    out: list[list[tuple[str, str]]] = [[], []]
    for part, count in enumerate((params.num_train, params.num_test)):
        for i in range(count):
            action = params.classes[i % len(params.classes)]
            out[part].append((f"{action}/{action}_{counters[action]:04d}", action))
            counters[action] += 1
    return out[0], out[1]


def _readme(params: SynthParams, num_videos: int) -> str:
    # workers is left out: it changes how fast the data is drawn, never the data
    values = "\n".join(f"  {k} = {v!r}" for k, v in attrs.asdict(params).items() if k != "workers")
    classes = ", ".join(f"{i}={c}" for i, c in enumerate(params.classes))
    return f"""SynthActions: a synthetic action-detection dataset drawn by asl_action_det.synth.

Not real data. {num_videos} videos of articulated stick figures whose action classes differ only
by motion, with textured scrolling backgrounds, distractor shapes, an occluder bar, pace, scale and
lighting changes. Written in the J-HMDB / ACT layout so the real loaders read it.

Layout
  Frames/<class>/<video>/00001.png ...          RGB uint8 PNG frames, numbered from 1
  puppet_mask/<class>/<video>/puppet_mask.mat   part_mask: uint8 H x W x T, 1 = visible actor pixel
  {GT_FILE:<44}  ACT ground truth (pickle protocol 2): labels, gttubes,
                                                nframes, train_videos, test_videos, resolution

Conventions
  gttubes[video][label] is a list of float32 (n, 5) arrays, one per actor: frame (1-based),
  x1 y1 x2 y2 in 0-based pixels with inclusive x2/y2, the tight box of the actor's full (amodal)
  extent clipped to the image; tubes are contiguous, the actor is absent outside its tube.
  part_mask holds visible pixels only (the occluder and actors in front hide pixels).

Classes: {classes}
Seed: {params.seed}
Generator parameters:
{values}

Regenerate with: asl-run data synth (same parameters and seed give the same data).
"""


def generate_synthetic_actions(
    out: Path, params: SynthParams, progress: Progress | None = None
) -> Path:
    """Draw the synthetic action dataset and write it to ``out`` in the ACT/J-HMDB layout.

    The dataset is written to a temporary sibling directory and moved into place at the end, so an
    interrupted run never leaves a half-written dataset at ``out``.

    Args:
        out: the dataset root to create. It may exist only if it is empty or holds an earlier
            synthetic dataset (one with ``SynthActions-GT.pkl``), which is replaced.
        params: what to draw (sizes, seed, nuisances).
        progress: told the number of videos, then advanced once per video written.

    Returns:
        ``out``.

    Raises:
        AslUsageError: when ``out`` is a file or a non-empty directory that is not a synthetic
            dataset.
    """
    out = Path(out)
    progress = progress or NullProgress()
    if out.exists() and (
        not out.is_dir() or (any(out.iterdir()) and not (out / GT_FILE).is_file())
    ):
        raise AslUsageError(
            f"{out} exists and is not an earlier synthetic dataset; choose an empty or new directory"
        )
    train, test = _video_ids(params)
    videos = train + test
    seeds = np.random.SeedSequence(params.seed).spawn(len(videos))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        jobs = [(tmp, vid, action, seeds[i], params) for i, (vid, action) in enumerate(videos)]
        progress.start(len(jobs), "drawing synthetic videos")
        results: list[tuple[int, list[np.ndarray]]] = []
        workers = params.workers or min(_cpu_count(), 8)
        if workers > 1 and len(jobs) >= (32 if params.workers == 0 else 2):
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # "spawn": the caller may hold threads (torch) that fork would copy in a bad state
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for result in pool.map(_make_video, jobs, chunksize=4):
                    results.append(result)
                    progress.advance()
        else:
            for job in jobs:
                results.append(_make_video(job))
                progress.advance()

        # Rebuild the arrays here: ones unpickled from workers carry their own dtype objects,
        # which would change the pickle's memo and so its bytes.
        results = [
            (n, [np.array(t.tolist(), dtype=np.float32) for t in tubes]) for n, tubes in results
        ]
        label_of = {c: i for i, c in enumerate(params.classes)}
        gt = {
            "labels": list(params.classes),
            "gttubes": {
                vid: {label_of[action]: tubes}
                for (vid, action), (_, tubes) in zip(videos, results, strict=True)
            },
            "nframes": {vid: n for (vid, _), (n, _) in zip(videos, results, strict=True)},
            "train_videos": [[vid for vid, _ in train]],
            "test_videos": [[vid for vid, _ in test]],
            "resolution": {vid: (params.size, params.size) for vid, _ in videos},
        }
        with open(tmp / GT_FILE, "wb") as f:
            pickle.dump(gt, f, protocol=2)
        (tmp / "README.txt").write_text(_readme(params, len(videos)), encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _cpu_count() -> int:
    # the CPUs this process may use (a container's share), not the host's
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class SyntheticActionsDataset(Configurable):
    """The synthetic action dataset as a configurable plugin (see :class:`SynthParams`).

    Example::

        ds = SyntheticActionsDataset(SynthParams(num_train=20, num_test=5, seed=1))
        root = ds.synthesize(Path("data/synth"), NullProgress())
    """

    Params = SynthParams
    params: SynthParams

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names in label order."""
        return self.params.classes

    def synthesize(self, out: Path, progress: Progress) -> Path:
        """Write the dataset to ``out``; see :func:`generate_synthetic_actions`."""
        return generate_synthetic_actions(Path(out), self.params, progress)
