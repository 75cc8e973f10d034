"""Motion-aware margin uncertainty with APU's proximity term: the ``motion_margin`` scorer.

A frame is worth annotating when the model cannot separate its two most likely classes
(**margin** uncertainty), all the more when the prediction **changes** between that frame and
its neighbours (the actor moves, appears or leaves, or the model flickers), and when it lies
**far from the frames already labelled** (the distance term D of the ASL paper's eq. 2, so one
pick does not pull its neighbours after it). Changing frames are where a sparse label helps
most: a label propagated from a neighbouring frame (the pseudo-labels of the MGW loss) is least
likely to be right there.

Written against ``asl_core``'s public API only (it re-implements the distance term instead of
importing the built-in ``apu`` module). With ``x̄ = (1/T) sum_j P_j`` the trial-averaged
probabilities of ``mc_probs`` ``[T, F, C, H, W]`` and ``A_i`` the **active** pixels of frame
``i`` (trial-averaged background probability, channel 0, ``<= tau``; APU's non-activity
suppression, so the large confidently-background area does not dilute the actor's signal):

* margin uncertainty ``u_i = mean_{h in A_i} [1 - (x̄_i,h(c1) - x̄_i,h(c2))]``, ``c1`` and ``c2``
  the two most probable classes of the pixel; ``u_i = 0`` when ``A_i`` is empty;
* prediction change ``c_i = max_{k in {i-1, i+1}} mean_{h in A_i ∪ A_k} TV(x̄_i,h, x̄_k,h)``,
  ``TV(p, q) = 1/2 sum_c |p_c - q_c|`` the total-variation distance of two class distributions
  (neighbours outside the video are skipped; a pair with no active pixel changes by 0);
* motion-aware uncertainty ``m_i = u_i (1 + gamma c_i)`` (eq. M1 of this package): ``gamma = 0``
  is plain margin uncertainty; ``u, c`` lie in ``[0, 1]``, so ``m`` in ``[0, 1 + gamma]``;
* ``m̂ = (m - min) / (max - min)`` over every frame of the pool (``prepare_pool``; 0 everywhere
  when all ``m`` are equal), so global selection can still prefer uncertain videos;
* ``score_i = lam m̂_i + (1 - lam) D_i`` with ``D_i = 1 - exp(-1/2 (d_i / sigma)^2)``, ``d_i``
  the distance in frames to the nearest labelled frame (eq. 2 of the paper; ``D = 1`` in a video
  with no label), exactly the mix of APU's eq. 3 with ``m̂`` in place of ``Û``.

Steps on the Scorer interface: :func:`motion_margin_stats` (``frame_stats``: ``u``, ``c`` and
``m``), :func:`normalise_pool` (``prepare_pool``: ``m_hat``) and :func:`motion_margin_scores`
(``score``, re-run by the selectors after every pick).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs
import numpy as np
from asl_core import MC_PROBS, FrameStats, ScorerBase, VideoInfo
from numpy.typing import ArrayLike

__all__ = [
    "C_KEY",
    "DEFAULT_GAMMA",
    "DEFAULT_LAMBDA",
    "DEFAULT_SIGMA",
    "DEFAULT_TAU",
    "M_HAT_KEY",
    "M_KEY",
    "U_KEY",
    "MotionMarginParams",
    "MotionMarginScorer",
    "margin_uncertainty",
    "motion_margin_scores",
    "motion_margin_stats",
    "normalise_pool",
    "prediction_change",
    "proximity_term",
    "trial_mean",
]

#: non-activity suppression threshold on the background probability (the paper's tau = 0.9)
DEFAULT_TAU = 0.9
#: weight of the prediction change in ``m = u (1 + gamma c)``
DEFAULT_GAMMA = 1.0
#: width in frames of the distance term's Gaussians (the paper's sigma = 1.3)
DEFAULT_SIGMA = 1.3
#: weight of the uncertainty against the distance term (the paper's lambda = 0.5)
DEFAULT_LAMBDA = 0.5

#: probabilities may exceed [0, 1] by float32 round-off; beyond this they are an error
PROB_TOLERANCE = 1e-3

#: FrameStats keys: margin uncertainty, prediction change, their product (the one statistic
#: ``asl-run select --stats`` fills) and its pool-normalised version
U_KEY = "u"
C_KEY = "c"
M_KEY = "m"
M_HAT_KEY = "m_hat"


# --------------------------------------------------------------------------- frame statistics


def trial_mean(mc_probs: ArrayLike, *, video: str = "<array>") -> np.ndarray:
    """The Monte-Carlo trials' mean probabilities, after checking the array.

    Args:
        mc_probs: ``float[T, F, C, H, W]``: class probabilities of ``T >= 1`` dropout trials,
            ``C >= 2`` classes, channel 0 the background.
        video: the video id, for error messages.

    Returns:
        ``float64[F, C, H, W]``.

    Raises:
        ValueError: on another shape, or NaN, infinite or out-of-range probabilities (naming
            the video and the first bad frame).
    """
    probs = np.asarray(mc_probs)
    if probs.ndim != 5 or probs.shape[0] < 1 or probs.shape[2] < 2:
        raise ValueError(
            f"video {video!r}: mc_probs must be float[T, F, C, H, W] with T >= 1 and C >= 2, "
            f"got shape {probs.shape}"
        )
    bad = ~np.isfinite(probs) | (probs < -PROB_TOLERANCE) | (probs > 1 + PROB_TOLERANCE)
    bad_frames = np.flatnonzero(bad.any(axis=(0, 2, 3, 4)))
    if bad_frames.size:
        raise ValueError(
            f"video {video!r}: mc_probs has NaN, infinite or out-of-range values at frame "
            f"{int(bad_frames[0])}"
        )
    return probs.mean(axis=0, dtype=np.float64)


def _active(mean: np.ndarray, tau: float) -> np.ndarray:
    """``bool[F, H, W]``: pixels whose trial-averaged background probability is ``<= tau``."""
    return mean[:, 0] <= tau


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``float64[N]``: the mean of ``values[n]`` over ``mask[n]`` (``[N, H, W]`` each), 0 where
    the mask is empty."""
    count = mask.sum(axis=(1, 2))
    total = np.where(mask, values, 0.0).sum(axis=(1, 2))
    return np.divide(total, count, out=np.zeros(count.shape), where=count > 0)


