"""Property tests (hypothesis) of the guarantees issue 10 lists, where no test had them yet.

Already covered elsewhere and not repeated here: the heap global selector equals the module's
own ``naive_global_select`` (tests/strategies/test_strategy_selectors.py), selector invariants
with test scorers, MGW weights in [0, 1] / 1 on labels / its sigma limits at extreme sigmas
(tests/strategies/test_strategy_losses.py), f-mAP / v-mAP in [0, 1]
(tests/action_det/test_metrics.py), a hand-made perfect detection case
(tests/action_det/test_act_eval.py) and single ledger examples
(tests/loop/test_config_budget_ledger.py).

Added here:

* selectors **as the loop builds them** (by name from the plugin registry) with every built-in
  scorer and with pseudo-labelled frames in the label state pass the loop's own contract check
  (:func:`asl_core.loop.check_selection`), and the whole scoring-and-selection pipeline is a
  function of its seed; the global selection equals a naive greedy written here from the
  definition (independent of the module's helpers);
* every built-in sparse loss (masking, interpolation, MGW) gives weights in [0, 1] that are 1
  on labelled frames, and MGW weights grow monotonically with sigma (so its limits are reached
  monotonically: masking as sigma -> 0, interpolation as sigma -> infinity);
* box AP (ACT / VOC, every AP rule) lies in [0, 1] for any ranking and any detections, and is
  exactly 1 for perfect detections of random ground truth; so are f-mAP / v-mAP of perfect
  masks;
* the ledger: lines round-trip, replaying lines changes no label, a torn append that is
  recovered and completed gives the untorn file, recovery is idempotent, and a run resumed over
  a ledger with replayed lines ends exactly as before without writing a line.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asl_action_det.act_eval import (
    PRESETS,
    ap_11_point,
    ap_all_point,
    ap_trapezoid,
    frame_ap,
    precision_recall,
    video_ap,
)
from asl_action_det.metrics import LocalizationMetric
from asl_strategies.losses.mgw import mgw_weights
from asl_strategies.selectors.global_greedy import global_select
from hypothesis import given, settings
from hypothesis import strategies as st

from asl_core import MC_PROBS, FrameAnnotation, FrameStats, LabelState, Region, VideoInfo
from asl_core.ledger import Ledger, decode_record, encode_record
from asl_core.loop import (
    ActiveLearningLoop,
    LoopObserver,
    build_components,
    check_selection,
    create_run,
    labels_up_to,
    open_run,
)
from asl_core.plugins import make_plugin_manager
from tests.conftest import small_config

#: one registry for the module (hypothesis reruns a test body many times; building plugins
#: by name is what the loop does, so the tests do too)
MANAGER = make_plugin_manager(strict=True, environ={})
SELECTORS = ("global", "local", "video")
SCORERS = ("apu", "gal", "aghdam", "random", "equidistant")
LOSSES = ("masking", "interpolation", "mgw")


# =========================================================================== selectors


@st.composite
def label_states(draw: st.DrawFn) -> tuple[list[VideoInfo], LabelState, int, int]:
    """1-5 videos of 1-20 frames; random human labels and, among the other frames, random
    pseudo-labels; a budget up to three more than the human-unlabelled frames; a seed."""
    n = draw(st.integers(1, 5))
    videos, human, pseudo, unlabelled = [], {}, {}, 0
    for i in range(n):
        num_frames = draw(st.integers(1, 20))
        vid = f"video{n - i}"  # names sort against pool order: a tie-break by name would show
        videos.append(VideoInfo(vid, num_frames))
        human[vid] = sorted(draw(st.sets(st.integers(0, num_frames - 1), max_size=num_frames)))
        rest = sorted(set(range(num_frames)) - set(human[vid]))
        pseudo[vid] = sorted(draw(st.sets(st.sampled_from(rest)))) if rest else []
        unlabelled += num_frames - len(human[vid])
    labels = LabelState(human=human, pseudo=pseudo)
    return videos, labels, draw(st.integers(0, unlabelled + 3)), draw(st.integers(0, 2**16))


def pool_stats(scorer: Any, videos: list[VideoInfo], seed: int) -> dict[str, FrameStats]:
    """What the loop gives a selector: ``frame_stats`` of every video (model outputs whose
    probabilities take three values, so ties happen), then ``prepare_pool``; every generator
    derives from ``seed``."""
    stats = {}
    for i, video in enumerate(videos):
        rng = np.random.default_rng([seed, i])
        outputs = {}
        if MC_PROBS in scorer.requires:
            fg = rng.choice([0.05, 0.5, 0.95], size=(3, video.num_frames, 1, 2, 2))
            outputs[MC_PROBS] = np.concatenate([1 - fg, fg], axis=2).astype(np.float32)
        stats[video.id] = scorer.frame_stats(video, outputs, np.random.default_rng([seed, i, 1]))
    return dict(scorer.prepare_pool(stats))


def select_by_name(
    selector: str,
    scorer_name: str,
    videos: list[VideoInfo],
    labels: LabelState,
    budget: int,
    seed: int,
) -> Any:
    """Score and select as the loop does, with plugins built by name from the registry."""
    scorer = MANAGER.build("scorer", scorer_name, {})
    stats = pool_stats(scorer, videos, seed)
    return MANAGER.build("selector", selector, {}).select(
        stats, labels, budget, scorer, np.random.default_rng([seed, 2])
    )


@pytest.mark.parametrize("scorer", SCORERS)
@pytest.mark.parametrize("selector", SELECTORS)
@settings(max_examples=12, deadline=None)
@given(case=label_states())
def test_selectors_meet_the_loop_contract(selector: str, scorer: str, case: Any) -> None:
    """Exactly min(budget, frames without a human label) distinct pool frames, never a
    human-labelled one (pseudo-labelled frames stay candidates), with finite scores: the
    loop's own check accepts the selection."""
    videos, labels, budget, seed = case
    sel = select_by_name(selector, scorer, videos, labels, budget, seed)
    pool = {v.id: v.num_frames for v in videos}
    check_selection(sel, labels, budget, pool, selector)
    assert not any(labels.is_labelled(ref) for ref in sel.frames)
    assert len(sel) == min(budget, sum(pool.values()) - labels.num_labelled)


