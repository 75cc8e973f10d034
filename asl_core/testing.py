"""Test helpers for plugin authors: conformance checks, a tiny task, fake distributions.

* :func:`check_scorer`, :func:`check_selector`, :func:`check_loss`, :func:`check_oracle` —
  executable contracts (shapes, finite values, determinism for a fixed ``rng``, never selecting
  labelled frames, exact budget, deterministic tie-break, frozen outputs, picklability). Call
  them from your own tests; every built-in plugin runs through them.
* :class:`FakeTask` — a small, numpy-only task (no torch) with real training, evaluation and
  Monte-Carlo dropout predictions, so the whole loop runs in well under a second.
* :func:`make_test_plugin_manager`, :func:`registered`, :func:`fake_distribution` — exercise
  discovery without installing anything.

Example::

    from asl_core.testing import check_scorer
    from my_pkg.margin import MarginScorer

    def test_margin_scorer_conforms():
        check_scorer(MarginScorer)
"""

from __future__ import annotations

import contextlib
import email.message
import importlib.metadata as md
import pickle
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from attrs import field, frozen

from .hookspecs import hookimpl
from .interfaces import MC_PROBS, Progress, Scorer
from .params import Configurable
from .plugins import PluginManager, make_plugin_manager
from .types import (
    FrameAnnotation,
    FrameRef,
    FrameStats,
    LabelState,
    OutputChunk,
    Region,
    Selection,
    VideoInfo,
)

__all__ = [
    "FakeOracle",
    "FakeTask",
    "FakeTaskParams",
    "check_evaluator",
    "check_loss",
    "check_oracle",
    "check_scorer",
    "check_selector",
    "check_task",
    "fake_distribution",
    "make_test_plugin_manager",
    "registered",
]


# --------------------------------------------------------------------------- plugin managers


def make_test_plugin_manager(*, load_entrypoints: bool = False) -> PluginManager:
    """A fresh, strict plugin manager (no installed plugins unless ``load_entrypoints``)."""
    return make_plugin_manager(load_entrypoints=load_entrypoints, strict=True, environ={})


@contextlib.contextmanager
def registered(
    manager: PluginManager, plugin: Any, name: str = "test-plugin"
) -> Iterator[PluginManager]:
    """Register ``plugin`` (a module, class or object with hookimpls) for the block's duration."""
    if not manager.add_plugin(plugin, name):
        failure = manager.failed[-1]
        raise AssertionError(f"plugin {name!r} failed to register: {failure.error}")
    try:
        yield manager
    finally:
        manager.remove_plugin(name)


class _FakeDistribution(md.Distribution):
    def __init__(
        self, name: str, version: str, entry_points: Mapping[str, str], group: str
    ) -> None:
        self._name = name
        self._version = version
        lines = [f"[{group}]"] + [f"{k} = {v}" for k, v in entry_points.items()]
        self._entry_points_txt = "\n".join(lines) + "\n"

    def read_text(self, filename: str) -> str | None:
        if filename == "METADATA":
            msg = email.message.Message()
            msg["Metadata-Version"] = "2.1"
            msg["Name"] = self._name
            msg["Version"] = self._version
            return msg.as_string()
        if filename == "entry_points.txt":
            return self._entry_points_txt
        return None

    def locate_file(self, path: Any) -> Path:
        return Path(str(path))


def fake_distribution(
    name: str, entry_points: Mapping[str, str], *, version: str = "0.0.1", group: str = "asl"
) -> md.Distribution:
    """An installed-looking distribution declaring ``entry_points`` (name → module) in ``group``.

    Pass a list of these as ``make_plugin_manager(distributions=[...])``; the modules they name
    must be importable (e.g. written to ``tmp_path`` added to ``sys.path``).
    """
    return _FakeDistribution(name, version, entry_points, group)


# --------------------------------------------------------------------------- FakeTask


@frozen
class FakeTaskParams:
    """Parameters of :class:`FakeTask`.

    Attributes:
        num_videos: videos in the active-learning pool.
        num_test_videos: videos in the evaluation split.
        min_frames, max_frames: video lengths are uniform in this range.
        num_classes: action classes.
        size: frames are ``size x size`` pixels.
        feature_dim: per-frame feature dimension.
        mc_trials: Monte-Carlo dropout trials ``T`` of ``predict``.
        dropout: dropout probability on the features.
        train_steps: gradient steps per training.
        lr: learning rate.
        data_seed: seed of the generated dataset (independent of the run seed).
        predict_chunk: ``predict`` yields each video as :class:`~asl_core.types.OutputChunk`
            values of at most this many frames (0: whole videos). The outputs are the same
            either way (the dropout draws are made for the whole video first).
    """

    num_videos: int = field(default=12, converter=int)
    num_test_videos: int = field(default=12, converter=int)
    min_frames: int = field(default=20, converter=int)
    max_frames: int = field(default=48, converter=int)
    num_classes: int = field(default=3, converter=int)
    size: int = field(default=8, converter=int)
    feature_dim: int = field(default=6, converter=int)
    mc_trials: int = field(default=4, converter=int)
    dropout: float = field(default=0.3, converter=float)
    train_steps: int = field(default=60, converter=int)
    lr: float = field(default=0.5, converter=float)
    data_seed: int = field(default=0, converter=int)
    predict_chunk: int = field(default=0, converter=int)

    def __attrs_post_init__(self) -> None:
        if self.num_videos < 1 or self.num_test_videos < 1:
            raise ValueError("num_videos and num_test_videos must be >= 1")
        if not 1 <= self.min_frames <= self.max_frames:
            raise ValueError("need 1 <= min_frames <= max_frames")
        if self.size < 2 or self.num_classes < 1 or self.feature_dim < 1 or self.mc_trials < 1:
            raise ValueError("size >= 2, num_classes >= 1, feature_dim >= 1, mc_trials >= 1")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")
        if self.predict_chunk < 0:
            raise ValueError("predict_chunk must be >= 0 (0: whole videos)")


