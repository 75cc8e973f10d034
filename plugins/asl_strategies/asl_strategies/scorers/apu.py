"""Adaptive proximity-aware uncertainty, APU (paper §3.1, eq. 1-3): the paper's frame scorer.

A frame is worth annotating when the model is uncertain about it (U, eq. 1, with non-activity
suppression) and it is far from the frames already labelled (D, eq. 2). The score is their
mix ``lambda * U_hat + (1 - lambda) * D`` (eq. 3), with ``U_hat`` the uncertainty normalised to
``[0, 1]`` over the cycle's pool.

The three steps map onto the Scorer interface:

* :func:`frame_uncertainty` (``frame_stats``): U of every frame from the Monte-Carlo dropout
  probabilities, once per video and cycle. Stored as ``u``.
* :func:`normalise_pool` (``prepare_pool``): ``U_hat``, min-max over the whole pool. Stored as
  ``u_hat``.
* :func:`apu_scores` (``score``): eq. 2-3, cheap, re-run by the selectors after each pick.

The ``gal`` scorer reuses the first two steps (``U_hat`` alone, no distance term).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import numpy as np
from numpy.typing import ArrayLike

from asl_core import MC_PROBS, FrameStats, ScorerBase, VideoInfo

from .._frames import nearest_labelled_distance
from ._mc_probs import CHUNK_ELEMENTS, check_mc_probs, checked_chunks, mc_probs_of

__all__ = [
    "DEFAULT_LAMBDA",
    "DEFAULT_SIGMA",
    "DEFAULT_TAU",
    "PROB_FLOOR",
    "U_HAT_KEY",
    "U_KEY",
    "ApuParams",
    "ApuScorer",
    "apu_scores",
    "as_number",
    "as_validator",
    "check_tau",
    "frame_uncertainty",
    "normalise_pool",
    "normalise_stats",
    "proximity_term",
    "stored_u_hat",
    "uncertainty_stats",
]

#: non-activity suppression threshold on the background probability (paper §4: tau = 0.9)
DEFAULT_TAU = 0.9
#: width of eq. 2's Gaussians in frames (paper §4: sigma = 1.3)
DEFAULT_SIGMA = 1.3
#: weight of the uncertainty in eq. 3 (paper §3.1: lambda = 0.5)
DEFAULT_LAMBDA = 0.5

#: a probability of exactly 0 (float32 softmax underflow) would give -log P = inf; the floor
#: caps one trial's -log P at -log(1e-12) ~ 27.6, keeping U finite
PROB_FLOOR = 1e-12

#: FrameStats key of the raw per-frame uncertainty U (eq. 1)
U_KEY = "u"
#: FrameStats key of U normalised to [0, 1] over the pool (eq. 3's U)
U_HAT_KEY = "u_hat"


def check_tau(tau: float) -> float:
    """Return ``tau`` as a float.

    Raises:
        ValueError: unless ``0 < tau < 1``.
    """
    tau = float(tau)
    if not 0.0 < tau < 1.0:  # NaN fails too
        raise ValueError(f"tau must be in (0, 1), got {tau}")
    return tau


def _check_sigma(sigma: float) -> float:
    sigma = float(sigma)
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be finite and > 0, got {sigma}")
    return sigma


def _check_lambda(lam: float) -> float:
    lam = float(lam)
    if not 0.0 <= lam <= 1.0:  # NaN fails too
        raise ValueError(f"lam (lambda of eq. 3) must be in [0, 1], got {lam}")
    return lam


# --------------------------------------------------------------------------- eq. 1


def frame_uncertainty(
    mc_probs: ArrayLike,
    tau: float = DEFAULT_TAU,
    *,
    video: str = "<array>",
    chunk_elements: int = CHUNK_ELEMENTS,
) -> np.ndarray:
    """Per-frame MC-dropout uncertainty U with non-activity suppression (eq. 1, §3.1).

    For every pixel ``h`` of frame ``i``: the predicted label ``c*`` is the argmax over classes
    of the probabilities averaged over the ``T`` trials (ties go to the lowest class index, so
    background wins a tie); the pixel's uncertainty is ``(1/T) sum_j -log P_j(c*)``, where
    ``P_j(c*)`` is trial ``j``'s probability of that label (clipped to ``[PROB_FLOOR, 1]``).
    ``U_i`` is the mean of that over the frame's **active** pixels.

    Non-activity suppression: a pixel is inactive when its trial-averaged background probability
    (channel 0) is ``> tau``. The paper ignores such confidently-background pixels because their
    low uncertainty would otherwise dilute the uncertainty of the (usually small) actor region.

    A frame with **no active pixel** gets ``U = 0``. The model is more than ``tau`` sure that
    every pixel is background; §3.1 argues such pixels "will not be useful even if we use them as
    they are predicted as background due to low uncertainty", and 0 is the lowest value U can
    take (``-log P >= 0``), so these frames rank last on uncertainty. They can still be chosen
    through eq. 2's distance term when they lie far from any label, which is how missed actors
    get a chance. The official release instead gives a frame without foreground pixels a very
    large uncertainty (1000, ``../shared/specs/reference-specs.md`` §E.2), which contradicts that
    argument and is not followed. Falling back to the unsuppressed mean of eq. 1 was the other
    candidate; it would rank empty frames by background noise, which §3.1 calls useless.

    The array is reduced a few frames at a time (:mod:`._mc_probs`), in ``float64``, so the
    largest temporaries are a couple of chunk-sized arrays, never the size of the input.

    Args:
        mc_probs: ``float[T, F, C, H, W]`` probabilities (softmax over ``C``; channel 0 is
            background).
        tau: suppression threshold, in ``(0, 1)``; default 0.9 (paper §4).
        video: the video id, for error messages.
        chunk_elements: values per chunk (results do not depend on it).

    Returns:
        ``float64[F]``, finite and ``>= 0``.

    Raises:
        ValueError: on a bad ``tau``, a bad shape (``T < 1``, ``C < 2``, ...), or NaN, infinite
            or out-of-range probabilities (naming the video and the first bad frame).
    """
    tau = check_tau(tau)
    probs = check_mc_probs(mc_probs, None, video)
    u = np.zeros(probs.shape[1], dtype=np.float64)
    for start, chunk in checked_chunks(probs, video, chunk_elements):
        mean = chunk.mean(axis=0)  # [f, C, H, W]
        label = mean.argmax(axis=1)  # [f, H, W]; first maximum = lowest class on ties
        active = mean[:, 0] <= tau  # [f, H, W]
        picked = np.take_along_axis(chunk, label[None, :, None], axis=2)[:, :, 0]  # [T, f, H, W]
        # the clip keeps -log P >= 0 for round-off above 1 (checked_chunks allows a little)
        nll = -np.log(np.clip(picked, PROB_FLOOR, 1.0)).mean(axis=0)  # [f, H, W]
        count = active.sum(axis=(1, 2))
        total = np.where(active, nll, 0.0).sum(axis=(1, 2))
        u[start : start + count.size] = np.divide(
            total, count, out=np.zeros_like(total), where=count > 0
        )
    return u


def uncertainty_stats(
    video: VideoInfo, outputs: Mapping[str, Any], tau: float = DEFAULT_TAU
) -> FrameStats:
    """``FrameStats`` with ``u = float64[F]``, :func:`frame_uncertainty` of the video's
    ``mc_probs`` (the ``frame_stats`` of ``apu`` and ``gal``).

    Raises:
        ValueError: if ``outputs`` has no valid ``mc_probs`` for ``video`` (see
            :func:`frame_uncertainty`).
    """
    probs = mc_probs_of(outputs, video)
    u = frame_uncertainty(probs, tau, video=video.id)
    return FrameStats.of(video.id, video.num_frames, **{U_KEY: u})


# --------------------------------------------------------------------------- pool normalisation


def normalise_pool(u: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
    """Min-max normalise U over a pool: ``U_hat = (U - min) / (max - min)`` (eq. 3's "U").

    The paper says "U, D are both normalized in range (0,1)"; a per-video normalisation would
    make every video's most uncertain frame score 1, so global selection could no longer prefer
    uncertain videos (§4.4). Min and max are therefore taken over **every frame of every video
    passed in**: the loop passes the whole pool, so that is all frames of the pool, labelled
    ones included (``prepare_pool`` does not see the labels). Labelled frames only widen the
    range; the map is the same increasing affine map for the whole pool, so it changes no
    ranking within the pool, only the balance with ``D``.

    When every value is equal (or there is no frame at all) ``U_hat`` is 0 everywhere: no frame
    is more uncertain than another, so uncertainty adds nothing and ``D`` alone decides. (This
    agrees with the no-active-pixel rule: a pool of empty frames has ``U = U_hat = 0``.)

    Args:
        u: ``{video: float[F]}``, the raw U of each video (``F`` may be 0).

    Returns:
        ``{video: float64[F]}`` in ``[0, 1]``, same keys in the same order.

    Raises:
        ValueError: if an array is not one-dimensional or has NaN or infinite values.
    """
    arrays: dict[str, np.ndarray] = {}
    for video, values in u.items():
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"video {video!r}: U must be float[F], got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            frame = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise ValueError(f"video {video!r}: U is NaN or infinite at frame {frame}")
        arrays[video] = arr
    filled = [a for a in arrays.values() if a.size]
    if not filled:
        return {video: np.zeros(a.size) for video, a in arrays.items()}
    lo = min(float(a.min()) for a in filled)
    hi = max(float(a.max()) for a in filled)
    if not hi > lo:
        return {video: np.zeros(a.size) for video, a in arrays.items()}
    span = hi - lo
    # (u - lo) <= span holds in floating point too; clip only guards the documented range
    return {video: np.clip((a - lo) / span, 0.0, 1.0) for video, a in arrays.items()}


def normalise_stats(stats: Mapping[str, FrameStats]) -> dict[str, FrameStats]:
    """``prepare_pool`` of ``apu`` and ``gal``: add ``u_hat`` (:func:`normalise_pool` of the
    ``u`` arrays) to every video's stats, keeping the pool order and the other arrays.

    Raises:
        ValueError: naming the video whose stats have no ``u`` array, or see
            :func:`normalise_pool`.
    """
    for video, st in stats.items():
        if U_KEY not in st.values:
            raise ValueError(
                f"stats of video {video!r} have no {U_KEY!r} array (per-frame uncertainty U); "
                "they were not made by the apu/gal frame_stats"
            )
    u_hat = normalise_pool({video: st.values[U_KEY] for video, st in stats.items()})
    out: dict[str, FrameStats] = {}
    for video, st in stats.items():
        arrays = dict(st.values)
        arrays[U_HAT_KEY] = u_hat[video]
        out[video] = FrameStats.of(st.video, st.num_frames, **arrays)
    return out


def stored_u_hat(stats: FrameStats, num_frames: int, scorer: str) -> np.ndarray:
    """The ``u_hat`` array of ``stats``, checked against ``num_frames``.

    Raises:
        ValueError: if ``num_frames`` differs from the stats' or ``u_hat`` is missing (the stats
            did not go through ``prepare_pool``).
    """
    if num_frames != stats.num_frames:
        raise ValueError(
            f"{scorer}: num_frames={num_frames} but the stats of video {stats.video!r} have "
            f"{stats.num_frames} frames"
        )
    if U_HAT_KEY not in stats.values:
        raise ValueError(
            f"{scorer}: stats of video {stats.video!r} have no {U_HAT_KEY!r} array; call "
            "prepare_pool on the whole pool's stats before scoring"
        )
    return stats.values[U_HAT_KEY]


# --------------------------------------------------------------------------- eq. 2-3


def proximity_term(
    num_frames: int, labelled: ArrayLike, sigma: float = DEFAULT_SIGMA
) -> np.ndarray:
    """Distance measure D of eq. 2: ``D_i = 1 - exp(-0.5 ((i - mu_j*) / sigma)^2)``.

    ``mu_j*`` is the labelled frame closest to ``i`` (the mask ``phi`` of eq. 2 selects the
    closest distribution). As the paper writes it, D is 0 on a labelled frame and rises towards 1
    away from the labels, so with eq. 3 frames **near labels score lower**: the intended
    behaviour ("prefers frames with high uncertainty and ensures temporal diversity"), no
    reinterpretation needed. It equals ``1 -`` the MGW weight of eq. 4 with the same ``sigma``.
    With ``sigma = 1.3``: ``D = 0, 0.256, 0.694, 0.930, 0.991`` at distances ``0 .. 4``.

    In a video with **no labelled frame** D is 1 everywhere: every frame is as far from a label
    as it can be (the limit of the formula as the distance grows).

    Args:
        num_frames: ``F``.
        labelled: sorted, unique labelled frame indices in ``[0, F)``.
        sigma: width of the Gaussians in frames (finite, > 0); default 1.3 (paper §4).

    Returns:
        ``float64[F]`` in ``[0, 1]``, non-decreasing in the distance to the nearest label.

    Raises:
        ValueError: on a bad ``sigma`` or invalid ``labelled``.
    """
    sigma = _check_sigma(sigma)
    z = nearest_labelled_distance(num_frames, labelled) / sigma  # +inf everywhere when K == 0
    # a tiny sigma overflows z*z to inf, whose exp(-inf) = 0 is the right limit
    with np.errstate(over="ignore"):
        return 1.0 - np.exp(-0.5 * (z * z))


def apu_scores(
    u_hat: ArrayLike,
    labelled: ArrayLike,
    sigma: float = DEFAULT_SIGMA,
    lam: float = DEFAULT_LAMBDA,
) -> np.ndarray:
    """APU score of eq. 3: ``lam * U_hat + (1 - lam) * D`` with D of eq. 2.

    Adding a labelled frame never increases D, so it never increases any frame's score.

    Args:
        u_hat: ``float[F]``, the pool-normalised uncertainty (:func:`normalise_pool`).
        labelled: sorted, unique labelled frame indices in ``[0, F)``.
        sigma: width of eq. 2's Gaussians in frames (finite, > 0).
        lam: weight of the uncertainty, in ``[0, 1]``; 1 is uncertainty alone, 0 distance alone.

    Returns:
        ``float64[F]``, in ``[0, 1]`` when ``u_hat`` is.

    Raises:
        ValueError: on a bad ``sigma`` or ``lam``, ``u_hat`` not one-dimensional, or invalid
            ``labelled``.
    """
    lam = _check_lambda(lam)
    u = np.asarray(u_hat, dtype=np.float64)
    if u.ndim != 1:
        raise ValueError(f"u_hat must be float[F], got shape {u.shape}")
    return lam * u + (1.0 - lam) * proximity_term(u.size, labelled, sigma)


# --------------------------------------------------------------------------- plugin


def as_number(name: str) -> Any:
    """An attrs converter to ``float`` whose error names the parameter (``float("wide")`` alone
    would not say which one)."""

    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        return float(value)

    return convert


def as_validator(check: Any) -> Any:
    """An attrs validator from a ``check(value)`` that raises ValueError."""

    def validator(_inst: Any, _attr: Any, value: Any) -> None:
        check(value)

    return validator


@attrs.frozen
class ApuParams:
    """Parameters of :class:`ApuScorer` (defaults: the paper's §3.1 and §4 values).

    Attributes:
        tau: non-activity suppression threshold on the background probability, in ``(0, 1)``;
            default 0.9.
        sigma: width in frames of eq. 2's Gaussians, finite and > 0; default 1.3.
        lam: lambda of eq. 3, the weight of the uncertainty, in ``[0, 1]``; default 0.5. (Named
            ``lam`` because ``lambda`` is a Python keyword.)
    """

    tau: float = attrs.field(
        default=DEFAULT_TAU, converter=as_number("tau"), validator=as_validator(check_tau)
    )
    sigma: float = attrs.field(
        default=DEFAULT_SIGMA, converter=as_number("sigma"), validator=as_validator(_check_sigma)
    )
    lam: float = attrs.field(
        default=DEFAULT_LAMBDA, converter=as_number("lam"), validator=as_validator(_check_lambda)
    )


class ApuScorer(ScorerBase):
    """Adaptive proximity-aware uncertainty (eq. 1-3): uncertain frames far from labels first.

    ``frame_stats`` computes U (:func:`frame_uncertainty`) from ``mc_probs``; ``prepare_pool``
    normalises it over the pool (:func:`normalise_pool`); ``score`` is :func:`apu_scores`. With
    a re-scoring selector (all built-in ones re-score) each pick lowers the scores around it,
    which is the "adaptive" part. Build with ``ApuScorer()``,
    ``ApuScorer(ApuParams(sigma=2.0))`` or ``ApuScorer.from_config({"lam": 0.7})``.
    """

    Params = ApuParams
    params: ApuParams
    requires: ClassVar[frozenset[str]] = frozenset({MC_PROBS})
    #: each frame's statistic uses only that frame's outputs: long videos reduce chunk by chunk
    frame_local: ClassVar[bool] = True
    #: ``asl-run select --stats`` fills this array with the user's per-frame values (U of eq. 1)
    frame_stat_key: ClassVar[str | None] = U_KEY

    def frame_stats(
        self, video: VideoInfo, outputs: Mapping[str, np.ndarray], rng: np.random.Generator
    ) -> FrameStats:
        """``FrameStats`` with ``u = float64[F]`` (eq. 1); ``rng`` is unused.

        Raises:
            ValueError: on missing or bad ``mc_probs`` (NaN, infinity, ``T < 1``, bad shape),
                naming the video and, for bad values, the first bad frame.
        """
        return uncertainty_stats(video, outputs, self.params.tau)

    def prepare_pool(self, stats: Mapping[str, FrameStats]) -> Mapping[str, FrameStats]:
        """Add ``u_hat``, U min-max normalised over the whole pool (:func:`normalise_stats`)."""
        return normalise_stats(stats)

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        """``float64[F]`` in ``[0, 1]``: :func:`apu_scores` of the stats' ``u_hat``.

        Raises:
            ValueError: if the stats did not go through :meth:`prepare_pool`, or on invalid
                ``labelled``.
        """
        u_hat = stored_u_hat(stats, num_frames, type(self).__name__)
        return apu_scores(u_hat, labelled, self.params.sigma, self.params.lam)