@pytest.mark.parametrize("scorer", ["random", "apu"])
@pytest.mark.parametrize("selector", SELECTORS)
@settings(max_examples=10, deadline=None)
@given(case=label_states())
def test_scoring_and_selection_are_a_function_of_the_seed(
    selector: str, scorer: str, case: Any
) -> None:
    """Equal inputs and equal seeds give equal selections (frames, order and scores), with
    freshly built plugins each time."""
    videos, labels, budget, seed = case
    first = select_by_name(selector, scorer, videos, labels, budget, seed)
    again = select_by_name(selector, scorer, videos, labels, budget, seed)
    assert first == again


def naive_greedy(
    stats: Mapping[str, FrameStats], labels: LabelState, budget: int, scorer: Any
) -> list[tuple[str, int, float]]:
    """Global greedy selection from its definition (paper §3.1): ``budget`` times, score every
    video given its human labels plus the picks so far, and take the best unlabelled frame of
    the whole pool; ties go to the earlier video in pool order, then the lower frame."""
    taken = {v: set(labels.labelled(v).tolist()) for v in stats}
    picks: list[tuple[str, int, float]] = []
    for _ in range(budget):
        best: tuple[float, str, int] | None = None
        for video, st_ in stats.items():  # pool order
            labelled = np.array(sorted(taken[video]), dtype=np.int64)
            scores = scorer.score(st_, labelled, st_.num_frames)
            for frame in range(st_.num_frames):
                if frame not in taken[video] and (best is None or scores[frame] > best[0]):
                    best = (float(scores[frame]), video, frame)
        if best is None:
            break
        picks.append((best[1], best[2], best[0]))
        taken[best[1]].add(best[2])
    return picks


@pytest.mark.parametrize("scorer", SCORERS)
@settings(max_examples=25, deadline=None)
@given(case=label_states())
def test_global_selection_equals_the_naive_greedy(scorer: str, case: Any) -> None:
    """The fast (heap) global selection picks exactly the frames, in the order and with the
    scores, of the naive greedy written here from the definition."""
    videos, labels, budget, seed = case
    built = MANAGER.build("scorer", scorer, {})
    stats = pool_stats(built, videos, seed)
    fast = global_select(stats, labels, budget, built)
    got = [(r.video, r.frame, float(s)) for r, s in zip(fast.frames, fast.scores, strict=True)]
    assert got == naive_greedy(stats, labels, budget, built)


