"""Bad-input matrix (issue 10): one row per mistake a user can make, driven through ``asl-run``.

Every row feeds the real command line (:func:`asl_core.cli.main`, in process) one bad input and
asserts the three promises of docs/cli.md "Exit codes":

* a **clear message** on stderr that names the file, video, frame or option at fault;
* a **non-zero exit code** (2: usage, config or input-file error; 1: a damaged run directory, a
  dataset file, a locked run, a plugin that breaks its contract, a disk that refuses writes);
* **nothing changed**: the run directory, when there is one, is byte-for-byte what it was before
  the command (:func:`snapshot` of every file, ``.lock`` included), and commands without one
  write no output file and leave their input files as they were.

Rows for plugins that misbehave in the middle of a run (a scorer that raises or returns NaN, a
selector that picks a labelled frame...) fail twice: the first attempt creates the run and fails,
then ``--resume`` with the same plugin fails again and must leave the directory exactly as the
first attempt left it (the run clock is frozen so that a state rewritten with the same content is
byte-identical: the run records the time of its last state change and of each phase). Rows for
full and read-only disks also check that the labels survive: once the fault is gone,
``--resume`` ends with the ledger of an uninterrupted run.

The datasets are the tiny real-layout ones of ``tests/action_det/real_layouts.py``; the runs use
the numpy ``fake`` task (well under a second each). Related checks, one behaviour each, live
beside the code they test (tests/loop/test_cli_run.py, tests/action_det/test_cli_data.py,
tests/core/test_cli_select.py, tests/loop/test_handoff.py...); this file is the one readable
list of what a user hits.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import tempfile
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asl_core import FrameRef, FrameStats, ScorerBase, Selection, hookimpl
from asl_core import cli as cli_mod
from asl_core import loop as loop_mod
from asl_core.ledger import Ledger
from asl_core.plugins import PluginManager, make_plugin_manager
from asl_core.rundir import RunDir
from tests.conftest import SMALL_TASK

TASK_OPTS = [f"task.{k}={v}" for k, v in SMALL_TASK.items() if k != "type"]
EXIT_USAGE, EXIT_FAILURE, EXIT_AWAITING = 2, 1, 3


# --------------------------------------------------------------------------- helpers


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path → bytes); ``{}`` when ``root`` does not exist.

    Hidden files count too (``.lock``, stray ``.*.tmp`` temporaries), so a command that leaves a
    temporary behind changes the snapshot.
    """
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def changed(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> list[str]:
    """Paths added, removed or modified between two snapshots (sorted, for messages)."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


@dataclass(frozen=True)
class Result:
    """What one ``asl-run`` command did: exit code, stdout and stderr."""

    code: int
    out: str
    err: str


def asl_run(capsys: pytest.CaptureFixture[str], *argv: Any) -> Result:
    """Run ``asl-run argv`` in this process and capture what it printed."""
    capsys.readouterr()  # drop what earlier steps printed
    code = cli_mod.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def assert_refused(result: Result, code: int, *parts: str) -> None:
    """The command exited with ``code`` (non-zero) and stderr holds an ``error:`` line with
    every one of ``parts``."""
    assert code != 0
    assert result.code == code, f"exit {result.code}, expected {code}\n{result.err}{result.out}"
    assert "error:" in result.err, result.err
    for part in parts:
        assert part in result.err, f"{part!r} not in:\n{result.err}"


def run_argv(work_dir: Path, *options: str, cycles: int | None = 2) -> list[str]:
    """``asl-run`` options of a small run on the fake task in ``work_dir`` (``cycles=None``:
    the default number of cycles, so that ``--cycles`` is not overridden)."""
    budget = [] if cycles is None else [f"budget.cycles={cycles}"]
    return ["--work-dir", str(work_dir), "--quiet", "--cfg-options", *TASK_OPTS, *budget, *options]


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run clock that never moves: ``state.json``'s ``updated`` and ``timing.json``'s seconds
    become constants, so rewriting a file with the same content leaves it byte-identical."""
    monkeypatch.setattr(loop_mod, "_now", lambda: "2026-01-01T00:00:00+00:00")
    monkeypatch.setattr(loop_mod, "time", types.SimpleNamespace(perf_counter=lambda: 0.0))


@pytest.fixture
def interrupted_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> Path:
    """A run stopped by Ctrl-C in cycle 1's evaluation: ``--resume`` has cycles left to do."""
    from asl_core import testing

    real = testing.FakeTask.evaluate
    calls = {"n": 0}

    def evaluate(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(testing.FakeTask, "evaluate", evaluate)
        assert asl_run(capsys, *run_argv(tmp_path / "run")).code == 130
    return tmp_path / "run"


@pytest.fixture
def reference_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> bytes:
    """The ledger of the same run as :func:`interrupted_run`, uninterrupted."""
    assert asl_run(capsys, *run_argv(tmp_path / "reference")).code == 0
    return (tmp_path / "reference" / "ledger.jsonl").read_bytes()


# --------------------------------------------------------------------------- 1. dataset files
# asl-run data stats / labels / check on the UCF-101-24, ACT and .avi layouts (exit 1: an
# unreadable or inconsistent dataset file). Nothing is written and the dataset is not touched.


def _ucf_root(tmp_path: Path, **kwargs: Any) -> Path:
    from tests.action_det.real_layouts import make_ucf_root

    return make_ucf_root(tmp_path / "UCF", **kwargs)


def _truncate(path: Path, keep: int) -> Path:
    path.write_bytes(path.read_bytes()[:keep])
    return path


def _act_pickle(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """ACT's ``UCF101v2-GT.pkl`` of the tiny UCF videos with ``edit`` applied to its dict."""
    from tests.action_det.real_layouts import write_ucf_act_pickle

    path = write_ucf_act_pickle(tmp_path / "UCF101v2-GT.pkl")
    gt = pickle.loads(path.read_bytes())
    edit(gt)
    path.write_bytes(pickle.dumps(gt, protocol=2))
    return path


FIRST_VIDEO = "Basketball/v_Basketball_g01_c01"  # 10 frames, one tube over frames 2..9


def _empty_tube(gt: dict[str, Any]) -> None:
    gt["gttubes"][FIRST_VIDEO] = {0: [np.zeros((0, 5), dtype=np.float32)]}


def _tube_past_the_end(gt: dict[str, Any]) -> None:
    (label,) = gt["gttubes"][FIRST_VIDEO]
    tube = gt["gttubes"][FIRST_VIDEO][label][0].copy()
    tube[:, 0] += 50  # frames 52..59 of a 10-frame video
    gt["gttubes"][FIRST_VIDEO][label] = [tube]


def test_truncated_mat_file_is_named(tmp_path, capsys):
    """``data stats`` of a ``trainAnnot.mat`` cut short exits 1 naming the file."""
    mat = _truncate(_ucf_root(tmp_path, frames=False) / "trainAnnot.mat", 300)
    before = snapshot(mat.parent)
    result = asl_run(capsys, "data", "stats", "--dataset", "ucf101_24", "--annotations", mat)
    assert_refused(result, EXIT_FAILURE, f"cannot read {mat}")
    assert snapshot(mat.parent) == before


def test_truncated_asl_pickle_writes_no_labels_file(tmp_path, capsys):
    """``data labels`` of an ASL annotation pickle cut short exits 1 naming the pickle and
    writes no ``--out`` file."""
    pkl = _truncate(_ucf_root(tmp_path, frames=False) / "training_annots.pkl", 100)
    out = tmp_path / "labels.json"
    result = asl_run(
        capsys, "data", "labels", "--dataset", "ucf101_24", "--annotations", pkl, "--out", out
    )
    assert_refused(result, EXIT_FAILURE, f"cannot read pickle {pkl}", "truncated")
    assert not out.exists()


def test_truncated_act_ground_truth_pickle_is_named(tmp_path, capsys):
    """``data stats --dataset act`` of a ground-truth pickle cut short exits 1 naming it."""
    pkl = _truncate(_act_pickle(tmp_path, lambda gt: None), 200)
    result = asl_run(capsys, "data", "stats", "--dataset", "act", "--annotations", pkl)
    assert_refused(result, EXIT_FAILURE, f"cannot read pickle {pkl}", "truncated")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_empty_tube, "a tube must be an (n, 5) array with n >= 1"),
        (_tube_past_the_end, "tube frames 52..59 fall outside the video's frames 1..10"),
    ],
    ids=["empty-tube", "tube-frames-out-of-range"],
)
def test_bad_tube_in_act_ground_truth_names_file_and_video(tmp_path, capsys, edit, message):
    """An empty tube, or one whose frames lie past the video's end, exits 1 naming the file and
    the video, and ``data labels`` writes nothing."""
    pkl = _act_pickle(tmp_path, edit)
    out = tmp_path / "labels.json"
    result = asl_run(
        capsys, "data", "labels", "--dataset", "act", "--annotations", pkl, "--out", out
    )
    assert_refused(result, EXIT_FAILURE, str(pkl), repr(FIRST_VIDEO), message)
    assert not out.exists()