def margin_uncertainty(mean: np.ndarray, tau: float = DEFAULT_TAU) -> np.ndarray:
    """Margin uncertainty ``u_i``: mean over frame ``i``'s active pixels of ``1 - (top-1 minus
    top-2 class probability)``.

    Args:
        mean: ``float[F, C, H, W]`` trial-averaged probabilities (:func:`trial_mean`).
        tau: a pixel is active when its background probability is ``<= tau``; 1 keeps every
            pixel.

    Returns:
        ``float64[F]`` in ``[0, 1]``; 0 for a frame with no active pixel (the model is sure it
        shows only background, the lowest uncertainty).
    """
    classes = mean.shape[1]
    top2 = np.partition(mean, classes - 2, axis=1)[:, classes - 2 :]  # [F, 2, H, W], max last
    pixel_u = np.clip(1.0 - (top2[:, 1] - top2[:, 0]), 0.0, 1.0)
    return _masked_mean(pixel_u, _active(mean, tau))


def prediction_change(mean: np.ndarray, tau: float = DEFAULT_TAU) -> np.ndarray:
    """Prediction change ``c_i``: the larger, over frame ``i``'s two neighbours, of the mean
    total-variation distance between their class distributions over the pixels active in
    either frame.

    Args:
        mean: ``float[F, C, H, W]`` trial-averaged probabilities (:func:`trial_mean`).
        tau: activity threshold, as in :func:`margin_uncertainty`.

    Returns:
        ``float64[F]`` in ``[0, 1]``; 0 for a one-frame video.
    """
    num_frames = mean.shape[0]
    change = np.zeros(num_frames)
    if num_frames < 2:
        return change
    tv = 0.5 * np.abs(mean[1:] - mean[:-1]).sum(axis=1)  # [F-1, H, W]: frames i and i+1
    active = _active(mean, tau)
    step = np.clip(_masked_mean(tv, active[1:] | active[:-1]), 0.0, 1.0)  # [F-1]
    change[:-1] = step  # to the next frame
    change[1:] = np.maximum(change[1:], step)  # to the previous frame
    return change