# =========================================================================== sparse losses


@st.composite
def labelled_videos(draw: st.DrawFn) -> tuple[int, np.ndarray]:
    """A frame count 1..60 and a sorted set of labelled frames (possibly empty)."""
    num_frames = draw(st.integers(1, 60))
    labelled = draw(st.sets(st.integers(0, num_frames - 1), max_size=num_frames))
    return num_frames, np.array(sorted(labelled), dtype=np.int64)


@pytest.mark.parametrize("loss", LOSSES)
@settings(max_examples=60, deadline=None)
@given(video=labelled_videos(), sigma=st.floats(0.01, 1e4))
def test_loss_weights_lie_in_unit_interval_and_are_one_on_labels(
    loss: str, video: tuple[int, np.ndarray], sigma: float
) -> None:
    """``frame_weights`` of every built-in loss, built by name as the loop builds it, is
    ``float64[F]`` in [0, 1] and exactly 1 on every labelled frame."""
    num_frames, labelled = video
    params = {"sigma": sigma} if loss == "mgw" else {}
    w = MANAGER.build("loss", loss, params).frame_weights(num_frames, labelled)
    assert w.shape == (num_frames,) and w.dtype == np.float64
    assert np.all((w >= 0.0) & (w <= 1.0))
    assert np.all(w[labelled] == 1.0)


@settings(max_examples=100, deadline=None)
@given(
    video=labelled_videos(),
    sigmas=st.lists(st.floats(1e-3, 1e6), min_size=2, max_size=2).map(sorted),
)
def test_mgw_weights_grow_monotonically_with_sigma(
    video: tuple[int, np.ndarray], sigmas: list[float]
) -> None:
    """For sigma1 <= sigma2 every MGW weight at sigma1 is at most the one at sigma2, so the
    weights move monotonically from masking (sigma -> 0) to interpolation (sigma -> inf)."""
    num_frames, labelled = video
    small, large = (mgw_weights(num_frames, labelled, s) for s in sigmas)
    assert np.all(small <= large)


# =========================================================================== average precision

AP_RULES = {"trapezoid": ap_trapezoid, "all_point": ap_all_point, "11_point": ap_11_point}


@pytest.mark.parametrize("rule", sorted(AP_RULES))
@settings(max_examples=100, deadline=None)
@given(tp=st.lists(st.booleans(), max_size=40), extra=st.integers(0, 5))
def test_ap_of_any_ranking_lies_in_unit_interval(rule: str, tp: list[bool], extra: int) -> None:
    """Whatever the ranking of true and false positives, with at least as many ground-truth
    instances as true positives (``extra`` more), AP lies in [0, 1]."""
    npos = sum(tp) + extra
    if npos == 0:
        npos = 1
    ap = AP_RULES[rule](*precision_recall(tp, npos))
    assert 0.0 <= ap <= 1.0 + 1e-12


@pytest.mark.parametrize("rule", sorted(AP_RULES))
@settings(max_examples=50, deadline=None)
@given(npos=st.integers(1, 30), false_positives=st.integers(0, 30))
def test_ap_of_a_perfect_ranking_is_one(rule: str, npos: int, false_positives: int) -> None:
    """Every ground-truth instance found, all ranked above any false positive: AP is 1."""
    tp = [True] * npos + [False] * false_positives
    assert AP_RULES[rule](*precision_recall(tp, npos)) == pytest.approx(1.0)