@pytest.mark.parametrize(
    ("tube", "message"),
    [
        ((2, 9, 1, (10, 250, 5, 5)), "a box lies entirely outside the 320x240 frame"),
        ((2, 19, 1, (4, 6, 10, 12)), "tube frames sf=2..ef=19 (1-based) do not fit its 10 frames"),
    ],
    ids=["box-outside-the-image", "tube-frames-out-of-range"],
)
def test_bad_tube_in_ucf_mat_names_file_and_video(tmp_path, capsys, tube, message):
    """A ``.mat`` whose box lies outside the 320x240 UCF frame, or whose tube runs past the
    video, exits 1 naming the file and the video."""
    from tests.action_det.real_layouts import write_ucf_mat

    mat = write_ucf_mat(tmp_path / "trainAnnot.mat", [(FIRST_VIDEO, 10, [tube])])
    result = asl_run(capsys, "data", "stats", "--dataset", "ucf101_24", "--annotations", mat)
    assert_refused(result, EXIT_FAILURE, str(mat), repr(FIRST_VIDEO), message)


def _garbage_avi(root: Path) -> tuple[Path, str]:
    path = root / "UCF101_Videos/Biking/v_Biking_g02_c01.avi"
    path.write_bytes(b"not a video " * 20)
    return path, "cannot read video file"


