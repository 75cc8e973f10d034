"""MC-dropout uncertainty alone, after Gal & Ghahramani [73] (paper §4.1 baseline "G*").

The paper extends uncertainty sampling to frames by computing uncertainty at pixel level "in
all our baselines" (§4.1). This scorer is APU without its distance term: the same U (eq. 1,
with non-activity suppression, from :func:`asl_strategies.scorers.apu.frame_uncertainty`), the
same pool normalisation, and score ``U_hat``. Without a distance term it keeps picking
neighbouring frames of one uncertain stretch (figure 3, §4.3), which is what the baseline is
meant to show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np
from numpy.typing import ArrayLike

from asl_core import MC_PROBS, FrameStats, ScorerBase, VideoInfo

from .._frames import check_labelled
from .apu import (
    DEFAULT_TAU,
    U_KEY,
    as_number,
    as_validator,
    check_tau,
    normalise_stats,
    stored_u_hat,
    uncertainty_stats,
)

__all__ = ["GalParams", "GalScorer", "gal_scores"]


def gal_scores(u_hat: ArrayLike, labelled: ArrayLike) -> np.ndarray:
    """Score of the Gal baseline: the pool-normalised uncertainty, whatever the labels.

    ``U_hat`` rather than raw U: within a pool it is an increasing affine map of U, so every
    selector picks exactly the same frames, but the scores land in ``[0, 1]`` like APU's and
    can be compared between the two in ``selection.json``.

    Args:
        u_hat: ``float[F]``, U normalised over the pool
            (:func:`asl_strategies.scorers.apu.normalise_pool`).
        labelled: sorted, unique labelled frame indices in ``[0, F)``; only validated.

    Returns:
        ``float64[F]``, a copy of ``u_hat``.

    Raises:
        ValueError: if ``u_hat`` is not one-dimensional or ``labelled`` is invalid.
    """
    u = np.array(u_hat, dtype=np.float64)
    if u.ndim != 1:
        raise ValueError(f"u_hat must be float[F], got shape {u.shape}")
    check_labelled(u.size, labelled)
    return u


@attrs.frozen
class GalParams:
    """Parameters of :class:`GalScorer`.

    Attributes:
        tau: non-activity suppression threshold of U, in ``(0, 1)``; default 0.9 as for APU.
    """

    tau: float = attrs.field(
        default=DEFAULT_TAU, converter=as_number("tau"), validator=as_validator(check_tau)
    )


class GalScorer(ScorerBase):
    """Uncertainty-only frame scoring (see :func:`gal_scores`); labels do not change the scores,
    so re-scoring after a pick changes nothing."""

    Params = GalParams
    params: GalParams
    requires: ClassVar[frozenset[str]] = frozenset({MC_PROBS})
    #: each frame's statistic uses only that frame's outputs: long videos reduce chunk by chunk
    frame_local: ClassVar[bool] = True
    #: ``asl-run select --stats`` fills this array with the user's per-frame values (U of eq. 1)
    frame_stat_key: ClassVar[str | None] = U_KEY

    def frame_stats(
        self, video: VideoInfo, outputs: Mapping[str, np.ndarray], rng: np.random.Generator
    ) -> FrameStats:
        """``FrameStats`` with ``u = float64[F]`` (eq. 1), exactly as APU's; ``rng`` is unused.

        Raises:
            ValueError: on missing or bad ``mc_probs``, naming the video (and the first bad
                frame for NaN or infinite values).
        """
        return uncertainty_stats(video, outputs, self.params.tau)

    def prepare_pool(self, stats: Mapping[str, FrameStats]) -> Mapping[str, FrameStats]:
        """Add ``u_hat``, U min-max normalised over the whole pool, as APU does."""
        return normalise_stats(stats)

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        """``float64[F]`` in ``[0, 1]``: the stats' ``u_hat``.

        Raises:
            ValueError: if the stats did not go through :meth:`prepare_pool`.
        """
        return gal_scores(stored_u_hat(stats, num_frames, type(self).__name__), labelled)