@st.composite
def act_cases(draw: st.DrawFn) -> tuple[dict[str, Any], np.random.Generator]:
    """A random ACT ground truth (1-3 test videos of 20 frames, 3 classes, 0-3 tubes of 2-8
    frames per video, at least one tube, every tube its own box) and a seeded generator."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    labels = ["a", "b", "c"]
    gttubes: dict[str, dict[int, list[np.ndarray]]] = {}
    count = 0
    for v in range(draw(st.integers(1, 3))):
        tubes: dict[int, list[np.ndarray]] = {}
        for _ in range(draw(st.integers(0 if v else 1, 3))):
            first = int(rng.integers(1, 14))
            last = first + int(rng.integers(1, 8))
            x, y = 30.0 * count, float(rng.integers(0, 50))  # distinct boxes: no two GT equal
            w, h = float(rng.integers(5, 25)), float(rng.integers(5, 25))
            tube = np.array([[f, x, y, x + w, y + h] for f in range(first, last + 1)], np.float32)
            tubes.setdefault(int(rng.integers(3)), []).append(tube)
            count += 1
        gttubes[f"c/v{v}"] = tubes
    videos = sorted(gttubes)
    gt = {
        "labels": labels,
        "train_videos": [[]],
        "test_videos": [videos],
        "nframes": dict.fromkeys(videos, 20),
        "resolution": dict.fromkeys(videos, (240, 320)),
        "gttubes": gttubes,
    }
    return gt, rng


def _random_detections(
    gt: dict[str, Any], rng: np.random.Generator
) -> tuple[np.ndarray, dict[int, list]]:
    """Random frame detections (boxes near or far from the GT) and random detected tubes."""
    videos = gt["test_videos"][0]
    rows = []
    for _ in range(int(rng.integers(0, 30))):
        x, y = rng.uniform(0, 120, size=2)
        w, h = rng.uniform(1, 30, size=2)
        v = int(rng.integers(len(videos)))
        rows.append(
            [v, int(rng.integers(1, 21)), int(rng.integers(3)), rng.random(), x, y, x + w, y + h]
        )
    tubes: dict[int, list] = {}
    for _ in range(int(rng.integers(0, 8))):
        first = int(rng.integers(1, 15))
        x, y = rng.uniform(0, 120, size=2)
        rows_t = [
            [f, x, y, x + 15.0, y + 15.0] for f in range(first, first + int(rng.integers(1, 6)))
        ]
        video = videos[int(rng.integers(len(videos)))]
        tubes.setdefault(int(rng.integers(3)), []).append(
            (video, float(rng.random()), np.array(rows_t))
        )
    return np.array(rows).reshape(-1, 8), tubes


def _perfect_detections(
    gt: dict[str, Any], rng: np.random.Generator
) -> tuple[np.ndarray, dict[int, list]]:
    """Every GT box as a frame detection and every GT tube as a detected tube, random scores."""
    rows, tubes = [], {}
    for v, video in enumerate(gt["test_videos"][0]):
        for label, arrays in gt["gttubes"][video].items():
            for arr in arrays:
                rows.extend([v, int(r[0]), label, rng.random(), *r[1:]] for r in arr)
                tubes.setdefault(label, []).append((video, float(rng.random()), arr.copy()))
    return np.array(rows).reshape(-1, 8), tubes


THRESHOLDS = [0.1, 0.5, 0.9, "0.5:0.95"]


@pytest.mark.parametrize("preset", sorted(PRESETS))
@settings(max_examples=30, deadline=None)
@given(case=act_cases())
def test_frame_and_video_ap_lie_in_unit_interval(preset: str, case: Any) -> None:
    """For any ground truth and any detections, every per-class AP and every mAP of frame-AP
    and video-AP lies in [0, 1] (None only for a class without ground truth)."""
    gt, rng = case
    rows, tubes = _random_detections(gt, rng)
    for result in (frame_ap(gt, rows, THRESHOLDS, preset), video_ap(gt, tubes, THRESHOLDS, preset)):
        for per in result.values():
            assert 0.0 <= per["mAP"] <= 1.0
            assert all(v is None or 0.0 <= v <= 1.0 for v in per["per_class"].values())


@pytest.mark.parametrize("preset", sorted(PRESETS))
@settings(max_examples=30, deadline=None)
@given(case=act_cases())
def test_detections_equal_to_random_ground_truth_give_ap_one(preset: str, case: Any) -> None:
    """Detections equal to the ground truth, whatever their scores, give AP 1 for every class
    with ground truth, at every threshold up to 1, under both presets."""
    gt, rng = case
    rows, tubes = _perfect_detections(gt, rng)
    thresholds = [0.5, 1.0, "0.5:0.95"]
    for result in (frame_ap(gt, rows, thresholds, preset), video_ap(gt, tubes, thresholds, preset)):
        for per in result.values():
            assert per["mAP"] == pytest.approx(1.0)
            assert all(v is None or v == pytest.approx(1.0) for v in per["per_class"].values())


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 5))
def test_perfect_masks_give_f_map_and_v_map_one(seed: int, count: int) -> None:
    """Predicted actor masks equal to the ground truth give f-mAP and v-mAP 1 at every
    threshold (VideoCapsuleNet-style metric of the paper)."""
    rng = np.random.default_rng(seed)
    metric = LocalizationMetric(num_classes=3)
    for _ in range(count):
        gt = rng.random((int(rng.integers(1, 6)), 4, 4)) < 0.5
        gt[0, 0, 0] = True  # at least one GT pixel, so the video counts
        label = int(rng.integers(3))
        metric.update(label, label, gt.copy(), gt)
    result = metric.compute()
    maps = {k: v for k, v in result.items() if "mAP" in k}
    assert maps and all(v == pytest.approx(1.0) for v in maps.values())


# =========================================================================== ledger


boxes = st.tuples(*[st.floats(0, 1e4)] * 4).map(lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3]))
masks = st.fixed_dictionaries(
    {
        "size": st.tuples(st.integers(1, 9), st.integers(1, 9)),
        "counts": st.one_of(st.text(max_size=8), st.lists(st.integers(0, 99), max_size=6)),
    }
)
#: a box, a mask (compressed or not) or both
regions = st.one_of(
    st.builds(Region, st.integers(0, 50), st.integers(0, 30), box=boxes),
    st.builds(Region, st.integers(0, 50), st.integers(0, 30), mask=masks),
    st.builds(Region, st.integers(0, 50), st.integers(0, 30), box=boxes, mask=masks),
)


def annotations(video: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[FrameAnnotation]:
    """Any annotation: unicode video ids, 0-3 regions, finite costs, human or pseudo."""
    return st.builds(
        FrameAnnotation,
        video=st.text(min_size=1, max_size=12) if video is None else video,
        frame=st.integers(0, 10**6),
        regions=st.lists(regions, max_size=3),
        oracle=st.text(max_size=10),
        cost=st.floats(-1e6, 1e6, allow_nan=False),
        pseudo=st.booleans(),
    )


@settings(max_examples=150, deadline=None)
@given(cycle=st.integers(0, 10**4), ann=annotations())
def test_ledger_lines_round_trip(cycle: int, ann: FrameAnnotation) -> None:
    """Every annotation survives encode -> one JSON line -> decode unchanged."""
    line = encode_record(cycle, ann)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    rec = decode_record(json.loads(line))
    assert rec.cycle == cycle and rec.annotation == ann


#: records of a small pool (frames collide often, so duplicates are frequent)
ledgers = st.lists(
    st.tuples(
        st.integers(0, 3),
        annotations(st.sampled_from(["a", "b"])).map(
            lambda a: FrameAnnotation(a.video, a.frame % 6, a.regions, a.oracle, a.cost, a.pseudo)
        ),
    ),
    max_size=12,
)


@settings(max_examples=80, deadline=None)
@given(records=ledgers, replay=st.data())
def test_replaying_ledger_lines_changes_no_label(records: list, replay: st.DataObject) -> None:
    """Appending again any of a ledger's own lines, in any order, changes no purchased
    annotation and no label state of any cycle; every replayed human line is a duplicate."""
    again = replay.draw(st.lists(st.sampled_from(records), max_size=8) if records else st.just([]))
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "ledger.jsonl")
        ledger.append(records)
        before = ledger.read()
        ledger.append(again)
        after = ledger.read()
    assert after.annotations() == before.annotations()
    for cycle in range(4):
        assert labels_up_to(after, cycle) == labels_up_to(before, cycle)
    human = [r for r in after.records if not r.annotation.pseudo]
    assert human == [r for r in before.records if not r.annotation.pseudo]
    assert len(after.duplicates) == len(before.duplicates) + sum(not a.pseudo for _, a in again)


@settings(max_examples=80, deadline=None)
@given(records=ledgers.filter(bool), cut=st.floats(0, 1, exclude_max=True), split=st.data())
def test_torn_append_recovered_and_completed_gives_the_untorn_ledger(
    records: list, cut: float, split: st.DataObject
) -> None:
    """A process killed part-way through an append leaves a prefix of its bytes; after
    ``recover()`` and a second append of the records the ledger does not hold (what the loop
    asks the oracle for again), the ledger is byte for byte the untorn one and the fragment is
    kept in ``ledger.jsonl.partial``."""
    first = split.draw(st.integers(0, len(records) - 1))
    head, tail = records[:first], records[first:]
    data = b"".join(encode_record(c, a) for c, a in tail)
    with tempfile.TemporaryDirectory() as tmp:
        whole = Ledger(Path(tmp) / "whole.jsonl")
        whole.append(records)
        torn = Ledger(Path(tmp) / "ledger.jsonl")
        torn.append(head)
        with open(torn.path, "ab") as fh:
            fh.write(data[: int(cut * len(data))])
        fragment = torn.read().partial
        torn.recover()
        kept = len(torn.read().records) + len(torn.read().duplicates)
        torn.append(records[kept:])
        assert torn.path.read_bytes() == whole.path.read_bytes()
        partial = torn.partial_path.read_bytes() if torn.partial_path.exists() else b""
        assert partial == (fragment + b"\n" if fragment else b"")


@settings(max_examples=60, deadline=None)
@given(records=ledgers, garbage=st.binary(max_size=40).filter(lambda b: b"\n" not in b))
def test_recovering_twice_is_recovering_once(records: list, garbage: bytes) -> None:
    """``recover()`` after ``recover()`` changes nothing and reports 0 bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "ledger.jsonl")
        ledger.append(records)
        with open(ledger.path, "ab") as fh:
            fh.write(garbage)
        assert ledger.recover() == len(garbage)
        once = _files(ledger)
        assert ledger.recover() == 0
        assert _files(ledger) == once