def _truncated_avi(root: Path) -> tuple[Path, str]:
    path = root / "UCF101_Videos/Biking/v_Biking_g01_c01.avi"
    _truncate(path, len(path.read_bytes()) // 2)
    return path, "cannot read video file"


def _truncated_jpeg(root: Path) -> tuple[Path, str]:
    path = root / "rgb-images/Basketball/v_Basketball_g03_c01/00005.jpg"
    _truncate(path, 40)
    return path, "frame file does not decode"


def _missing_frame(root: Path) -> tuple[Path, str]:
    path = root / "rgb-images/Basketball/v_Basketball_g01_c01/00004.jpg"
    path.unlink()
    return path, "1 of the 10 frames"


@pytest.mark.parametrize(
    ("videos", "damage"),
    [
        (True, _garbage_avi),
        (True, _truncated_avi),
        (False, _truncated_jpeg),
        (False, _missing_frame),
    ],
    ids=["garbage-avi", "truncated-avi", "truncated-jpeg", "missing-frame"],
)
def test_corrupt_videos_and_frame_folders_are_reported_by_path(tmp_path, capsys, videos, damage):
    """``data check`` names every damaged video file or frame, exits 1, and leaves the dataset
    folder exactly as it was."""
    root = _ucf_root(tmp_path, frames=not videos, videos=videos)
    bad, why = damage(root)
    before = snapshot(root)
    result = asl_run(capsys, "data", "check", "--root", root, "--cfg-options", "resolution=[32,32]")
    assert result.code == EXIT_FAILURE, result.out + result.err
    (line,) = [line for line in result.out.splitlines() if f"{bad}:" in line]
    assert why in line, line
    assert "1 problem(s)" in result.out
    assert snapshot(root) == before


# --------------------------------------------------------------------------- 2. select / eval
# asl-run select and eval read user files: every problem is a usage error (exit 2) naming it.


def _labels(tmp_path: Path, videos: Mapping[str, tuple[int, list[int]]]) -> Path:
    from tests.core.test_cli_select import write_labels

    return write_labels(tmp_path / "labels.json", dict(videos))


def _select(capsys, tmp_path: Path, labels: Path, *extra: Any) -> Result:
    out = tmp_path / "selection.json"
    result = asl_run(
        capsys, "select", "--labels", labels, "--scorer", "random", "--out", out, *extra
    )
    if result.code:
        assert not out.exists(), "a refused selection wrote its --out file"
    return result


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"video": "a", "num_frames": 10}]', "expected"),
        ('{"videos": {"a": {"num_frames": 10, "labelled": [', "not valid JSON"),
        ('{"videos": {"a": {"num_frames": 10, "labelled": [12]}}}', "12"),
    ],
    ids=["wrong-schema", "truncated", "labelled-frame-out-of-range"],
)
def test_bad_labels_file_for_select(tmp_path, capsys, content, message):
    """A labels file of the wrong structure, cut short, or marking a frame past the video's end
    exits 2 naming the file."""
    labels = tmp_path / "labels.json"
    labels.write_text(content)
    result = _select(capsys, tmp_path, labels, "--budget", "2")
    assert_refused(result, EXIT_USAGE, str(labels), message)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.array([0.1, np.nan, 0.3, 0.4, 0.5, 0.6]), "NaN at frame 1"),
        (np.zeros(4), "4 values, but"),
    ],
    ids=["nan", "wrong-length"],
)
def test_bad_statistics_file_for_select(tmp_path, capsys, values, message):
    """Per-frame statistics with NaN, or of the wrong length, exit 2 naming the ``.npz`` file
    and the video."""
    labels = _labels(tmp_path, {"walk/w1": (6, [0])})
    stats = tmp_path / "U.npz"
    np.savez(stats, **{"walk/w1": values})
    result = asl_run(
        capsys, "select", "--labels", labels, "--stats", stats, "--budget", "2", "--scorer", "apu"
    )
    assert_refused(result, EXIT_USAGE, str(stats), "walk/w1", message)


def test_truncated_statistics_file_for_select(tmp_path, capsys):
    """An ``.npz`` archive cut short exits 2 naming it."""
    labels = _labels(tmp_path, {"w1": (6, [0])})
    stats = tmp_path / "U.npz"
    np.savez(stats, w1=np.linspace(0.0, 1.0, 6))
    _truncate(stats, 60)
    result = asl_run(
        capsys, "select", "--labels", labels, "--stats", stats, "--budget", "2", "--scorer", "apu"
    )
    assert_refused(result, EXIT_USAGE, str(stats))


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ("0", "the budget must be at least 1 frame"),
        ("-3", "the budget must be at least 1 frame"),
        ("150%", "a percentage must be a number in (0, 100]"),
    ],
    ids=["zero", "negative", "over-100-percent"],
)
def test_bad_select_budget_names_the_option(tmp_path, capsys, budget, message):
    """A budget of 0, a negative one, or more than 100 % of the pool exits 2 naming --budget."""
    labels = _labels(tmp_path, {"w1": (6, [0])})
    result = _select(capsys, tmp_path, labels, "--budget", budget)
    assert_refused(result, EXIT_USAGE, f"--budget {budget!r}", message)


def test_select_budget_larger_than_the_pool_takes_what_is_left(tmp_path, capsys):
    """A frame count above the unlabelled frames is no error (by design, as for a run's last
    cycle): every unlabelled frame is selected and a note says so, exit 0."""
    labels = _labels(tmp_path, {"w1": (6, [0])})
    result = _select(capsys, tmp_path, labels, "--budget", "50")
    assert result.code == 0, result.err
    assert "asks for 50 frames but only 5 are unlabelled; selecting all of them" in result.err
    assert len(json.loads((tmp_path / "selection.json").read_text())) == 5


def test_select_with_everything_labelled_names_the_labels_file(tmp_path, capsys):
    """A labels file whose every frame is labelled leaves nothing to select: exit 2."""
    labels = _labels(tmp_path, {"w1": (3, [0, 1, 2]), "w2": (2, [0, 1])})
    result = _select(capsys, tmp_path, labels, "--budget", "1")
    assert_refused(result, EXIT_USAGE, f"{labels}: every frame of the pool is labelled")


def test_eval_of_a_truncated_ground_truth_pickle_names_it(tmp_path, capsys):
    """``asl-run eval`` with a ground-truth pickle cut short exits 2 naming it."""
    gt = _truncate(_act_pickle(tmp_path, lambda gt: None), 120)
    dets = tmp_path / "frames.pkl"
    dets.write_bytes(pickle.dumps(np.zeros((0, 8), dtype=np.float32)))
    result = asl_run(capsys, "eval", "--gt", gt, "--frame-dets", dets)
    assert_refused(result, EXIT_USAGE, str(gt))


# --------------------------------------------------------------------------- 3. starting a run
# Plugin names, budgets and config files are checked before the run directory exists: exit 2
# and no directory.


