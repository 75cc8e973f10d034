"""The five plugin interfaces: Scorer, Selector, SparseLoss, Task and Oracle (plus the
helpers behind the CLI: DatasetTool and Evaluator).

They are ``typing.Protocol`` classes: a third-party plugin is compatible by duck typing and need
not inherit from anything. The ``*Base`` classes below are optional conveniences that add
validated parameters (:class:`~asl_core.params.Configurable`) and sensible defaults.

Conventions shared by all interfaces:

* Frame indices are 0-based; ``labelled`` arguments are sorted ``int64`` arrays.
* A **higher score always means more worth annotating**.
* Randomness comes only from the ``rng`` argument (a ``numpy.random.Generator`` that the loop
  derives from the run seed); two calls with equal inputs and equal generators must give equal
  results.
* Values crossing the boundary are the frozen types of :mod:`asl_core.types`.

Model outputs (``Task.predict``) are named; the names a Scorer may require:

``"mc_probs"``
    ``float32[T, F, C, H, W]``: class probabilities of every pixel of every frame in ``T``
    Monte-Carlo dropout trials (softmax over ``C``; channel 0 is background, ``C >= 2``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from .params import Configurable
from .types import FrameAnnotation, FrameRef, FrameStats, LabelState, Region, Selection, VideoInfo

__all__ = [
    "KNOWN_OUTPUTS",
    "MC_PROBS",
    "OUTPUT_FRAME_AXIS",
    "DatasetTool",
    "Evaluator",
    "NullProgress",
    "Oracle",
    "OracleBase",
    "Progress",
    "Scorer",
    "ScorerBase",
    "Selector",
    "SelectorBase",
    "SparseLoss",
    "SparseLossBase",
    "Task",
]

MC_PROBS = "mc_probs"
KNOWN_OUTPUTS = frozenset({MC_PROBS})
#: the frame axis of each known output (where an :class:`~asl_core.types.OutputChunk` cuts it)
OUTPUT_FRAME_AXIS: dict[str, int] = {MC_PROBS: 1}


@runtime_checkable
class Progress(Protocol):
    """Progress reporting handed to long-running plugin calls (the CLI draws it with rich)."""

    def start(self, total: int | None, description: str = "") -> None:
        """Announce ``total`` steps (``None``: unknown) for the current phase."""

    def advance(self, n: int = 1) -> None:
        """Report ``n`` more steps done."""


class NullProgress:
    """A :class:`Progress` that reports nowhere."""

    def start(self, total: int | None, description: str = "") -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


# --------------------------------------------------------------------------- Scorer


@runtime_checkable
class Scorer(Protocol):
    """Utility of each frame for annotation.

    Scoring is split in two so selection can re-score cheaply after every pick:

    * :meth:`frame_stats` — the heavy, model-dependent reduction (e.g. U of eq. 1), once per
      video per cycle.
    * :meth:`score` — the cheap, label-dependent part (e.g. APU's eq. 2-3). Selectors call it
      again for a video after each pick in that video.

    Attributes:
        requires: names of the model outputs :meth:`frame_stats` needs (``frozenset()`` when it
            needs none: the loop then runs no inference at all).

    Optional attribute ``frame_stat_key: str | None`` (not part of the protocol, so scorers
    without it stay compatible): the name of the ``FrameStats`` array holding the scorer's one
    per-frame statistic, ``float[F]``, that :meth:`frame_stats` computes (``"u"`` for ``apu``
    and ``gal``, ``"h"`` for ``aghdam``). A ``FrameStats`` holding only that array must then go
    through :meth:`prepare_pool` and :meth:`score` exactly like the full :meth:`frame_stats`
    result. ``asl-run select --stats`` uses it to bring per-frame statistics computed outside
    the toolkit; missing or ``None``: the scorer cannot take a plain per-frame array.

    Optional attribute ``frame_local: bool`` (default ``False``): ``True`` promises that
    :meth:`frame_stats` computes each frame's statistics from that frame's outputs alone and
    ignores ``rng``, so the statistics of a run of frames are the slice of the whole video's.
    The loop then reduces a long video's outputs chunk by chunk as the task streams them
    (:class:`~asl_core.types.OutputChunk`), with a ``VideoInfo`` of the chunk's length, and
    concatenates the arrays: memory stays that of one chunk. Without it, the chunks of a video
    are joined before one :meth:`frame_stats` call.
    """

    requires: frozenset[str]

    def frame_stats(
        self, video: VideoInfo, outputs: Mapping[str, np.ndarray], rng: np.random.Generator
    ) -> FrameStats:
        """Reduce the model outputs of one video to per-frame statistics.

        Args:
            video: the video (``video.num_frames == F``).
            outputs: the required outputs, e.g. ``{"mc_probs": float32[T, F, C, H, W]}``;
                empty when ``requires`` is empty.
            rng: generator for this video and cycle.

        Returns:
            FrameStats whose arrays have first axis ``F``.
        """
        ...

    def prepare_pool(self, stats: Mapping[str, FrameStats]) -> Mapping[str, FrameStats]:
        """Pool-wide step after all :meth:`frame_stats` of a cycle (e.g. normalise U over the
        candidate pool so scores compare across videos). Return ``stats`` when not needed."""
        ...

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        """Score every frame of one video given its labelled frames.

        Args:
            stats: this video's statistics.
            labelled: sorted ``int64`` indices of its labelled frames.
            num_frames: ``F``.

        Returns:
            ``float64[F]``, finite; higher means more worth annotating. Scores of labelled
            frames are ignored by selectors.
        """
        ...


class ScorerBase(Configurable):
    """Optional base class for scorers: parameters, ``requires``, no ``frame_stat_key`` and an
    identity ``prepare_pool``."""

    requires: ClassVar[frozenset[str]] = frozenset()
    #: frame_stats is per frame and ignores rng (see :class:`Scorer`): chunked reduction allowed
    frame_local: ClassVar[bool] = False
    #: the FrameStats key a plain per-frame array fills (see :class:`Scorer`); None: none
    frame_stat_key: ClassVar[str | None] = None

    def frame_stats(
        self, video: VideoInfo, outputs: Mapping[str, np.ndarray], rng: np.random.Generator
    ) -> FrameStats:
        """No statistics: subclasses that need some override this."""
        return FrameStats(video=video.id, num_frames=video.num_frames)

    def prepare_pool(self, stats: Mapping[str, FrameStats]) -> Mapping[str, FrameStats]:
        """Identity."""
        return stats

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        raise NotImplementedError


# --------------------------------------------------------------------------- Selector


@runtime_checkable
class Selector(Protocol):
    """Spends a cycle's budget over the pool."""

    def select(
        self,
        stats: Mapping[str, FrameStats],
        labels: LabelState,
        budget: int,
        scorer: Scorer,
        rng: np.random.Generator,
    ) -> Selection:
        """Choose ``budget`` unlabelled frames.

        Args:
            stats: per-video statistics of every pool video, **in pool order** (ties break to the
                lowest ``(video position, frame)``).
            labels: current labels; human-labelled frames are never selected.
            budget: number of frames to choose; when fewer frames are unlabelled, all of them.
            scorer: the scorer; call ``scorer.score`` again after picks in a video.
            rng: generator for this cycle's selection.

        Returns:
            A :class:`Selection` of exactly ``min(budget, unlabelled)`` distinct frames.
        """
        ...


class SelectorBase(Configurable):
    """Optional base class for selectors."""

    def select(
        self,
        stats: Mapping[str, FrameStats],
        labels: LabelState,
        budget: int,
        scorer: Scorer,
        rng: np.random.Generator,
    ) -> Selection:
        raise NotImplementedError


# --------------------------------------------------------------------------- SparseLoss


@runtime_checkable
class SparseLoss(Protocol):
    """How sparse frame labels weight a dense per-frame loss (paper §3.2)."""

    def frame_weights(self, num_frames: int, labelled: np.ndarray) -> np.ndarray:
        """Weight of every frame's localisation loss.

        Args:
            num_frames: ``F``.
            labelled: sorted ``int64`` indices of the labelled frames.

        Returns:
            ``float64[F]`` in ``[0, 1]``; 1 on labelled frames. Unlabelled frames are trained on
            pseudo-labels made by the Task (interpolation), weighted by this.
        """
        ...

    def reduce(self, per_frame_loss: Any, weights: Any) -> Any:
        """Combine per-frame losses (numpy or torch, shape ``[..., F]``) with ``weights``."""
        ...


class SparseLossBase(Configurable):
    """Optional base class for sparse losses: the weighted-mean ``reduce``.

    ``reduce`` returns ``sum(w * L) / max(sum(w), eps)``. Eq. 4 of the paper is the plain weighted
    sum; dividing by the total weight keeps the loss scale (and so the effective learning rate)
    the same for every loss and label density, and differs from eq. 4 only by a positive
    per-video constant. It works on numpy arrays and torch tensors alike.
    """

    eps: ClassVar[float] = 1e-12

    def frame_weights(self, num_frames: int, labelled: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reduce(self, per_frame_loss: Any, weights: Any) -> Any:
        """Weighted mean over the last axis (frames)."""
        total = (per_frame_loss * weights).sum(-1)
        norm = weights.sum(-1)
        norm = norm.clip(min=self.eps) if hasattr(norm, "clip") else max(norm, self.eps)
        return total / norm


# --------------------------------------------------------------------------- Task


@runtime_checkable
class Task(Protocol):
    """A dataset family plus a model and its metrics.

    Attributes:
        outputs: names of the model outputs :meth:`predict` can produce (see module doc).
        checkpoint_suffix: file suffix of checkpoints written by :meth:`save_checkpoint`.

    Optional attribute ``headline_metrics: tuple[str, ...]`` names the metrics the CLI shows per
    cycle (all of them go to ``metrics.json``); without it every metric is shown.
    """

    outputs: frozenset[str]
    checkpoint_suffix: str

    def pool(self) -> Sequence[VideoInfo]:
        """The videos that can be labelled, in a fixed order (the tie-break order)."""
        ...

    def build_model(self, rng: np.random.Generator) -> Any:
        """A freshly initialised model."""
        ...

    def train(
        self,
        model: Any,
        labels: LabelState,
        annotations: Mapping[FrameRef, FrameAnnotation],
        loss: SparseLoss,
        rng: np.random.Generator,
        progress: Progress,
    ) -> Any:
        """Train ``model`` from the annotations of the labelled frames; return the trained model.

        Training must use only ``annotations`` (what the oracle returned), never ground truth.
        """
        ...

    def evaluate(
        self, model: Any, rng: np.random.Generator, progress: Progress
    ) -> Mapping[str, float]:
        """Metrics of ``model`` on the task's evaluation split (name → value)."""
        ...

    def predict(
        self,
        model: Any,
        videos: Sequence[VideoInfo],
        requires: frozenset[str],
        rng: np.random.Generator,
    ) -> Iterator[tuple[str, Mapping[str, np.ndarray]]]:
        """Yield ``(video_id, outputs)`` for each video, with the outputs named in ``requires``.

        An iterator so that memory stays bounded: the caller reduces each video's outputs to
        per-frame statistics before asking for the next (and reports progress per video). A
        task may instead yield a video as consecutive :class:`~asl_core.types.OutputChunk`
        values (frames ``[start, stop)``, in order, covering the video) so that a very long
        video never exists whole in memory; mixing both forms across videos is allowed.

        The loop calls this once per video with that video's own generator (derived from the
        run seed, the cycle and the video's pool position), so a video's outputs do not depend
        on which other videos are scored in the same call: scoring can resume mid-pool, be
        cached per video and be sharded across processes with identical results.
        """
        ...

    def ground_truth(self, frames: Sequence[FrameRef]) -> Sequence[tuple[Region, ...]]:
        """The true regions of each frame. Only the simulated oracle may call this."""
        ...

    def save_checkpoint(self, model: Any, path: Path) -> None:
        """Write ``model`` to ``path`` (the core makes the write atomic)."""
        ...

    def load_checkpoint(self, path: Path) -> Any:
        """Read a model written by :meth:`save_checkpoint` (untrusted: no arbitrary code)."""
        ...


# --------------------------------------------------------------------------- Oracle


@runtime_checkable
class Oracle(Protocol):
    """Turns selected frames into annotations (a person, a tool exchange, or ground truth)."""

    def annotate(self, frames: Sequence[FrameRef], task: Task) -> Iterator[FrameAnnotation]:
        """Yield one annotation per frame, in the order of ``frames``."""
        ...


class OracleBase(Configurable):
    """Optional base class for oracles."""

    def annotate(self, frames: Sequence[FrameRef], task: Task) -> Iterator[FrameAnnotation]:
        raise NotImplementedError


# --------------------------------------------------------------------------- DatasetTool


@runtime_checkable
class DatasetTool(Protocol):
    """Dataset helpers behind ``asl-run data <action>``.

    A dataset plugin implements the actions it supports; the CLI reports an action a plugin
    lacks as a usage error. Actions:

    ``synthesize(out: Path, progress: Progress) -> Path``
        write a dataset into the empty folder ``out`` (in the on-disk layout the task's loader
        reads) and return the path of its main annotation file (``asl-run data synth``).

    ``stats(files: Sequence[Path], progress: Progress) -> dict``
        count what annotation files hold (``asl-run data stats``). Returns a JSON-ready
        document ``{"dataset": str, "files": [str], "rows": [row, ...], "notes": [str]}``;
        each row is ``{"split": str, <column>: int | None, ...}`` (``None``: unknown from these
        files), every row with the same columns in the same order, e.g. ``videos``, ``frames``,
        ``tubes``, ``actor_boxes``. Unreadable files raise an ``AslError`` naming the file.

    ``labels(files: Sequence[Path], progress: Progress) -> dict``
        the selection pool that annotation files describe, with no video (``asl-run data
        labels``, which writes it as the labels file of ``asl-run select --labels``). Returns
        ``{"videos": {id: {"num_frames": F, "labelled": [frame, ...], "actors": [n_0, ...,
        n_{F-1}]}}, "notes": [str]}``: every pool video in the files' order (the order a run's
        initial labels are drawn in), its length, the 0-based frames the files mark as labelled
        (``[]`` when they mark none) and the number of actors on each frame (the regions the
        simulated oracle would return, which set the annotation cost of paper §4). Lengths must
        come from the files (``num_imgs``, ``nframes``): a file that stores none, for a video
        no other file gives the length of, raises a ``ConfigError`` naming it (the last
        annotated frame is not a video's end). Unreadable or disagreeing files raise an
        ``AslError`` naming them. The CLI checks the document like a labels file; a bad one
        is a ``PluginContractError``.

    ``check(root: Path, progress: Progress, *, annotations: Sequence[Path] = (),
    quick: bool = False, on_problem: Callable[[DataProblem], None] | None = None)
    -> DataCheckReport``
        walk the dataset folder ``root`` and report every missing, unreadable or inconsistent
        video (frame count and size against the annotations) as a
        :class:`~asl_core.types.DataProblem`, calling ``on_problem`` as each is found
        (``asl-run data check``). ``annotations`` replaces the files the tool would find in
        ``root``; ``quick`` skips decoding every frame (existence, counts and the first frame
        only). A missing or unreadable annotation file raises an ``AslError`` naming it.

    ``recognize(root: Path) -> int``
        how surely ``root`` holds this tool's dataset: 0 = not at all, higher = more specific
        (``asl-run data check`` without ``--dataset`` picks the single highest).
    """


# --------------------------------------------------------------------------- Evaluator


@runtime_checkable
class Evaluator(Protocol):
    """Scores a detector's output files against ground-truth files (``asl-run eval``).

    Evaluators work on files in published formats, so they measure any model's output, not only
    a task of this toolkit. The built-in ``act`` (package ``asl_action_det``) computes frame-AP
    and video-AP over ACT-format detections (docs/metrics.md).

    ``evaluate_files`` returns exactly what ``asl-run eval --json`` prints::

        {"frame_ap": {"0.5": {"mAP": 0.71, "per_class": {"brush_hair": 0.8, ...}}, ...},
         "video_ap": {...}}

    one top-level key per metric family whose detections were given, one entry per threshold
    key (``"0.5"``, or ``"0.5:0.95"`` for the mean over that range), ``per_class`` in class order
    with ``None`` for a class without ground truth in the evaluated videos.

    Evaluators of mask folders (the built-in ``vos``, package ``asl_vos``) also provide
    ``evaluate_folders(gt: Path, pred: Path, *, meta: Path | None) -> dict``, which
    ``asl-run eval NAME --gt DIR --pred DIR [--meta FILE]`` calls instead: ``gt`` and ``pred``
    are folders of ``<video>/<frame>.png`` masks, and the returned JSON-ready document is what
    ``--json`` prints (for ``vos``: ``J``, ``F``, ``J&F``, ``seen``, ``unseen``, ``overall``,
    ``per_object``; docs/metrics.md). Bad input raises an ``AslError`` naming the path.
    """

    def evaluate_files(
        self,
        gt: Path,
        frame_dets: Path | None,
        video_dets: Path | None,
        *,
        preset: str,
        thresholds: Sequence[float | str],
        split: str | None,
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """Evaluate the detection files against the ground truth ``gt``.

        Args:
            gt: the ground-truth file.
            frame_dets: per-frame detections, or ``None``.
            video_dets: per-video detections (tubes), or ``None``.
            preset: the evaluator's name for a set of metric conventions (``act``, ``voc``...).
            thresholds: IoU thresholds: numbers in ``[0, 1]`` and range tokens ``"LO:HI"``
                (the mean over ``LO, LO + 0.05, ..., HI``) or ``"LO:HI:STEP"``.
            split: which part of the ground truth to evaluate (``None``: the evaluator's
                default, e.g. the first test split).

        Raises:
            AslUsageError: a missing, unreadable, unsafe or malformed file (the message names
                it), an unknown preset, a bad threshold or split.
        """
        ...
