"""Pixel entropy with a fixed temporal filter, after Aghdam et al. [53] (paper §4.1 "A*").

The paper's entropy baseline scores a frame by the entropy of its pixel predictions and, to
avoid nearby frames, uses "a less effective fixed distance filter" (§4.3) instead of APU's
adaptive Gaussian: frames within ``±w`` of a labelled frame are not candidates.

* :func:`frame_entropy` (``frame_stats``): per frame, the mean over **all** pixels of the
  entropy of the trial-averaged class distribution, divided by ``log C`` so it lies in
  ``[0, 1]``. No non-activity suppression: that is APU's contribution (§3.1), and without it
  the background dominates the mean, as the paper observes for this baseline (figure 3:
  "not from crucial action region").
* :func:`aghdam_scores` (``score``): the entropy for candidates; filtered frames are demoted
  below every candidate (see there).

Neither the paper nor ``../shared/specs`` gives ``w``; the default ``w = 3`` matches the reach of
APU's own distance term with ``sigma = 1.3``, whose D is 0.26, 0.69, 0.93 at distances 1, 2, 3
(and above 0.99 from 4 on), so the two baselines avoid about the same neighbourhood, one softly,
one with a hard cut.
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
    "DEFAULT_WINDOW",
    "ENTROPY_KEY",
    "FILTERED_OFFSET",
    "AghdamParams",
    "AghdamScorer",
    "aghdam_scores",
    "frame_entropy",
]

#: half-width w of the filter in frames (see the module docstring for the choice)
DEFAULT_WINDOW = 3

#: filtered frames score ``h - FILTERED_OFFSET``, in ``[-2, -1]``, below every candidate's ``h``
FILTERED_OFFSET = 2.0

#: FrameStats key of the normalised per-frame entropy
ENTROPY_KEY = "h"

# smallest positive float64: p * log(max(p, tiny)) is exactly 0 at p = 0, with no warning
_TINY = np.finfo(np.float64).tiny


def frame_entropy(
    mc_probs: ArrayLike, *, video: str = "<array>", chunk_elements: int = CHUNK_ELEMENTS
) -> np.ndarray:
    """Normalised pixel entropy of the trial-averaged prediction, averaged per frame.

    For every pixel: ``p = (1/T) sum_j P_j`` (the class distribution averaged over the ``T``
    dropout trials), ``H = -sum_c p_c log p_c`` (with ``0 log 0 = 0``). The frame's value is the
    mean of ``H`` over all its pixels, divided by ``log C``, the entropy of the uniform
    distribution, so it lies in ``[0, 1]`` whatever the number of classes (clipped there
    against round-off). Averaging the probabilities before the entropy makes a pixel uncertain
    when the trials disagree, even if each trial on its own is confident.

    Args:
        mc_probs: ``float[T, F, C, H, W]`` probabilities (softmax over ``C``).
        video: the video id, for error messages.
        chunk_elements: values per chunk (results do not depend on it).

    Returns:
        ``float64[F]`` in ``[0, 1]``.

    Raises:
        ValueError: on a bad shape (``T < 1``, ``C < 2``, ...) or NaN, infinite or out-of-range
            probabilities (naming the video and the first bad frame).
    """
    probs = check_mc_probs(mc_probs, None, video)
    log_classes = math.log(probs.shape[2])
    h = np.zeros(probs.shape[1], dtype=np.float64)
    for start, chunk in checked_chunks(probs, video, chunk_elements):
        p = np.clip(chunk.mean(axis=0), 0.0, 1.0)  # [f, C, H, W]
        entropy = -(p * np.log(np.maximum(p, _TINY))).sum(axis=1)  # [f, H, W]
        h[start : start + p.shape[0]] = entropy.mean(axis=(1, 2)) / log_classes
    return np.clip(h, 0.0, 1.0)


def _check_window(window: Any) -> int:
    """``window`` as a non-negative ``int``; integral floats (``3.0``) are accepted, ``2.5`` is not."""
    if isinstance(window, float) and window.is_integer():
        window = int(window)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
        raise ValueError(f"window must be an integer >= 0, got {window!r}")
    return int(window)


def aghdam_scores(h: ArrayLike, labelled: ArrayLike, window: int = DEFAULT_WINDOW) -> np.ndarray:
    """Entropy score with a fixed distance filter.

    A frame whose distance to the nearest labelled frame is ``<= window`` is filtered: it scores
    ``h - 2`` (in ``[-2, -1]``) instead of ``h`` (in ``[0, 1]``). Scores must be finite and
    selectors must spend their whole budget, so a filtered frame cannot be forbidden; this puts
    every filtered frame below every candidate of the pool (the scale is fixed, so this holds
    across videos too), and the selectors reach filtered frames only once no candidate is left,
    then in entropy order. ``window = 0`` filters only the labelled frames themselves, i.e.
    plain entropy selection. A video with no labelled frame has no filtered frame. With a
    re-scoring selector, frames picked earlier in the same selection filter their neighbours
    too.

    Args:
        h: ``float[F]`` normalised entropies in ``[0, 1]`` (:func:`frame_entropy`).
        labelled: sorted, unique labelled frame indices in ``[0, F)``.
        window: the filter's half-width ``w`` in frames (integer >= 0).

    Returns:
        ``float64[F]``: ``h`` for candidates, ``h - 2`` for filtered frames.

    Raises:
        ValueError: if ``h`` is not one-dimensional or not in ``[0, 1]``, ``window`` is not an
            integer >= 0, or ``labelled`` is invalid.
    """
    window = _check_window(window)
    values = np.asarray(h, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"h must be float[F], got shape {values.shape}")
    # the demotion relies on 0 <= h <= 1 (NaN fails too)
    if values.size and not (values.min() >= 0.0 and values.max() <= 1.0):
        raise ValueError("h must be normalised entropies in [0, 1] (see frame_entropy)")
    filtered = nearest_labelled_distance(values.size, labelled) <= window
    return np.where(filtered, values - FILTERED_OFFSET, values)


@attrs.frozen
class AghdamParams:
    """Parameters of :class:`AghdamScorer`.

    Attributes:
        window: half-width ``w`` of the fixed filter: frames within ``±w`` frames of a labelled
            frame are not candidates (integer >= 0; default 3).
    """

    window: int = attrs.field(default=DEFAULT_WINDOW, converter=_check_window)


class AghdamScorer(ScorerBase):
    """Entropy baseline with a fixed ``±w`` filter around labelled frames (see
    :func:`frame_entropy` and :func:`aghdam_scores`).

    The entropy is already on a fixed ``[0, 1]`` scale, so ``prepare_pool`` is the identity.
    """

    Params = AghdamParams
    params: AghdamParams
    requires: ClassVar[frozenset[str]] = frozenset({MC_PROBS})
    #: each frame's statistic uses only that frame's outputs: long videos reduce chunk by chunk
    frame_local: ClassVar[bool] = True
    #: ``asl-run select --stats`` fills this array with the user's values (entropy h in [0, 1])
    frame_stat_key: ClassVar[str | None] = ENTROPY_KEY

    def frame_stats(
        self, video: VideoInfo, outputs: Mapping[str, np.ndarray], rng: np.random.Generator
    ) -> FrameStats:
        """``FrameStats`` with ``h = float64[F]`` in ``[0, 1]``; ``rng`` is unused.

        Raises:
            ValueError: on missing or bad ``mc_probs``, naming the video (and the first bad
                frame for NaN or infinite values).
        """
        probs = mc_probs_of(outputs, video)
        h = frame_entropy(probs, video=video.id)
        return FrameStats.of(video.id, video.num_frames, **{ENTROPY_KEY: h})

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        """``float64[F]``: :func:`aghdam_scores` of the stats' ``h`` with this scorer's ``window``.

        Raises:
            ValueError: if the stats have no ``h`` array or another length, or on invalid
                ``labelled``.
        """
        name = type(self).__name__
        if num_frames != stats.num_frames:
            raise ValueError(
                f"{name}: num_frames={num_frames} but the stats of video {stats.video!r} have "
                f"{stats.num_frames} frames"
            )
        if ENTROPY_KEY not in stats.values:
            raise ValueError(
                f"{name}: stats of video {stats.video!r} have no {ENTROPY_KEY!r} array; "
                f"they were not made by {name}.frame_stats"
            )
        return aghdam_scores(stats.values[ENTROPY_KEY], labelled, self.params.window)
