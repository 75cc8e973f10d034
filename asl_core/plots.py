"""PNG plots of a comparison (``asl-run compare``): learning curves and frames per video.

matplotlib is imported inside the functions with the non-interactive ``Agg`` backend, so nothing
here needs a display and importing ``asl_core`` stays light.

* :func:`learning_curves` — a metric against the labelled share of the pool, one line per
  method with a shaded ± std band over seeds (paper Fig. 1 and 4-6 style).
* :func:`frames_per_video_histogram` — how many frames each method bought per video over the
  selection cycles (paper Fig. 7a style): global selection concentrates the budget on some
  videos, local selection spreads it.
* :func:`selection_timeline` — for a few videos, the frames each method bought along the time
  axis with the ground-truth action shaded (paper Fig. 3 style).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["frames_per_video_histogram", "learning_curves", "selection_timeline"]


@contextlib.contextmanager
def _figure(path: Path, *, rows: int = 1, size: tuple[float, float] = (6.4, 4.2)) -> Iterator[Any]:
    """Axes ``[rows]`` of a new figure, written to ``path`` (folders created) when the block
    ends without error; the figure is closed either way."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, 1, figsize=size, dpi=120, squeeze=False)
    try:
        yield axes[:, 0]
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def learning_curves(
    points: Mapping[str, Sequence[Mapping[str, float]]],
    metric: str,
    path: Path,
    *,
    x_axis: str = "pct",
    reference: tuple[str, Mapping[str, float]] | None = None,
) -> Path:
    """Plot ``metric`` against % labelled frames, one line (mean) and band (± std) per method.

    Args:
        points: per method, its aggregated points ``{"x", "mean", "std", "n"}`` in cycle order
            (the ``points`` of ``compare/summary.json``).
        metric: the metric's name (axis label and title).
        x_axis: ``"pct"`` (% labelled) or ``"cost"`` (cumulative annotation cost): the x label.
        path: the PNG to write (parent folders are created).
        reference: ``(label, {"mean", "std", ...})`` of a full-supervision reference, drawn as
            a dashed horizontal line with its ± std band.

    Returns:
        ``path``.
    """
    with _figure(path) as (ax,):
        for method, pts in points.items():
            xs = [p["x"] for p in pts]
            ys = [p["mean"] for p in pts]
            (line,) = ax.plot(xs, ys, marker="o", label=method)
            lo = [p["mean"] - p["std"] for p in pts if not math.isnan(p["std"])]
            if len(lo) == len(pts):  # one seed: no band rather than a fake zero-width one
                hi = [p["mean"] + p["std"] for p in pts]
                ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.18, linewidth=0)
        if reference is not None:
            label, ref = reference
            ax.axhline(ref["mean"], color="0.3", linestyle="--", label=label)
            if not math.isnan(ref["std"]):
                ax.axhspan(
                    ref["mean"] - ref["std"], ref["mean"] + ref["std"], color="0.5", alpha=0.12
                )
        ax.set_xlabel(
            "labelled frames (% of the pool)" if x_axis == "pct" else "annotation cost (clicks)"
        )
        ax.set_ylabel(metric)
        ax.set_title(f"{metric}: mean ± std over seeds")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return path


def frames_per_video_histogram(counts: Mapping[str, Sequence[int]], path: Path) -> Path:
    """Histogram of frames bought per video by each method (selection cycles only).

    Args:
        counts: per method, one count per pool video (all seeds pooled).
        path: the PNG to write.

    Returns:
        ``path``.
    """
    with _figure(path) as (ax,):
        top = max((max(c) for c in counts.values() if len(c)), default=0)
        bins = [b - 0.5 for b in range(top + 2)]
        ax.hist(list(counts.values()), bins=bins, label=list(counts), alpha=0.85)
        ax.set_xlabel("frames selected in the video (after the initial labels)")
        ax.set_ylabel("videos")
        ax.set_title("frames selected per video")
        ax.legend(fontsize="small")
    return path


def selection_timeline(
    selected: Mapping[str, Mapping[str, Sequence[int]]],
    extents: Mapping[str, Sequence[bool]],
    path: Path,
) -> Path:
    """Frames each method selected along each video's time axis, ground-truth action shaded
    (paper Fig. 3 style).

    Args:
        selected: per method, per video, the frames it bought after the initial labels.
        extents: per video (the ones to draw, in order), ``bool[F]``: the frames where the
            ground truth shows an actor.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    videos = list(extents)
    methods = list(selected)
    # every video's panel needs room for its title and axis besides one row per method
    size = (7.0, 0.5 + len(videos) * (0.5 + 0.28 * len(methods)))
    with _figure(path, rows=len(videos), size=size) as axes:
        for ax, video in zip(axes, videos, strict=True):
            inside = list(extents[video])
            for f, on in enumerate(inside):  # shade runs of frames with the action
                if on and (f == 0 or not inside[f - 1]):
                    end = f
                    while end + 1 < len(inside) and inside[end + 1]:
                        end += 1
                    ax.axvspan(f - 0.5, end + 0.5, color="0.85", linewidth=0)
            for row, method in enumerate(methods):
                frames = list(selected[method].get(video, ()))
                ax.scatter(frames, [row] * len(frames), marker="|", s=120, label=method)
            ax.set_yticks(range(len(methods)), methods, fontsize="x-small")
            ax.set_xlim(-0.5, len(inside) - 0.5)
            ax.set_ylim(-0.7, len(methods) - 0.3)
            ax.set_title(video, fontsize="small", loc="left")
        axes[-1].set_xlabel("frame (grey: ground-truth action)")
    return path