@pytest.mark.parametrize(
    ("flag", "name", "listed"),
    [
        ("--task", "fak", "fake"),
        ("--scorer", "randm", "random"),
        ("--selector", "globl", "global"),
        ("--loss", "mgv", "mgw"),
        ("--oracle", "simulatd", "simulated"),
    ],
)
def test_unknown_plugin_lists_the_available_ones(tmp_path, capsys, flag, name, listed):
    """An unknown plugin name exits 2 with a suggestion and the registered names, and creates
    no run directory."""
    result = asl_run(capsys, flag, name, *run_argv(tmp_path / "run"))
    kind = flag.lstrip("-")
    assert_refused(result, EXIT_USAGE, f"unknown {kind} {name!r}", f"did you mean {listed!r}")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "stats", "--dataset", "ucf101", "--annotations", "x.mat"], "unknown dataset"),
        (["eval", "actt", "--gt", "gt.pkl", "--frame-dets", "f.pkl"], "unknown evaluator"),
        (["select", "--budget", "1", "--scorer", "apuu", "--labels"], "unknown scorer"),
    ],
    ids=["data-dataset", "eval-evaluator", "select-scorer"],
)
def test_unknown_plugin_in_other_commands(tmp_path, capsys, argv, message):
    """The other commands refuse an unknown plugin the same way (exit 2), with suggestions."""
    labels = _labels(tmp_path, {"w1": (6, [0])})
    extra = [labels] if argv[0] == "select" else []
    assert_refused(asl_run(capsys, *argv, *extra), EXIT_USAGE, message, "did you mean")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--init-pct", "0"], "init_pct must be a percentage in (0, 100], got 0.0"),
        (["--init-pct", "-5"], "init_pct must be a percentage in (0, 100], got -5.0"),
        (["--step-pct", "0"], "step_pct must be a percentage in (0, 100], got 0.0"),
        (["--step-pct", "150"], "step_pct must be a percentage in (0, 100], got 150.0"),
        (["--cycles", "-1"], "cycles must be >= 0, got -1"),
        (["--total-cost", "-2"], "total_cost"),
    ],
    ids=["init-zero", "init-negative", "step-zero", "step-over-the-pool", "cycles", "cost"],
)
def test_bad_run_budget_names_the_setting(tmp_path, capsys, flags, message):
    """A budget of 0, a negative one, or more than the whole pool exits 2 naming the budget
    setting, and creates no run directory."""
    result = asl_run(capsys, *flags, *run_argv(tmp_path / "run", cycles=None))
    assert_refused(result, EXIT_USAGE, "budget", message)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("scorer = dict(type='random')\nbudgett = dict(cycles=1)\n", ["budgett", "budget"]),
        ("budget = dict(cycels=1)\n", ["cycels", "cycles"]),
        ("loss = dict(type='mgw', sigmaa=2.0)\n", ["loss 'mgw'", "sigmaa", "sigma"]),
        ("budget = dict(cycles=1\n", ["my_config.py"]),
    ],
    ids=["unknown-section", "unknown-budget-key", "unknown-plugin-parameter", "syntax-error"],
)
def test_config_file_with_unknown_keys(tmp_path, capsys, text, parts):
    """A config file with an unknown section, budget key or plugin parameter (or one that does
    not parse) exits 2 naming the key, with a suggestion, and creates no run directory."""
    config = tmp_path / "my_config.py"
    config.write_text(text)
    result = asl_run(capsys, "--config", config, *run_argv(tmp_path / "run"))
    assert_refused(result, EXIT_USAGE, *parts)
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- 4. plugins at fault


class FaultyScorer(ScorerBase):
    """Random scores (like ``random``), or the fault named by :attr:`fault`."""

    fault: str | None = None

    def frame_stats(self, video: Any, outputs: Any, rng: np.random.Generator) -> FrameStats:
        values = rng.random(video.num_frames)
        if self.fault == "raise":
            raise RuntimeError(f"model server unreachable while scoring {video.id}")
        if self.fault == "nan":
            values[1] = np.nan
        if self.fault == "short":
            return FrameStats.of(video.id, video.num_frames - 1, u=values[:-1])
        return FrameStats.of(video.id, video.num_frames, u=values)

    def score(self, stats: FrameStats, labelled: np.ndarray, num_frames: int) -> np.ndarray:
        scores = np.array(stats.values["u"])
        return np.append(scores, 0.0) if self.fault == "long" else scores


class FaultySelector:
    """Takes the first unlabelled frames in pool order, with one mistake (:attr:`fault`)."""

    fault: str = "labelled"

    def select(
        self, stats: Mapping[str, FrameStats], labels: Any, budget: int, scorer: Any, rng: Any
    ) -> Selection:
        free = [
            FrameRef(v, f)
            for v, st in stats.items()
            for f in range(st.num_frames)
            if f not in set(labels.labelled(v).tolist())
        ][:budget]
        first = next(iter(stats))
        if self.fault == "labelled":
            free[0] = FrameRef(first, int(labels.labelled(first)[0]))
        elif self.fault == "out-of-range":
            free[0] = FrameRef(first, stats[first].num_frames + 3)
        return Selection(free, np.ones(len(free)))


class FaultyPlugin:
    """Registers the faulty scorer and selector."""

    @hookimpl
    def register_scorers(self, register: Any) -> None:
        register("faulty", FaultyScorer, summary="test: scorer with a chosen fault")

    @hookimpl
    def register_selectors(self, register: Any) -> None:
        register("faulty", FaultySelector, summary="test: selector with a chosen fault")