def _files(ledger: Ledger) -> tuple[bytes, bytes | None]:
    """The ledger's bytes and its ``.partial`` file's (``None`` when absent)."""
    partial = ledger.partial_path
    return ledger.path.read_bytes(), partial.read_bytes() if partial.exists() else None


_FINISHED: dict[str, Path] = {}


def _finished_run() -> Path:
    """A finished two-cycle FakeTask run, made once for the module."""
    if "run" not in _FINISHED:
        cfg = small_config(**{"budget.cycles": 2})
        comps = build_components(cfg, MANAGER)
        root = Path(tempfile.mkdtemp(prefix="asl-replay-")) / "run"
        ActiveLearningLoop(create_run(root, cfg, comps), cfg, comps).run()
        _FINISHED["run"] = root
    return _FINISHED["run"]


@pytest.fixture(scope="module", autouse=True)
def _remove_finished_run() -> Any:
    yield
    if "run" in _FINISHED:
        shutil.rmtree(_FINISHED.pop("run").parent, ignore_errors=True)


class _Notes(LoopObserver):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


@settings(max_examples=10, deadline=None)
@given(replay=st.data())
def test_resuming_over_replayed_ledger_lines_changes_nothing(replay: st.DataObject) -> None:
    """A finished run whose ledger got some of its own lines appended again (a replayed import
    or append) resumes to the same results, notes each duplicate and writes no ledger line."""
    source = _finished_run()
    lines = (source / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    again = replay.draw(st.lists(st.sampled_from(lines), min_size=1, max_size=6))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "run"
        shutil.copytree(source, root)
        run, cfg, _ = open_run(root)
        expected = ActiveLearningLoop(run, cfg, build_components(cfg, MANAGER)).run()
        with open(run.ledger_path, "ab") as fh:
            fh.write(b"".join(again))
        replayed = run.ledger_path.read_bytes()
        observer = _Notes()
        results = ActiveLearningLoop(run, cfg, build_components(cfg, MANAGER), observer).run()
        assert run.ledger_path.read_bytes() == replayed
    strip = [
        (r.cycle, r.labelled_frames, r.bought_frames, r.cost, dict(r.metrics)) for r in results
    ]
    assert strip == [
        (r.cycle, r.labelled_frames, r.bought_frames, r.cost, dict(r.metrics)) for r in expected
    ]
    assert sum("appears again" in n for n in observer.notes) == len(again)