@frozen
class _FakeVideo:
    info: VideoInfo
    features: np.ndarray = field(eq=False)  # float[F, D]
    boxes: np.ndarray = field(eq=False)  # int[F, 4] x1,y1,x2,y2 (inclusive-exclusive)
    present: np.ndarray = field(eq=False)  # bool[F]


def _box_mask(box: Sequence[float], size: int) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    x1, y1, x2, y2 = (round(v) for v in box)
    mask[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)] = True
    return mask


class FakeTask(Configurable):
    """A tiny "actor localisation" task in numpy, for tests and the walking-skeleton demo.

    Each video shows one actor during a temporal tube ``[start, end]``; the actor's box drifts
    across a ``size x size`` frame. A frame carries a feature vector (its "appearance")
    whose signal strength varies smoothly over time, so some frames are much harder than
    others. The model is a per-pixel logistic regression on ``[frame features, inside-box
    prior]``; MC dropout on the features gives ``mc_probs`` of shape ``[T, F, 2, H, W]``.
    Training uses only oracle annotations: unlabelled frames get the nearest labelled frame's
    mask as pseudo-label, weighted by the SparseLoss. Metrics: mean pixel IoU and frame
    accuracy of actor presence on the test split.

    ``reduce`` of the loss is assumed linear in the per-frame losses (true for the built-ins);
    its gradient coefficients are read off by evaluating it on unit vectors.
    """

    Params = FakeTaskParams
    outputs = frozenset({MC_PROBS})
    checkpoint_suffix = ".npz"

    def __init__(self, params: FakeTaskParams | None = None) -> None:
        super().__init__(params)
        p = self.params
        rng = np.random.default_rng(p.data_seed)
        self._class_means = rng.normal(0.0, 1.0, size=(p.num_classes, p.feature_dim))
        self._train = [self._make_video(f"v{i:03d}", "train", rng) for i in range(p.num_videos)]
        self._test = [self._make_video(f"t{i:03d}", "test", rng) for i in range(p.num_test_videos)]
        self._by_id = {v.info.id: v for v in self._train + self._test}
        self.predict_calls = 0

    def _make_video(self, vid: str, split: str, rng: np.random.Generator) -> _FakeVideo:
        p = self.params
        n = int(rng.integers(p.min_frames, p.max_frames + 1))
        label = int(rng.integers(p.num_classes))
        start = int(rng.integers(0, max(1, n // 3)))
        end = int(rng.integers(min(n - 1, start + max(1, n // 3)), n))
        present = np.zeros(n, dtype=bool)
        present[start : end + 1] = True
        # signal strength varies smoothly: some stretches of the video are hard to read
        t = np.arange(n)
        strength = 1.0 + 0.8 * np.sin(
            2 * np.pi * t / max(n, 2) * rng.uniform(0.5, 2.0) + rng.uniform(0, 6)
        )
        noise = rng.normal(0.0, 1.0, size=(n, p.feature_dim))
        features = noise + present[:, None] * strength[:, None] * (1.5 + self._class_means[label])
        side = max(2, p.size // 2)
        x0, y0 = rng.integers(0, p.size - side + 1, size=2)
        drift = rng.choice([-1, 1])
        xs = np.clip(x0 + drift * (t * 2 // max(n, 1)), 0, p.size - side)
        boxes = np.stack([xs, np.full(n, y0), xs + side, np.full(n, y0 + side)], axis=1).astype(
            np.int64
        )
        return _FakeVideo(VideoInfo(vid, n, label, split), features, boxes, present)

    # -- Task interface -------------------------------------------------------------------

    def pool(self) -> list[VideoInfo]:
        """The training videos."""
        return [v.info for v in self._train]

    def build_model(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Weights ``w[D]``, prior weight ``a`` and bias ``b``."""
        d = self.params.feature_dim
        return {"w": rng.normal(0.0, 0.01, size=d), "ab": np.array([0.0, -1.0])}

    def _pixel_inputs(self, video: _FakeVideo) -> np.ndarray:
        # the "where could an actor be" prior a detector backbone would give: the box region
        # on every frame, present or not; the features decide whether the actor is there
        size = self.params.size
        return np.stack([_box_mask(b, size) for b in video.boxes]).astype(np.float64)

    def _logits(
        self, model: Mapping[str, np.ndarray], feats: np.ndarray, prior: np.ndarray
    ) -> np.ndarray:
        z = feats @ model["w"]  # [..., F]
        a, b = model["ab"]
        return z[..., None, None] * prior + a * prior + b  # [..., F, H, W]

    def train(
        self,
        model: dict[str, np.ndarray],
        labels: LabelState,
        annotations: Mapping[FrameRef, FrameAnnotation],
        loss: Any,
        rng: np.random.Generator,
        progress: Progress,
    ) -> dict[str, np.ndarray]:
        """Full-batch gradient descent on the weighted pixel BCE of the labelled videos."""
        p = self.params
        batch = []
        for video in self._train:
            frames = labels.labelled(video.info.id)
            if frames.size == 0:
                continue
            masks = []
            for f in frames:
                ann = annotations[FrameRef(video.info.id, int(f))]
                m = np.zeros((p.size, p.size), dtype=bool)
                for region in ann.regions:
                    if region.box is not None:
                        m |= _box_mask(region.box, p.size)
                masks.append(m)
            # pseudo-label of every frame = mask of the nearest labelled frame
            n = video.info.num_frames
            idx = np.searchsorted(frames, np.arange(n))
            left = frames[np.clip(idx - 1, 0, frames.size - 1)]
            right = frames[np.clip(idx, 0, frames.size - 1)]
            nearest = np.where(
                np.abs(np.arange(n) - left) <= np.abs(right - np.arange(n)), left, right
            )
            pos = np.searchsorted(frames, nearest)
            target = np.stack(masks)[pos].astype(np.float64)
            weights = np.asarray(loss.frame_weights(n, frames), dtype=np.float64)
            coef = np.array([float(loss.reduce(np.eye(n)[i], weights)) for i in range(n)])
            batch.append((video, target, coef))
        progress.start(p.train_steps, "steps")
        w, ab = model["w"].copy(), model["ab"].copy()
        for _ in range(p.train_steps):
            gw = np.zeros_like(w)
            gab = np.zeros_like(ab)
            for video, target, coef in batch:
                keep = (rng.random(video.features.shape) >= p.dropout) / (1 - p.dropout)
                feats = video.features * keep
                prior = self._pixel_inputs(video)
                z = self._logits({"w": w, "ab": ab}, feats, prior)
                prob = 1.0 / (1.0 + np.exp(-z))
                # d(mean pixel BCE)/dz per pixel, scaled by the loss's per-frame coefficient
                g = (prob - target) / (p.size * p.size) * coef[:, None, None]
                gw += feats.T @ (g * prior).sum(axis=(1, 2))
                gab += np.array([(g * prior).sum(), g.sum()])
            scale = 1.0 / max(len(batch), 1)
            w -= p.lr * gw * scale
            ab -= p.lr * gab * scale
            progress.advance(1)
        return {"w": w, "ab": ab}

    def evaluate(
        self, model: Mapping[str, np.ndarray], rng: np.random.Generator, progress: Progress
    ) -> dict[str, float]:
        """Mean pixel IoU over test frames with an actor, and presence accuracy."""
        progress.start(len(self._test), "videos")
        ious, correct, frames = [], 0, 0
        for video in self._test:
            prob = 1.0 / (
                1.0 + np.exp(-self._logits(model, video.features, self._pixel_inputs(video)))
            )
            pred = prob > 0.5
            truth = np.stack(
                [
                    _box_mask(b, self.params.size) & p
                    for b, p in zip(video.boxes, video.present, strict=True)
                ]
            )
            inter = (pred & truth).sum(axis=(1, 2))
            union = (pred | truth).sum(axis=(1, 2))
            ious.extend((inter[video.present] / np.maximum(union[video.present], 1)).tolist())
            correct += int((pred.any(axis=(1, 2)) == video.present).sum())
            frames += video.info.num_frames
            progress.advance(1)
        return {
            "frame_iou": float(np.mean(ious)) if ious else 0.0,
            "presence_acc": correct / max(frames, 1),
        }

    def predict(
        self,
        model: Mapping[str, np.ndarray],
        videos: Sequence[VideoInfo],
        requires: frozenset[str],
        rng: np.random.Generator,
    ) -> Iterator[tuple[str, dict[str, np.ndarray]] | OutputChunk]:
        """``mc_probs`` ``float32[T, F, 2, H, W]`` (background, actor) per video, whole or in
        chunks of ``predict_chunk`` frames."""
        self.predict_calls += 1
        p = self.params
        for info in videos:
            video = self._by_id[info.id]
            keep = (rng.random((p.mc_trials, *video.features.shape)) >= p.dropout) / (1 - p.dropout)
            prior = self._pixel_inputs(video)
            n = info.num_frames
            step = p.predict_chunk or n
            for start in range(0, n, step):
                stop = min(start + step, n)
                z = self._logits(
                    model,
                    video.features[None, start:stop] * keep[:, start:stop],
                    prior[None, start:stop],
                )
                fg = 1.0 / (1.0 + np.exp(-z))
                probs = np.stack([1.0 - fg, fg], axis=2).astype(np.float32)
                if not p.predict_chunk:
                    yield info.id, {MC_PROBS: probs}
                else:
                    yield OutputChunk(info.id, start, stop, n, {MC_PROBS: probs})

    def predict_regions(
        self, model: Mapping[str, np.ndarray], frames: Sequence[FrameRef]
    ) -> list[tuple[Region, ...]]:
        """The model's actor on each frame (``asl-run export`` pre-fill): the tight box of the
        pixels with probability >= 0.5, labelled with the video's class (the fake model
        localises but does not classify); no region when no pixel is."""
        out: list[tuple[Region, ...]] = []
        for ref in frames:
            video = self._by_id[ref.video]
            prior = self._pixel_inputs(video)[ref.frame][None]
            z = self._logits(model, video.features[ref.frame][None], prior)  # [1, H, W]
            ys, xs = np.nonzero(z[0] >= 0.0)
            if not ys.size:
                out.append(())
                continue
            box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
            out.append((Region(0, int(video.info.label), box),))
        return out

    @property
    def category_names(self) -> tuple[str, ...]:
        """Class names for annotation tools (``class0``, ``class1``, ...)."""
        return tuple(f"class{i}" for i in range(self.params.num_classes))

    def exchange_videos(self, ids: Sequence[str]) -> dict[str, Any]:
        """Each video as an annotation tool sees it (``asl-run export`` / ``import``)."""
        from .exchange import ExchangeVideo

        size = self.params.size
        return {v: ExchangeVideo(v, self._by_id[v].info.num_frames, size, size) for v in ids}

    def ground_truth(self, frames: Sequence[FrameRef]) -> list[tuple[Region, ...]]:
        """The actor's box on frames inside its tube; no region elsewhere."""
        out: list[tuple[Region, ...]] = []
        for ref in frames:
            video = self._by_id[ref.video]
            if not video.present[ref.frame]:
                out.append(())
                continue
            out.append(
                (
                    Region(
                        track_id=0, category=video.info.label, box=video.boxes[ref.frame].tolist()
                    ),
                )
            )
        return out

    def save_checkpoint(self, model: Mapping[str, np.ndarray], path: Path) -> None:
        """``.npz`` of the weights (written to exactly ``path``)."""
        with open(path, "wb") as fh:
            np.savez(fh, **model)

    def load_checkpoint(self, path: Path) -> dict[str, np.ndarray]:
        """Read weights written by :meth:`save_checkpoint` (no pickles allowed)."""
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}


class FakeOracle:
    """An oracle that returns ground truth from the task at a cost of 1 per frame (for tests)."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name

    def annotate(self, frames: Sequence[FrameRef], task: Any) -> Iterator[FrameAnnotation]:
        for ref, regions in zip(frames, task.ground_truth(list(frames)), strict=True):
            yield FrameAnnotation(ref.video, ref.frame, regions, oracle=self.name, cost=1.0)


# --------------------------------------------------------------------------- conformance


class _CheckFailed(AssertionError):
    pass


def _fail(what: str, msg: str) -> None:
    raise _CheckFailed(f"{what}: {msg}")


def _instantiate(obj_or_cls: Any) -> Any:
    if isinstance(obj_or_cls, type):
        from_config = getattr(obj_or_cls, "from_config", None)
        return from_config({}) if callable(from_config) else obj_or_cls()
    return obj_or_cls


def _check_picklable(obj: Any, what: str) -> None:
    try:
        clone = pickle.loads(pickle.dumps(obj))
    except Exception as exc:
        _fail(what, f"is not picklable ({type(exc).__name__}: {exc})")
    if type(clone) is not type(obj):
        _fail(what, "unpickles to another type")


# lengths 1 to 37; "e" ends up fully labelled in check_selector
_CHECK_VIDEOS = (("a", 1), ("b", 5), ("c", 37), ("d", 12), ("e", 3))


def _check_outputs(
    video: VideoInfo, rng: np.random.Generator, trials: int = 3, classes: int = 2
) -> dict[str, np.ndarray]:
    logits = rng.normal(0.0, 2.0, size=(trials, video.num_frames, classes, 4, 5))
    probs = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    return {MC_PROBS: probs.astype(np.float32)}


def _raw_stats_for(scorer: Scorer, videos: Sequence[VideoInfo], seed: int) -> dict[str, FrameStats]:
    stats = {}
    for i, video in enumerate(videos):
        outputs = _check_outputs(video, np.random.default_rng([seed, i, 1]))
        outputs = {k: v for k, v in outputs.items() if k in scorer.requires}
        stats[video.id] = scorer.frame_stats(video, outputs, np.random.default_rng([seed, i, 2]))
    return stats


def _stats_for(scorer: Scorer, videos: Sequence[VideoInfo], seed: int) -> dict[str, FrameStats]:
    return dict(scorer.prepare_pool(_raw_stats_for(scorer, videos, seed)))


def _check_frame_stat_key(obj: Any, what: str, videos: Sequence[VideoInfo]) -> None:
    """A declared ``frame_stat_key`` names a ``float[F]`` array of ``frame_stats``, and stats
    holding only that array score exactly like the full ones (what ``asl-run select --stats``
    relies on)."""
    key = getattr(obj, "frame_stat_key", None)
    if key is None:
        return
    if not isinstance(key, str):
        _fail(what, f"frame_stat_key must be a str or None, got {key!r}")
    raw = _raw_stats_for(obj, videos, 0)
    for video in videos:
        arr = raw[video.id].values.get(key)
        if arr is None or arr.shape != (video.num_frames,):
            _fail(
                what,
                f"frame_stat_key {key!r}: frame_stats must store a float[F] array under that key "
                f"(video {video.id!r} has {sorted(raw[video.id].values)})",
            )
    full = dict(obj.prepare_pool(raw))
    only = dict(
        obj.prepare_pool(
            {v: FrameStats.of(v, st.num_frames, **{key: st.values[key]}) for v, st in raw.items()}
        )
    )
    for video in videos:
        n = video.num_frames
        for labelled in (np.empty(0, np.int64), np.array([0]), np.arange(0, n, 3)):
            lab = labelled.astype(np.int64)
            if not np.array_equal(
                np.asarray(obj.score(full[video.id], lab, n)),
                np.asarray(obj.score(only[video.id], lab, n)),
            ):
                _fail(
                    what,
                    f"stats holding only frame_stat_key {key!r} score differently from the full "
                    f"frame_stats result (video {video.id!r}, labelled={lab.tolist()})",
                )


def check_scorer(scorer: Any) -> None:
    """Check a Scorer class or instance against the interface contract.

    Checks: ``requires`` is a frozenset of known output names; ``frame_stats`` returns
    :class:`FrameStats` of the right video and length with read-only arrays, deterministically
    for a fixed ``rng``; ``prepare_pool`` keeps every video; ``score`` returns ``float[F]``
    finite values, deterministically, for no / some / all labelled frames, without changing its
    inputs; a declared ``frame_stat_key`` names a ``float[F]`` array of ``frame_stats`` and
    stats holding only that array score like the full ones; the scorer pickles.

    Raises:
        AssertionError: describing the first violation.
    """
    obj = _instantiate(scorer)
    what = f"scorer {type(obj).__name__}"
    from .interfaces import KNOWN_OUTPUTS

    if not isinstance(obj.requires, frozenset):
        _fail(what, f"requires must be a frozenset, got {type(obj.requires).__name__}")
    unknown = obj.requires - KNOWN_OUTPUTS
    if unknown:
        _fail(what, f"requires unknown outputs {sorted(unknown)} (known: {sorted(KNOWN_OUTPUTS)})")
    videos = [VideoInfo(v, n) for v, n in _CHECK_VIDEOS]
    stats = _stats_for(obj, videos, 0)
    again = _stats_for(obj, videos, 0)
    if set(stats) != {v.id for v in videos}:
        _fail(what, "prepare_pool must return stats for every video")
    for video in videos:
        st = stats[video.id]
        if (
            not isinstance(st, FrameStats)
            or st.video != video.id
            or st.num_frames != video.num_frames
        ):
            _fail(
                what,
                f"frame_stats for {video.id!r} must be FrameStats with num_frames={video.num_frames}",
            )
        if st != again[video.id]:
            _fail(what, "frame_stats is not deterministic for equal inputs and rng")
        for name, arr in st.values.items():
            if arr.flags.writeable:
                _fail(
                    what, f"stats array {name!r} is writeable; build FrameStats with FrameStats.of"
                )
        n = video.num_frames
        for labelled in (np.empty(0, np.int64), np.array([0]), np.arange(0, n, 3), np.arange(n)):
            lab = labelled.astype(np.int64)
            lab.setflags(write=False)
            s1 = np.asarray(obj.score(st, lab, n))
            s2 = np.asarray(obj.score(st, lab, n))
            if s1.shape != (n,):
                _fail(what, f"score must return shape ({n},), got {s1.shape}")
            if not np.all(np.isfinite(s1)):
                _fail(
                    what,
                    f"score returned non-finite values for {video.id!r} with labelled={lab.tolist()}",
                )
            if not np.array_equal(s1, s2):
                _fail(what, "score is not deterministic")
    _check_frame_stat_key(obj, what, videos)
    _check_picklable(obj, what)


class _TieScorer:
    """Every frame scores 1: selection must fall back to the documented tie-break."""

    requires: frozenset[str] = frozenset()

    def frame_stats(
        self, video: VideoInfo, outputs: Mapping[str, np.ndarray], rng: np.random.Generator
    ) -> FrameStats:
        return FrameStats(video.id, video.num_frames)

    def prepare_pool(self, stats: Mapping[str, FrameStats]) -> Mapping[str, FrameStats]:
        return stats

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        return np.ones(num_frames)


class _DistanceNoiseScorer(_TieScorer):
    """Random stats plus distance to the nearest labelled frame: re-scoring matters."""

    def frame_stats(
        self, video: VideoInfo, outputs: Mapping[str, np.ndarray], rng: np.random.Generator
    ) -> FrameStats:
        return FrameStats.of(video.id, video.num_frames, u=rng.random(video.num_frames))

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        if labelled.size == 0:
            dist = np.full(num_frames, float(num_frames))
        else:
            dist = (
                np.abs(np.arange(num_frames)[:, None] - labelled[None, :]).min(axis=1).astype(float)
            )
        return stats.values["u"] + dist / num_frames


def check_selector(selector: Any) -> None:
    """Check a Selector class or instance against the interface contract.

    Checks, with a random and a constant (all-ties) scorer over a pool of videos of different
    lengths: exactly ``min(budget, unlabelled)`` distinct frames; never a labelled frame; every
    frame in range; budget 0 gives an empty selection; a budget above the unlabelled pool takes
    all of it; equal inputs and equal ``rng`` give equal selections (a deterministic
    tie-break); finite scores; inputs unchanged; the selector pickles.

    Raises:
        AssertionError: describing the first violation.
    """
    obj = _instantiate(selector)
    what = f"selector {type(obj).__name__}"
    videos = [VideoInfo(v, n) for v, n in _CHECK_VIDEOS]
    total = sum(v.num_frames for v in videos)
    labels = LabelState.from_frames(
        [FrameRef("b", 2), FrameRef("c", 0), FrameRef("c", 20), FrameRef("d", 11)]
        + [FrameRef("e", f) for f in range(3)]
    )
    unlabelled = total - labels.num_labelled
    for scorer in (_DistanceNoiseScorer(), _TieScorer()):
        stats = _stats_for(scorer, videos, 7)
        for budget in (0, 1, 3, 10, unlabelled, unlabelled + 5):
            sel = obj.select(stats, labels, budget, scorer, np.random.default_rng(11))
            again = obj.select(stats, labels, budget, scorer, np.random.default_rng(11))
            if not isinstance(sel, Selection):
                _fail(what, f"select must return a Selection, got {type(sel).__name__}")
            if sel != again:
                _fail(
                    what,
                    f"not deterministic for equal inputs and rng (budget {budget}, {type(scorer).__name__})",
                )
            expected = min(budget, unlabelled)
            if len(sel) != expected:
                _fail(what, f"selected {len(sel)} frames for budget {budget}, expected {expected}")
            if len(set(sel.frames)) != len(sel):
                _fail(what, "selected a frame twice")
            for ref in sel.frames:
                if labels.is_labelled(ref):
                    _fail(what, f"selected labelled frame {ref}")
                n = dict(_CHECK_VIDEOS).get(ref.video)
                if n is None or not 0 <= ref.frame < n:
                    _fail(what, f"selected {ref}, which is not in the pool")
            if not np.all(np.isfinite(sel.scores)):
                _fail(what, "selection scores must be finite")
    _check_picklable(obj, what)


def check_loss(loss: Any) -> None:
    """Check a SparseLoss class or instance against the interface contract.

    Checks: ``frame_weights`` returns ``float[F]`` in ``[0, 1]``, 1 on labelled frames,
    deterministic, read-only inputs untouched, for videos of 1 to 50 frames; ``reduce`` of zero
    losses is 0, is finite, and does not grow when a loss shrinks; the loss pickles.

    Raises:
        AssertionError: describing the first violation.
    """
    obj = _instantiate(loss)
    what = f"loss {type(obj).__name__}"
    rng = np.random.default_rng(3)
    for n in (1, 2, 9, 50):
        for labelled in (
            np.array([0]),
            np.array([n - 1]),
            np.unique(rng.integers(0, n, size=3)),
            np.arange(n),
        ):
            lab = labelled.astype(np.int64)
            lab.setflags(write=False)
            w = np.asarray(obj.frame_weights(n, lab), dtype=np.float64)
            if w.shape != (n,):
                _fail(what, f"frame_weights must return shape ({n},), got {w.shape}")
            if not np.all(np.isfinite(w)) or w.min() < 0 or w.max() > 1:
                _fail(what, "frame_weights must be finite and in [0, 1]")
            if not np.allclose(w[lab], 1.0):
                _fail(what, f"labelled frames must weigh 1, got {w[lab].tolist()}")
            if not np.array_equal(w, np.asarray(obj.frame_weights(n, lab))):
                _fail(what, "frame_weights is not deterministic")
            per_frame = rng.random(n)
            total = float(obj.reduce(per_frame, w))
            if not np.isfinite(total):
                _fail(what, "reduce returned a non-finite value")
            if float(obj.reduce(np.zeros(n), w)) != 0.0:
                _fail(what, "reduce of zero losses must be 0")
            if float(obj.reduce(per_frame * 0.5, w)) > total + 1e-12:
                _fail(what, "reduce must not grow when every per-frame loss shrinks")
    _check_picklable(obj, what)


def check_oracle(oracle: Any, task: Any | None = None) -> None:
    """Check an Oracle class or instance: one :class:`FrameAnnotation` per requested frame, in
    order, not pseudo, with a finite non-negative cost; deterministic. An oracle of people
    (one that raises :class:`~asl_core.errors.AwaitingAnnotations`) must name exactly the
    requested frames in it.

    Raises:
        AssertionError: describing the first violation.
    """
    from .errors import AwaitingAnnotations

    obj = _instantiate(oracle)
    what = f"oracle {type(obj).__name__}"
    task = task or FakeTask(FakeTaskParams(num_videos=3, num_test_videos=1))
    pool = task.pool()
    frames = [FrameRef(v.id, f) for v in pool for f in (0, v.num_frames // 2, v.num_frames - 1)]
    try:
        anns = list(obj.annotate(frames, task))
    except AwaitingAnnotations as exc:
        # a human-in-the-loop oracle: it must name exactly the frames it could not answer
        if list(exc.frames) != frames:
            _fail(what, "AwaitingAnnotations must name the requested frames, in order")
        _check_picklable(obj, what)
        return
    if len(anns) != len(frames):
        _fail(what, f"returned {len(anns)} annotations for {len(frames)} frames")
    for ref, ann in zip(frames, anns, strict=True):
        if not isinstance(ann, FrameAnnotation) or ann.ref != ref:
            _fail(what, f"expected an annotation of {ref}, got {ann!r:.200}")
        if ann.pseudo or not np.isfinite(ann.cost) or ann.cost < 0:
            _fail(what, "annotations must be non-pseudo with a finite, non-negative cost")
    if anns != list(obj.annotate(frames, task)):
        _fail(what, "annotate is not deterministic")
    _check_picklable(obj, what)


def check_evaluator(evaluator: Any, *, tmp_dir: Path) -> None:
    """Check an Evaluator class or instance without knowing its file formats: it satisfies the
    :class:`~asl_core.interfaces.Evaluator` protocol, and a missing ground-truth file and a file
    of garbage bytes are each refused with an :class:`~asl_core.errors.AslError` whose message
    names the file (what ``asl-run eval`` turns into a clear error and exit code), never a bare
    ``FileNotFoundError``, ``KeyError`` or a traceback. An evaluator of mask folders (one with
    ``evaluate_folders``) must also refuse a missing, non-folder and empty ground-truth folder
    that way.

    Raises:
        AssertionError: describing the first violation.
    """
    from .errors import AslError
    from .interfaces import Evaluator

    obj = _instantiate(evaluator)
    what = f"evaluator {type(obj).__name__}"
    if not isinstance(obj, Evaluator):
        _fail(what, "does not implement evaluate_files (the Evaluator protocol)")
    folders = getattr(obj, "evaluate_folders", None)
    if folders is not None:
        _check_folder_evaluator(obj, folders, what, tmp_dir)
    # an evaluator may list its presets; the first one is valid, so the files are what fails
    preset = next(iter(getattr(obj, "presets", ()) or ()), "default")
    garbage = tmp_dir / "garbage.bin"
    garbage.write_bytes(b"\x00\xffnot a ground-truth file\n" * 8)
    for gt in (tmp_dir / "missing-gt.pkl", garbage):
        try:
            obj.evaluate_files(gt, garbage, garbage, preset=preset, thresholds=[0.5], split=None)
        except AslError as exc:
            if gt.name not in str(exc):
                _fail(what, f"the error for {gt.name} does not name the file: {exc}")
        except Exception as exc:  # any other exception is the violation
            _fail(what, f"{gt.name}: raised {type(exc).__name__} ({exc}) instead of an AslError")
        else:
            _fail(what, f"accepted {gt.name} as ground truth")
    _check_picklable(obj, what)


def _check_folder_evaluator(obj: Any, folders: Any, what: str, tmp_dir: Path) -> None:
    """A mask-folder evaluator (``evaluate_folders(gt, pred, *, meta)``) refuses a missing
    ground-truth folder, a file given as the folder and an empty folder with an AslError naming
    the path."""
    from .errors import AslError

    if not callable(folders):
        _fail(what, "evaluate_folders is not callable")
    not_a_folder = tmp_dir / "not-a-folder.png"
    not_a_folder.write_bytes(b"\x00\xffnot a mask folder\n" * 8)
    empty = tmp_dir / "empty-gt"
    empty.mkdir(exist_ok=True)
    pred = tmp_dir / "pred-masks"
    pred.mkdir(exist_ok=True)
    for gt in (tmp_dir / "missing-gt", not_a_folder, empty):
        try:
            folders(gt, pred, meta=None)
        except AslError as exc:
            if gt.name not in str(exc):
                _fail(what, f"the error for {gt.name} does not name the folder: {exc}")
        except Exception as exc:
            _fail(what, f"{gt.name}: raised {type(exc).__name__} ({exc}) instead of an AslError")
        else:
            _fail(what, f"accepted {gt.name} as a ground-truth folder")


def check_task(task: Any, *, tmp_dir: Path, max_videos: int = 2) -> None:
    """Check a Task instance end to end on a few pool videos.

    Checks: ``pool()`` gives unique :class:`VideoInfo`; ``ground_truth`` gives one tuple of
    :class:`Region` per frame; ``train`` on one labelled frame per video returns a model;
    ``evaluate`` gives finite float metrics; when ``mc_probs`` is provided, ``predict`` of one
    video (whole, or as :class:`OutputChunk` values covering it in order) gives
    ``float[T, F, C, H, W]`` probabilities summing to 1 over ``C >= 2``, the same for equal
    generators; a checkpoint written to ``tmp_dir`` loads back to a model with equal metrics.

    Raises:
        AssertionError: describing the first violation.
    """
    what = f"task {type(task).__name__}"
    pool = list(task.pool())
    if not pool or not all(isinstance(v, VideoInfo) for v in pool):
        _fail(what, "pool() must return a non-empty sequence of VideoInfo")
    if len({v.id for v in pool}) != len(pool):
        _fail(what, "pool() has duplicate video ids")
    videos = pool[:max_videos]
    frames = [FrameRef(v.id, v.num_frames // 2) for v in videos]
    truths = list(task.ground_truth(frames))
    if len(truths) != len(frames) or not all(
        isinstance(t, tuple) and all(isinstance(r, Region) for r in t) for t in truths
    ):
        _fail(what, "ground_truth must return one tuple of Region per frame")
    anns = {
        ref: FrameAnnotation(ref.video, ref.frame, regions, oracle="check", cost=0.0)
        for ref, regions in zip(frames, truths, strict=True)
    }
    from .interfaces import NullProgress, SparseLossBase

    class _Masking(SparseLossBase):
        def frame_weights(self, num_frames: int, labelled: np.ndarray) -> np.ndarray:
            w = np.zeros(num_frames)
            w[labelled] = 1.0
            return w

    rng = np.random.default_rng(0)
    labels = LabelState.from_frames(frames)
    model = task.train(task.build_model(rng), labels, anns, _Masking(), rng, NullProgress())
    metrics = dict(task.evaluate(model, np.random.default_rng(1), NullProgress()))
    if not metrics or not all(
        isinstance(k, str) and np.isfinite(float(v)) for k, v in metrics.items()
    ):
        _fail(what, f"evaluate must return finite float metrics, got {metrics!r:.200}")
    if MC_PROBS in task.outputs:
        for info in videos:
            # as the loop calls it: one video, its own generator; whole or in OutputChunks
            probs = _predicted(task, model, info, what)
            if probs.ndim != 5 or probs.shape[1] != info.num_frames or probs.shape[2] < 2:
                _fail(
                    what,
                    f"mc_probs of {info.id!r} must be [T, {info.num_frames}, C>=2, H, W], "
                    f"got {probs.shape}",
                )
            if not np.allclose(probs.sum(axis=2), 1.0, atol=1e-4):
                _fail(what, f"mc_probs of {info.id!r} must sum to 1 over classes")
            if not np.array_equal(_predicted(task, model, info, what), probs):
                _fail(what, f"predict of {info.id!r} differs for equal generators")
    path = Path(tmp_dir) / f"check-model{task.checkpoint_suffix}"
    task.save_checkpoint(model, path)
    again = dict(
        task.evaluate(task.load_checkpoint(path), np.random.default_rng(1), NullProgress())
    )
    if again != metrics:
        _fail(what, "a saved and reloaded model evaluates differently")


def _predicted(task: Any, model: Any, info: VideoInfo, what: str) -> np.ndarray:
    """``mc_probs`` of one video as ``predict`` gives it (chunks joined, their order checked)."""
    parts: list[np.ndarray] = []
    end = 0
    for item in task.predict(model, [info], frozenset({MC_PROBS}), np.random.default_rng(2)):
        if isinstance(item, OutputChunk):
            if item.video != info.id or item.start != end:
                _fail(what, f"predict chunks of {info.id!r} must cover it in order from 0")
            end = item.stop
            parts.append(np.asarray(item.outputs[MC_PROBS]))
        else:
            vid, outputs = item
            if vid != info.id or parts:
                _fail(what, f"predict must yield {info.id!r} once when asked for it")
            parts.append(np.asarray(outputs[MC_PROBS]))
            end = info.num_frames
    if not parts or end != info.num_frames:
        _fail(what, f"predict must yield every frame of {info.id!r} once")
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


# a plugin module object tests can register to get the fake task and oracle by name
class FakePlugin:
    """Hookimpls registering ``fake`` task and oracle (``registered(pm, FakePlugin())``)."""

    @hookimpl
    def register_tasks(self, register: Any) -> None:
        register("fake", FakeTask, summary="tiny numpy task for tests")

    @hookimpl
    def register_oracles(self, register: Any) -> None:
        register("fake", FakeOracle, summary="ground truth at cost 1 per frame")