class RaisingHookPlugin:
    """A plugin whose registration hook raises (it would have registered scorer ``broken``)."""

    @hookimpl
    def register_scorers(self, register: Any) -> None:
        raise RuntimeError("cannot import the vendor SDK")


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    """``asl-run`` sees the installed plugins plus :class:`FaultyPlugin` and
    :class:`RaisingHookPlugin` (recorded as failed, as a broken installed plugin would be)."""
    manager = make_plugin_manager(environ={}, strict=False)
    assert manager.add_plugin(FaultyPlugin(), "faulty-plugin")
    assert not manager.add_plugin(RaisingHookPlugin(), "vendor-plugin")
    monkeypatch.setattr(cli_mod, "default_plugin_manager", lambda: manager)
    return manager


def test_plugin_whose_hook_raises_is_named_when_its_scorer_is_asked_for(tmp_path, capsys, plugins):
    """A plugin that raises inside its registration hook does not stop the others; asking for
    the scorer it would have registered exits 2 naming that plugin, and no run is created."""
    result = asl_run(capsys, "--scorer", "broken", *run_argv(tmp_path / "run"))
    assert_refused(
        result,
        EXIT_USAGE,
        "unknown scorer 'broken'",
        "plugins that failed to load: vendor-plugin; see 'asl-run plugins'",
    )
    assert not (tmp_path / "run").exists()
    listing = asl_run(capsys, "plugins")
    assert listing.code == 0 and "cannot import the vendor SDK" in listing.out


FAULTS = [
    ("scorer", "raise", ["RuntimeError: model server unreachable while scoring v000", "--resume"]),
    ("scorer", "nan", ["scorer FaultyScorer returned non-finite scores for video 'v000'"]),
    ("scorer", "short", ["scorer 'faulty': expected FrameStats for 'v000' with 13 frames"]),
    ("scorer", "long", ["scorer FaultyScorer returned scores of shape (14,) for video 'v000'"]),
    ("selector", "labelled", ["selector 'faulty': frame", "of 'v000' is already labelled"]),
    ("selector", "out-of-range", ["selector 'faulty': frame 16 of 'v000' is not in the pool"]),
]


@pytest.mark.parametrize(("kind", "fault", "parts"), FAULTS, ids=[f"{k}-{f}" for k, f, _ in FAULTS])
def test_plugin_fault_during_a_run_keeps_the_labels(
    tmp_path, capsys, monkeypatch, plugins, frozen_clock, kind, fault, parts
):
    """A scorer that raises, returns NaN or the wrong shape, or a selector that picks a labelled
    or non-existent frame, fails the run with exit 1 naming the plugin and the video; the labels
    bought so far stay, nothing of the next cycle is written, and ``--resume`` with the same
    plugin fails the same way without changing a byte."""
    cls = FaultyScorer if kind == "scorer" else FaultySelector
    monkeypatch.setattr(cls, "fault", fault)
    run = tmp_path / "run"
    first = asl_run(capsys, f"--{kind}", "faulty", *run_argv(run))
    assert_refused(first, EXIT_FAILURE, *parts)
    assert (run / "ledger.jsonl").is_file()
    assert not (run / "cycles" / "001").exists()
    before = snapshot(run)
    again = asl_run(capsys, "--resume", run)
    assert_refused(again, EXIT_FAILURE, *parts)
    assert changed(before, snapshot(run)) == []


def test_fixed_plugin_resumes_to_the_uninterrupted_labels(tmp_path, capsys, monkeypatch, plugins):
    """Once the raising scorer works again, ``--resume`` ends with exactly the ledger of a run
    that never failed."""
    assert asl_run(capsys, "--scorer", "faulty", *run_argv(tmp_path / "ref")).code == 0
    monkeypatch.setattr(FaultyScorer, "fault", "raise")
    run = tmp_path / "run"
    assert asl_run(capsys, "--scorer", "faulty", *run_argv(run)).code == EXIT_FAILURE
    monkeypatch.setattr(FaultyScorer, "fault", None)
    assert asl_run(capsys, "--resume", run).code == 0
    assert (run / "ledger.jsonl").read_bytes() == (tmp_path / "ref" / "ledger.jsonl").read_bytes()


def test_task_metric_nan_is_a_contract_error(tmp_path, capsys, monkeypatch):
    """A task whose evaluation returns NaN fails with exit 1 naming the task and the metric,
    before writing that cycle's metrics."""
    from asl_core import testing

    real = testing.FakeTask.evaluate
    monkeypatch.setattr(
        testing.FakeTask,
        "evaluate",
        lambda self, *a, **k: {**real(self, *a, **k), "frame_iou": float("nan")},
    )
    run = tmp_path / "run"
    result = asl_run(capsys, *run_argv(run))
    assert_refused(
        result, EXIT_FAILURE, "task 'fake': evaluate() returned a non-finite", "'frame_iou'=nan"
    )
    assert not (run / "cycles" / "000" / "metrics.json").exists()


def test_run_made_by_a_plugin_that_is_no_longer_installed(tmp_path, capsys, monkeypatch, plugins):
    """``--resume`` of a run whose scorer is not installed any more exits 2 naming it and
    leaves the run untouched."""
    run = tmp_path / "run"
    monkeypatch.setattr(FaultyScorer, "fault", "raise")
    assert asl_run(capsys, "--scorer", "faulty", *run_argv(run)).code == EXIT_FAILURE
    monkeypatch.undo()  # the plain installed plugins again: no 'faulty' scorer
    before = snapshot(run)
    result = asl_run(capsys, "--resume", run)
    assert_refused(result, EXIT_USAGE, "unknown scorer 'faulty'", "available:")
    assert snapshot(run) == before


# --------------------------------------------------------------------------- 5. resuming a run


def test_second_process_resuming_the_same_run_is_refused(interrupted_run, capsys):
    """While one process holds the run's lock, a second ``--resume`` exits 1 naming the run and
    the holder's pid, and changes nothing."""
    with RunDir(interrupted_run).locked():
        before = snapshot(interrupted_run)
        result = asl_run(capsys, "--resume", interrupted_run)
        after = snapshot(interrupted_run)
    assert_refused(
        result,
        EXIT_FAILURE,
        f"{interrupted_run}: the run is in use by another process (pid {os.getpid()})",
    )
    assert changed(before, after) == []