def motion_margin_stats(
    mc_probs: ArrayLike,
    tau: float = DEFAULT_TAU,
    gamma: float = DEFAULT_GAMMA,
    *,
    video: str = "<array>",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(u, c, m)`` of a video: margin uncertainty, prediction change and ``m = u (1 + gamma c)``.

    Args:
        mc_probs: ``float[T, F, C, H, W]`` probabilities (channel 0 is background).
        tau: activity threshold, in ``(0, 1]``.
        gamma: weight of the change, ``>= 0``.
        video: the video id, for error messages.

    Returns:
        Three ``float64[F]`` arrays: ``u`` and ``c`` in ``[0, 1]``, ``m`` in ``[0, 1 + gamma]``.

    Raises:
        ValueError: see :func:`trial_mean`.
    """
    mean = trial_mean(mc_probs, video=video)
    u = margin_uncertainty(mean, tau)
    c = prediction_change(mean, tau)
    return u, c, u * (1.0 + gamma * c)


# --------------------------------------------------------------------------- pool and score


def normalise_pool(values: Mapping[str, ArrayLike]) -> dict[str, np.ndarray]:
    """Min-max normalise per-frame values over a whole pool: ``(m - min) / (max - min)``.

    One affine map for every frame of every video (labelled frames included: ``prepare_pool``
    does not see the labels), so no ranking changes, and a video whose frames are all uncertain
    keeps its lead under global selection (a per-video normalisation would lift every video's
    best frame to 1).

    Args:
        values: ``{video: float[F]}`` (``F`` may be 0).

    Returns:
        ``{video: float64[F]}`` in ``[0, 1]``, same keys and order; all 0 when every value is
        equal (no frame is more uncertain than another: the distance term alone decides).

    Raises:
        ValueError: naming the video whose array is not one-dimensional or not finite.
    """
    arrays: dict[str, np.ndarray] = {}
    for video, arr in values.items():
        a = np.asarray(arr, dtype=np.float64)
        if a.ndim != 1 or not np.all(np.isfinite(a)):
            raise ValueError(f"video {video!r}: values must be finite float[F], got {a!r:.80}")
        arrays[video] = a
    filled = [a for a in arrays.values() if a.size]
    lo = min((float(a.min()) for a in filled), default=0.0)
    hi = max((float(a.max()) for a in filled), default=0.0)
    if not hi > lo:
        return {video: np.zeros(a.size) for video, a in arrays.items()}
    return {video: np.clip((a - lo) / (hi - lo), 0.0, 1.0) for video, a in arrays.items()}


def _check_labelled(num_frames: int, labelled: ArrayLike) -> np.ndarray:
    lab = np.asarray(labelled)
    if lab.ndim != 1 or (lab.size and not np.issubdtype(lab.dtype, np.integer)):
        raise ValueError(f"labelled must be a one-dimensional integer array, got {lab!r:.80}")
    lab = lab.astype(np.int64)
    if lab.size and (lab[0] < 0 or lab[-1] >= num_frames or np.any(np.diff(lab) <= 0)):
        raise ValueError(
            f"labelled must be sorted, unique frames in [0, {num_frames}), got {lab.tolist()!r:.80}"
        )
    return lab


def proximity_term(
    num_frames: int, labelled: ArrayLike, sigma: float = DEFAULT_SIGMA
) -> np.ndarray:
    """Distance term ``D_i = 1 - exp(-1/2 (d_i / sigma)^2)`` of the paper's eq. 2.

    ``d_i`` is the distance in frames from ``i`` to the nearest labelled frame. ``D`` is 0 on a
    label and rises towards 1 away from the labels: with ``sigma = 1.3``, ``D = 0, 0.256,
    0.694, 0.930`` at distances ``0 .. 3``. With no labelled frame ``D = 1`` everywhere.

    Args:
        num_frames: ``F``.
        labelled: sorted, unique labelled frames in ``[0, F)``.
        sigma: width in frames, finite and ``> 0``.

    Returns:
        ``float64[F]`` in ``[0, 1]``.

    Raises:
        ValueError: on invalid ``labelled``.
    """
    lab = _check_labelled(num_frames, labelled)
    if lab.size == 0:
        return np.ones(num_frames)
    frames = np.arange(num_frames, dtype=np.int64)
    after = np.searchsorted(lab, frames)  # index of the first label >= frame
    right = lab[np.minimum(after, lab.size - 1)]
    left = lab[np.maximum(after - 1, 0)]
    d = np.minimum(np.abs(right - frames), np.abs(frames - left)) / sigma
    with np.errstate(over="ignore"):  # a tiny sigma gives d*d = inf, and exp(-inf) = 0
        return 1.0 - np.exp(-0.5 * d * d)


def motion_margin_scores(
    m_hat: ArrayLike,
    labelled: ArrayLike,
    sigma: float = DEFAULT_SIGMA,
    lam: float = DEFAULT_LAMBDA,
) -> np.ndarray:
    """``score = lam m̂ + (1 - lam) D`` (APU's eq. 3 with the motion-aware ``m̂``).

    A new label never raises a score (``D`` only falls), which is what lets a re-scoring
    selector spread its picks.

    Args:
        m_hat: ``float[F]`` pool-normalised motion-aware uncertainty (:func:`normalise_pool`).
        labelled: sorted, unique labelled frames in ``[0, F)``.
        sigma: width of the distance term, finite and ``> 0``.
        lam: weight of the uncertainty in ``[0, 1]``: 1 is uncertainty alone, 0 distance alone.

    Returns:
        ``float64[F]``, in ``[0, 1]`` when ``m_hat`` is; higher is more worth annotating.

    Raises:
        ValueError: ``m_hat`` not one-dimensional, or invalid ``labelled``.
    """
    m = np.asarray(m_hat, dtype=np.float64)
    if m.ndim != 1:
        raise ValueError(f"m_hat must be float[F], got shape {m.shape}")
    return lam * m + (1.0 - lam) * proximity_term(m.size, labelled, sigma)


# --------------------------------------------------------------------------- plugin


def _number(name: str) -> Callable[[Any], float]:
    """attrs converter to ``float`` that refuses booleans and strings, naming the parameter."""

    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        return float(value)

    return convert


def _checked(rule: Callable[[float], bool], message: str) -> Any:
    """attrs validator raising ``ValueError(f"{message}, got {value}")`` unless ``rule(value)``
    (NaN fails every rule below)."""

    def check(_inst: Any, _attr: Any, value: float) -> None:
        if not rule(value):
            raise ValueError(f"{message}, got {value}")

    return check


@attrs.frozen
class MotionMarginParams:
    """Parameters of :class:`MotionMarginScorer`.

    Attributes:
        tau: activity threshold on the background probability, in ``(0, 1]``; default 0.9 (the
            paper's); 1 disables the suppression.
        gamma: weight of the prediction change in ``m = u (1 + gamma c)``, finite and ``>= 0``;
            default 1 (a frame whose prediction changes completely counts twice its margin
            uncertainty); 0 is margin uncertainty alone.
        sigma: width in frames of the distance term, finite and ``> 0``; default 1.3.
        lam: weight of the uncertainty against the distance term, in ``[0, 1]``; default 0.5.
    """

    tau: float = attrs.field(
        default=DEFAULT_TAU,
        converter=_number("tau"),
        validator=_checked(lambda v: 0.0 < v <= 1.0, "tau must be in (0, 1]"),
    )
    gamma: float = attrs.field(
        default=DEFAULT_GAMMA,
        converter=_number("gamma"),
        validator=_checked(
            lambda v: math.isfinite(v) and v >= 0.0, "gamma must be finite and >= 0"
        ),
    )
    sigma: float = attrs.field(
        default=DEFAULT_SIGMA,
        converter=_number("sigma"),
        validator=_checked(lambda v: math.isfinite(v) and v > 0.0, "sigma must be finite and > 0"),
    )
    lam: float = attrs.field(
        default=DEFAULT_LAMBDA,
        converter=_number("lam"),
        validator=_checked(lambda v: 0.0 <= v <= 1.0, "lam must be in [0, 1]"),
    )


class MotionMarginScorer(ScorerBase):
    """Motion-aware margin uncertainty far from the labels (see the module docstring).

    ``frame_stats`` reduces ``mc_probs`` to ``u``, ``c`` and ``m``; ``prepare_pool`` adds
    ``m_hat``; ``score`` mixes it with the distance term. Build with ``MotionMarginScorer()``,
    ``MotionMarginScorer(MotionMarginParams(gamma=2.0))`` or
    ``MotionMarginScorer.from_config({"gamma": 2.0})``.
    """

    Params = MotionMarginParams
    params: MotionMarginParams
    requires: ClassVar[frozenset[str]] = frozenset({MC_PROBS})
    #: not frame-local: ``c_i`` reads frames ``i - 1`` and ``i + 1``, so a video the task
    #: streams in chunks must be joined first (the loop does that when this is False)
    frame_local: ClassVar[bool] = False
    #: ``asl-run select --stats`` fills ``m`` with the user's per-frame values
    frame_stat_key: ClassVar[str | None] = M_KEY

    def frame_stats(
        self, video: VideoInfo, outputs: Mapping[str, np.ndarray], rng: np.random.Generator
    ) -> FrameStats:
        """``FrameStats`` with ``u``, ``c`` and ``m``, each ``float64[F]``
        (:func:`motion_margin_stats`); ``rng`` is unused (deterministic).

        Raises:
            ValueError: naming the video, when ``mc_probs`` is missing, has another frame
                count or holds bad values.
        """
        if MC_PROBS not in outputs:
            raise ValueError(f"video {video.id!r}: the task gave no {MC_PROBS!r} output")
        probs = np.asarray(outputs[MC_PROBS])
        if probs.ndim == 5 and probs.shape[1] != video.num_frames:
            raise ValueError(
                f"video {video.id!r}: mc_probs has {probs.shape[1]} frames, the video "
                f"{video.num_frames}"
            )
        p = self.params
        u, c, m = motion_margin_stats(probs, p.tau, p.gamma, video=video.id)
        return FrameStats.of(video.id, video.num_frames, **{U_KEY: u, C_KEY: c, M_KEY: m})

    def prepare_pool(self, stats: Mapping[str, FrameStats]) -> Mapping[str, FrameStats]:
        """Add ``m_hat``: ``m`` min-max normalised over the whole pool (:func:`normalise_pool`).

        Raises:
            ValueError: naming a video whose stats have no ``m`` array.
        """
        for video, st in stats.items():
            if M_KEY not in st.values:
                raise ValueError(f"stats of video {video!r} have no {M_KEY!r} array")
        m_hat = normalise_pool({video: st.values[M_KEY] for video, st in stats.items()})
        return {
            video: FrameStats.of(st.video, st.num_frames, **{**st.values, M_HAT_KEY: m_hat[video]})
            for video, st in stats.items()
        }

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        """``float64[F]`` in ``[0, 1]``: :func:`motion_margin_scores` of the stats' ``m_hat``.

        Raises:
            ValueError: if the stats did not go through :meth:`prepare_pool`, ``num_frames``
                differs from theirs, or ``labelled`` is invalid.
        """
        if num_frames != stats.num_frames or M_HAT_KEY not in stats.values:
            raise ValueError(
                f"video {stats.video!r}: score needs the prepare_pool stats of a "
                f"{num_frames}-frame video, got {stats.num_frames} frames with "
                f"{sorted(stats.values)}"
            )
        p = self.params
        return motion_margin_scores(stats.values[M_HAT_KEY], labelled, p.sigma, p.lam)