def _corrupt_ledger_line(run: Path) -> str:
    lines = (run / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    lines[1] = b'{"cycle": 0, "video": "v001", "frame": \n'
    (run / "ledger.jsonl").write_bytes(b"".join(lines))
    return "ledger.jsonl, line 2: not a valid ledger record"


def _corrupt_state(run: Path) -> str:
    (run / "state.json").write_text('{"status": "runn')
    return "state.json: corrupt run state"


def _unknown_config_key(run: Path) -> str:
    cfg = json.loads((run / "config.json").read_text())
    cfg["budgte"] = {"cycles": 9}
    (run / "config.json").write_text(json.dumps(cfg))
    return "config.json: invalid run config (config: unknown config key 'budgte'"


def _ledger_frame_out_of_range(run: Path) -> str:
    with open(run / "ledger.jsonl", "ab") as fh:
        fh.write(b'{"cycle":0,"video":"v000","frame":999,"oracle":"x","cost":1,"regions":[]}\n')
    return "ledger.jsonl: record for unknown frame 'v000':999"


@pytest.mark.parametrize(
    "damage",
    [_corrupt_ledger_line, _corrupt_state, _unknown_config_key, _ledger_frame_out_of_range],
    ids=["ledger-line", "state", "config-unknown-key", "ledger-frame-out-of-range"],
)
def test_damaged_run_directory_is_refused_and_left_alone(interrupted_run, capsys, damage):
    """A corrupt ledger line, a corrupt state, a stored config with an unknown key, or a ledger
    record for a frame out of range exits 1 naming the file, and the run is left as it was."""
    part = damage(interrupted_run)
    before = snapshot(interrupted_run)
    result = asl_run(capsys, "--resume", interrupted_run)
    assert_refused(result, EXIT_FAILURE, f"{interrupted_run}/{part}")
    assert changed(before, snapshot(interrupted_run)) == []


def _permissions_enforced() -> bool:
    """Whether this process is refused writes into a folder without write permission (not
    for root, whose CAP_DAC_OVERRIDE ignores permissions)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ro"
        folder.mkdir(mode=0o555)
        try:
            (folder / "probe").write_bytes(b"")
        except PermissionError:
            return True
        finally:
            folder.chmod(0o755)
        return False


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """``read_only(root)`` makes ``root`` refuse writes as a read-only mount does (``EROFS``
    from every call that would create, open for writing, rename or delete under it). The tests
    run as root, for whom ``chmod`` forbids nothing, hence the simulation."""

    def make(root: Path) -> None:
        prefix = str(root)

        def inside(path: Any) -> bool:
            return isinstance(path, (str, os.PathLike)) and os.fspath(path).startswith(prefix)

        def refuse(path: Any) -> OSError:
            return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

        real_open = os.open
        writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

        def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if inside(path) and flags & writing:
                raise refuse(path)
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", open_)
        for name in ("mkdir", "rename", "replace", "unlink", "rmdir"):
            real = getattr(os, name)

            def guarded(path: Any, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
                if inside(path):
                    raise refuse(path)
                return _real(path, *args, **kwargs)

            monkeypatch.setattr(os, name, guarded)

    return make


def test_read_only_work_directory_is_reported_and_the_ledger_kept(
    interrupted_run, reference_ledger, capsys, monkeypatch, read_only
):
    """``--resume`` of a run on a read-only disk exits 1 naming the file it could not write and
    changes nothing; once writable again the run ends with the uninterrupted run's ledger."""
    before = snapshot(interrupted_run)
    read_only(interrupted_run)
    result = asl_run(capsys, "--resume", interrupted_run)
    monkeypatch.undo()
    assert_refused(result, EXIT_FAILURE, "Read-only file system", f"{interrupted_run}/")
    assert changed(before, snapshot(interrupted_run)) == []
    assert asl_run(capsys, "--resume", interrupted_run).code == 0
    assert (interrupted_run / "ledger.jsonl").read_bytes() == reference_ledger


@pytest.mark.skipif(
    not _permissions_enforced(), reason="this user may write into read-only folders (root)"
)
def test_read_only_work_directory_by_permissions(interrupted_run, capsys):
    """The same with real permissions (a user who may not write the run folder): exit 1 naming
    a file of the run, nothing changed."""
    paths = [interrupted_run, *interrupted_run.rglob("*")]
    modes = {p: p.stat().st_mode for p in paths}
    before = snapshot(interrupted_run)
    try:
        for p in sorted(paths, reverse=True):
            p.chmod(0o555 if p.is_dir() else 0o444)
        result = asl_run(capsys, "--resume", interrupted_run)
    finally:
        for p in sorted(paths):
            p.chmod(modes[p])
    assert_refused(result, EXIT_FAILURE, "Permission denied", f"{interrupted_run}/")
    assert changed(before, snapshot(interrupted_run)) == []


def _no_space(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_on_resume_changes_nothing(
    interrupted_run, reference_ledger, capsys, monkeypatch
):
    """``--resume`` on a full disk (``fsync`` fails with ENOSPC, as on delayed allocation)
    exits 1 naming the file it could not write, leaves no temporary and changes nothing; with
    space again the run ends with the uninterrupted run's ledger."""
    before = snapshot(interrupted_run)
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", _no_space)
        result = asl_run(capsys, "--resume", interrupted_run)
    assert_refused(
        result,
        EXIT_FAILURE,
        "No space left on device",
        f"{interrupted_run}/state.json",
        f"asl-run --resume {interrupted_run}",
    )
    assert changed(before, snapshot(interrupted_run)) == []
    assert asl_run(capsys, "--resume", interrupted_run).code == 0
    assert (interrupted_run / "ledger.jsonl").read_bytes() == reference_ledger


def test_disk_full_in_the_middle_of_a_ledger_append(
    interrupted_run, reference_ledger, capsys, monkeypatch
):
    """A disk that fills up half-way through a ledger append fails the run with exit 1 naming
    the ledger; every complete line stays as it was and the torn one is not counted: with space
    again ``--resume`` sets it aside and ends with the uninterrupted run's ledger."""
    before = (interrupted_run / "ledger.jsonl").read_bytes()
    real_write = Ledger._write

    def half_then_full(self: Ledger, fd: int, data: bytes) -> None:
        real_write(self, fd, data[: len(data) // 2])
        _no_space()

    with monkeypatch.context() as patch:
        patch.setattr(Ledger, "_write", half_then_full)
        result = asl_run(capsys, "--resume", interrupted_run)
    assert_refused(
        result, EXIT_FAILURE, "No space left on device", f"{interrupted_run}/ledger.jsonl"
    )
    torn = (interrupted_run / "ledger.jsonl").read_bytes()
    assert torn.startswith(before) and len(torn) > len(before) and not torn.endswith(b"\n")
    assert reference_ledger.startswith(torn)  # no byte differs from the uninterrupted ledger
    assert asl_run(capsys, "--resume", interrupted_run).code == 0
    assert (interrupted_run / "ledger.jsonl").read_bytes() == reference_ledger
    assert (interrupted_run / "ledger.jsonl.partial").read_bytes() == torn[
        torn.rfind(b"\n") + 1 :
    ] + b"\n"


# --------------------------------------------------------------------------- 6. annotation imports
# A run with people as the oracle (exchange) pauses with exit 3; asl-run import checks a tool's
# file against it before writing anything: every refusal is exit 2 and leaves the run as it was.


@dataclass(frozen=True)
class Paused:
    """A paused run and the COCO file exported from it."""

    run: Path
    coco: Path


def _pause(capsys, work_dir: Path, cycles: int = 0) -> Path:
    argv = ["--oracle", "exchange", *run_argv(work_dir, cycles=cycles)]
    assert asl_run(capsys, *argv).code == EXIT_AWAITING
    return work_dir


def _annotate_coco(path: Path, bbox: list[float] | None = None) -> dict[str, Any]:
    """Draw one box (COCO ``x y w h``) on every exported image; return the document."""
    doc = json.loads(path.read_text())
    doc["annotations"] = [
        {"id": i + 1, "image_id": im["id"], "category_id": 1, "bbox": bbox or [1, 1, 3, 3]}
        for i, im in enumerate(doc["images"])
    ]
    return doc


@pytest.fixture
def paused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Paused:
    """A run waiting for its 6 initial frames, exported as COCO."""
    run = _pause(capsys, tmp_path / "run")
    coco = tmp_path / "export.json"
    assert asl_run(capsys, "export", "--run", run, "--format", "coco", "--out", coco).code == 0
    return Paused(run, coco)


def _coco_edit(edit: Callable[[dict[str, Any]], None]) -> Callable[[Paused, Path], None]:
    def write(p: Paused, path: Path) -> None:
        doc = _annotate_coco(p.coco)
        edit(doc)
        path.write_text(json.dumps(doc))

    return write


def _image(doc: dict[str, Any], **fields: Any) -> None:
    doc["images"][0].update(fields)


def _unrequested(doc: dict[str, Any]) -> None:
    image = doc["images"][0]
    _image(doc, frame_index=image["frame_index"] + 1, file_name=f"{image['video_id']}/x.jpg")


def _text(content: str) -> Callable[[Paused, Path], None]:
    def write(p: Paused, path: Path) -> None:
        path.write_text(content)

    return write


def _truncated_export(p: Paused, path: Path) -> None:
    path.write_text(json.dumps(_annotate_coco(p.coco))[:300])


CVAT = '<?xml version="1.0" encoding="utf-8"?>\n<annotations>'


def _box(doc: dict[str, Any]) -> None:
    doc["annotations"][0]["bbox"] = [20, 20, 3, 3]  # the frames are 8 x 8


def _category(doc: dict[str, Any]) -> None:
    doc["annotations"][0]["category_id"] = 77


IMPORTS = [
    pytest.param(
        "f.json",
        _text('{"images": "all of them"}'),
        ["'images' and 'annotations' must be lists"],
        id="coco-wrong-schema",
    ),
    pytest.param(
        "f.json", _truncated_export, ["not valid JSON (truncated or corrupt?)"], id="coco-truncated"
    ),
    pytest.param(
        "f.json",
        _text('[{"annotations": []}]'),
        ["task 0: the task has no 'data' object"],
        id="labelstudio-wrong-schema",
    ),
    pytest.param(
        "f.xml",
        _text(CVAT + "<track id='0'/></annotations>"),
        ["no <version>"],
        id="cvat-wrong-schema",
    ),
    pytest.param(
        "f.xml",
        _text(CVAT + "<version>1.1</version><tra"),
        ["not well-formed XML"],
        id="cvat-truncated",
    ),
    pytest.param(
        "f.xml",
        _text('<!DOCTYPE a [<!ENTITY b "c">]><annotations>&b;</annotations>'),
        ["DOCTYPE declarations are not allowed"],
        id="cvat-entities",
    ),
    pytest.param(
        "f.json",
        _coco_edit(_box),
        ["of 'v000': box (20.0, 20.0, 23.0, 23.0) lies outside the 8x8 image"],
        id="box-outside-the-image",
    ),
    pytest.param(
        "f.json",
        _coco_edit(lambda doc: _image(doc, frame_index=999)),
        ["frame 999 of video 'v000' is out of range (0..12)"],
        id="frame-out-of-range",
    ),
    pytest.param(
        "f.json",
        _coco_edit(lambda doc: _image(doc, video_id="v999", file_name="v999/00000.jpg")),
        ["unknown video 'v999'"],
        id="unknown-video",
    ),
    pytest.param(
        "f.json",
        _coco_edit(_unrequested),
        ["was not requested; pass --accept-extra"],
        id="frame-not-requested",
    ),
    pytest.param(
        "f.json",
        _coco_edit(_category),
        ["annotation id 1: category_id 77 is not in 'categories'"],
        id="unknown-category",
    ),
]


@pytest.mark.parametrize(("name", "write", "parts"), IMPORTS)
def test_bad_import_is_refused_and_the_run_is_unchanged(
    tmp_path, capsys, paused, name, write, parts
):
    """A tool file of the wrong structure, cut short, declaring XML entities, with a box outside
    the image, a frame out of range, an unknown video or category, or a frame that was not
    requested exits 2 naming the file, and the run is byte-for-byte as it was."""
    path = tmp_path / name
    write(paused, path)
    before = snapshot(paused.run)
    result = asl_run(capsys, "import", "--run", paused.run, path)
    assert_refused(result, EXIT_USAGE, str(path), *parts)
    assert changed(before, snapshot(paused.run)) == []


def test_refused_import_in_a_later_cycle_writes_no_prefill(tmp_path, capsys):
    """In cycle 1 the import predicts boxes with the selecting model (to match the tool's
    tracks); a refused file must not leave that cache behind (only an export keeps it)."""
    run = _pause(capsys, tmp_path / "run", cycles=1)
    coco = tmp_path / "c0.json"
    assert asl_run(capsys, "export", "--run", run, "--format", "coco", "--out", coco).code == 0
    coco.write_text(json.dumps(_annotate_coco(coco)))
    assert asl_run(capsys, "import", "--run", run, coco).code == 0
    assert asl_run(capsys, "--resume", run).code == EXIT_AWAITING  # now cycle 1 waits
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [], "annotations": [], "categories": "none"}')
    before = snapshot(run)
    result = asl_run(capsys, "import", "--run", run, bad)
    assert_refused(result, EXIT_USAGE, str(bad), "'categories' must be a list")
    assert changed(before, snapshot(run)) == []


def test_export_of_a_run_that_does_not_wait(tmp_path, capsys, interrupted_run):
    """``export`` (and ``import``) of a run that is not paused for people exit 2 naming the run
    and its status, and write nothing."""
    before = snapshot(interrupted_run)
    out = tmp_path / "frames.json"
    result = asl_run(capsys, "export", "--run", interrupted_run, "--format", "coco", "--out", out)
    assert_refused(result, EXIT_USAGE, f"{interrupted_run}: the run is not waiting for annotations")
    assert not out.exists() and changed(before, snapshot(interrupted_run)) == []


@pytest.fixture
def torn_import(paused: Paused, tmp_path: Path, capsys, monkeypatch) -> Path:
    """The annotated COCO file, imported once by an ``asl-run import`` interrupted (Ctrl-C)
    half-way through its ledger append: the ledger ends with a torn line."""
    annotated = tmp_path / "annotated.json"
    annotated.write_text(json.dumps(_annotate_coco(paused.coco)))
    real_write = Ledger._write

    def interrupted(self: Ledger, fd: int, data: bytes) -> None:
        real_write(self, fd, data[: len(data) // 2 + 7])  # 3 of 6 lines and 7 bytes
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(Ledger, "_write", interrupted)
        assert asl_run(capsys, "import", "--run", paused.run, annotated).code == 130
    assert not (paused.run / "ledger.jsonl").read_bytes().endswith(b"\n")
    return annotated


def test_bad_file_after_an_interrupted_import_changes_nothing(
    torn_import, paused, tmp_path, capsys
):
    """After an interrupted import, a bad file is refused (exit 2) without touching the run,
    not even the torn line it left."""
    bad = tmp_path / "bad.json"
    bad.write_text("[")
    before = snapshot(paused.run)
    result = asl_run(capsys, "import", "--run", paused.run, bad, "--format", "coco")
    assert_refused(result, EXIT_USAGE, str(bad))
    assert changed(before, snapshot(paused.run)) == []


def test_import_again_after_an_interrupted_import(torn_import, paused, tmp_path, capsys):
    """Importing the same file again after an interrupted import completes the cycle with a
    warning about the torn line: the ledger equals an uninterrupted import's, with no frame
    twice, and the fragment is kept in ledger.jsonl.partial."""
    reference = _pause(capsys, tmp_path / "reference")
    assert asl_run(capsys, "import", "--run", reference, torn_import).code == 0
    result = asl_run(capsys, "import", "--run", paused.run, torn_import)
    assert result.code == 0, result.err
    assert "was cut off by an interrupted write" in result.out
    assert "cycle 0 is complete" in result.out
    ledger = (paused.run / "ledger.jsonl").read_bytes()
    assert ledger == (reference / "ledger.jsonl").read_bytes()
    assert (paused.run / "ledger.jsonl.partial").is_file()
    assert asl_run(capsys, "--resume", paused.run).code == 0


def test_snapshot_sees_hidden_temporaries(tmp_path):
    """Guard for the helpers: :func:`snapshot` sees hidden files, so a temporary left behind
    by a refused command would show up in :func:`changed`."""
    (tmp_path / "run").mkdir()
    before = snapshot(tmp_path / "run")
    (tmp_path / "run" / ".state.json.abc.tmp").write_bytes(b"")
    assert changed(before, snapshot(tmp_path / "run")) == [".state.json.abc.tmp"]
    shutil.rmtree(tmp_path / "run")
    assert snapshot(tmp_path / "run") == {}
