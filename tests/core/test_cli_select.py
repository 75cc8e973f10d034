"""``asl-run select``: known answers, overrides, outputs, ``/`` in video ids, bad input."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asl_core import MC_PROBS, VideoInfo
from asl_core.cli import main
from asl_core.loop import phase_rng
from asl_core.offline import probs_path, select_from_files
from asl_core.plugins import PluginManager
from asl_core.testing import check_scorer
from tests.core.test_import_cost import run_python

WALK = "walk/walk_0007"

# U of eq. 1 for a 10-frame video with frame 3 labelled; U_hat = U / 2 over this pool
APU_U = [2.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.4, 0.0, 0.0, 0.0]


def write_labels(path: Path, videos: dict[str, tuple[int, list[int]]]) -> Path:
    """Write a labels file ``{"videos": {id: {"num_frames": F, "labelled": [...]}}}``."""
    data = {"videos": {v: {"num_frames": f, "labelled": lab} for v, (f, lab) in videos.items()}}
    path.write_text(json.dumps(data))
    return path


def write_probs(root: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write one ``<id>.npy`` per video under ``root`` ('/' in an id is a sub-folder)."""
    root.mkdir(exist_ok=True)
    for video, arr in arrays.items():
        path = probs_path(root, video)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, arr)
    return root


def random_mc_probs(rng: np.random.Generator, frames: int) -> np.ndarray:
    """``float32[T=3, F, C=3, 4, 4]`` softmax probabilities."""
    logits = rng.normal(0.0, 2.0, size=(3, frames, 3, 4, 4))
    probs = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    return probs.astype(np.float32)


def run_select(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``asl-run select argv``: (exit code, stdout, stderr)."""
    code = main(["select", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def picks(out: str) -> list[tuple[str, int]]:
    """(video, frame) pairs of a selection JSON, in pick order."""
    return [(r["video"], r["frame"]) for r in json.loads(out)]


def gaussian_d(distance: float, sigma: float) -> float:
    """D of eq. 2 at ``distance`` frames from the closest labelled frame."""
    return 1.0 - math.exp(-0.5 * (distance / sigma) ** 2)


@pytest.fixture
def apu_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """One 10-frame video (id with '/') with frame 3 labelled, and its U in an .npz."""
    labels = write_labels(tmp_path / "labels.json", {WALK: (10, [3])})
    stats = tmp_path / "U.npz"
    np.savez(stats, **{WALK: np.array(APU_U)})
    return labels, stats


# --------------------------------------------------------------------------- known answers


def test_equidistant_global_known_order_with_sorted_pool(tmp_path, capsys):
    """equidistant + global on two tiny videos gives the hand-computed picks, ties going to the
    video whose id sorts first (not to the first video of the file)."""
    # "b" (7 frames, frame 0 labelled) is listed first; "a" (5 frames) has no label.
    # a scores (5 - |2i - 4|) / 2 = .5 1.5 2.5 1.5 .5; b scores its distance to frame 0.
    # b6 (6); b3 (3, b is now 0 1 1 0 1 1 0); a2 (2.5, a is now 2 1 0 1 2); a0 (2); a4 (2);
    # then a1, a3 and b1 all score 1 and the tie goes to "a", which sorts first
    labels = write_labels(tmp_path / "labels.json", {"b": (7, [0]), "a": (5, [])})
    code, out, err = run_select(
        capsys, "--labels", labels, "--budget", "6", "--scorer", "equidistant"
    )
    assert code == 0, err
    records = json.loads(out)
    assert [(r["video"], r["frame"], r["score"]) for r in records] == [
        ("b", 6, 6.0),
        ("b", 3, 3.0),
        ("a", 2, 2.5),
        ("a", 0, 2.0),
        ("a", 4, 2.0),
        ("a", 1, 1.0),
    ]
    assert "selected 6 frames in 2 videos" in err and "scorer=equidistant selector=global" in err


def test_apu_known_order_from_given_u(apu_inputs, capsys):
    """apu on given U with one labelled frame picks 0, 6, 9, 1 with the hand-computed scores
    0.5 * U_hat + 0.5 * D (sigma 1.3)."""
    labels, stats = apu_inputs
    code, out, err = run_select(
        capsys, "--stats", stats, "--labels", labels, "--budget", "4", "--scorer", "apu"
    )
    assert code == 0, err
    records = json.loads(out)
    assert picks(out) == [(WALK, 0), (WALK, 6), (WALK, 9), (WALK, 1)]
    # pick 1: frame 0, U_hat 1, 3 frames from label 3; pick 2: frame 6, U_hat .2, distance 3;
    # pick 3: frame 9, U_hat 0, distance 3 (to the pick 6); pick 4: frame 1, U_hat .5, distance 1
    d1, d3 = gaussian_d(1, 1.3), gaussian_d(3, 1.3)
    assert d1 == pytest.approx(0.2561, abs=1e-4) and d3 == pytest.approx(0.9302, abs=1e-4)
    expected = [0.5 + 0.5 * d3, 0.1 + 0.5 * d3, 0.5 * d3, 0.25 + 0.5 * d1]
    assert [r["score"] for r in records] == pytest.approx(expected, abs=1e-12)


def test_cfg_options_override_scorer_parameters(apu_inputs, capsys):
    """scorer.sigma=2.0 and scorer.lam=1.0 change the picks to their hand-computed orders."""
    labels, stats = apu_inputs
    base = ["--stats", stats, "--labels", labels, "--budget", "4", "--scorer", "apu"]
    # sigma 2: D = .12, .39, .68, .86, .96, .99 at distances 1..6, so frame 9 (D .99) now beats
    # frame 6 (.1 + .5 * .68) for the second pick
    code, out, err = run_select(capsys, *base, "--cfg-options", "scorer.sigma=2.0")
    assert code == 0, err
    assert picks(out) == [(WALK, 0), (WALK, 9), (WALK, 6), (WALK, 1)]
    assert json.loads(out)[1]["score"] == pytest.approx(0.5 * gaussian_d(6, 2.0))
    # lam 1: U_hat alone: 0 (1), 1 (.5), 6 (.2), then the lowest of the zeros, frame 2
    code, out, err = run_select(capsys, *base, "--cfg-options", "scorer.lam=1.0")
    assert code == 0, err
    assert picks(out) == [(WALK, 0), (WALK, 1), (WALK, 6), (WALK, 2)]
    assert [r["score"] for r in json.loads(out)] == pytest.approx([1.0, 0.5, 0.2, 0.0])


def test_percent_budget_is_rounded_half_up_over_all_pool_frames(apu_inputs, capsys):
    """--budget 25% of 10 frames (labelled one included) is round_half_up(2.5) = 3 frames."""
    labels, stats = apu_inputs
    code, out, err = run_select(
        capsys, "--stats", stats, "--labels", labels, "--budget", "25%", "--scorer", "apu"
    )
    assert code == 0, err
    assert picks(out) == [(WALK, 0), (WALK, 6), (WALK, 9)]
    assert "--budget 25%: 3 frames" in err


def test_random_scorer_uses_the_documented_generators(tmp_path, capsys):
    """random draws video i's values from phase_rng(seed, 0, "stats", i) in sorted-id order, so
    --seed gives the hand-derived top frames, and another seed other ones."""
    labels = write_labels(tmp_path / "labels.json", {"z": (4, []), "a": (3, [1])})
    for seed in (3, 4):
        values = {
            video: phase_rng(seed, 0, "stats", i).random(n)
            for i, (video, n) in enumerate([("a", 3), ("z", 4)])
        }
        candidates = [
            (-values[v][f], pos, f, v)
            for pos, v in enumerate(["a", "z"])
            for f in range(len(values[v]))
            if (v, f) != ("a", 1)
        ]
        expected = [(v, f) for _, _, f, v in sorted(candidates)[:3]]
        code, out, err = run_select(
            capsys, "--labels", labels, "--budget", "3", "--scorer", "random", "--seed", seed
        )
        assert code == 0, err
        assert picks(out) == expected, seed
        assert f"seed={seed}" in err


# --------------------------------------------------------------------------- outputs


def test_out_writes_the_same_json_that_stdout_gets(apu_inputs, tmp_path, capsys):
    """Without --out the JSON goes to stdout; with --out the same bytes go to the file, stdout
    stays empty and stderr names the file."""
    labels, stats = apu_inputs
    args = ["--stats", stats, "--labels", labels, "--budget", "3", "--scorer", "apu"]
    code, printed, err = run_select(capsys, *args)
    assert code == 0 and printed.startswith("[") and "wrote" not in err
    out = tmp_path / "sel.json"
    code, nothing, err = run_select(capsys, *args, "--out", out)
    assert code == 0 and nothing == ""
    assert out.read_text() == printed
    assert f"wrote {out}" in err
    assert [set(r) for r in json.loads(printed)] == [{"video", "frame", "score"}] * 3
    assert not list(tmp_path.glob(".sel.json.*"))  # no temporary left by the atomic write


def test_budget_above_unlabelled_frames_is_clipped_with_a_note(tmp_path, capsys):
    """A budget larger than the unlabelled frames selects all of them and says so."""
    labels = write_labels(tmp_path / "labels.json", {"v": (4, [0, 2])})
    code, out, err = run_select(capsys, "--labels", labels, "--budget", "10", "--scorer", "random")
    assert code == 0, err
    assert sorted(picks(out)) == [("v", 1), ("v", 3)]
    assert "note: --budget 10 asks for 10 frames but only 2 are unlabelled" in err


def test_stats_for_a_scorer_that_needs_none_are_checked_and_noted(tmp_path, capsys):
    """equidistant ignores --stats with a note, after checking it against the labels file."""
    labels = write_labels(tmp_path / "labels.json", {"v": (5, [])})
    stats = tmp_path / "s.npz"
    np.savez(stats, v=np.zeros(5))
    args = ["--labels", labels, "--budget", "1", "--scorer", "equidistant"]
    code, out, err = run_select(capsys, *args, "--stats", stats)
    assert code == 0 and picks(out) == [("v", 2)]
    assert "checked but not used" in err
    np.savez(stats, v=np.zeros(4))
    code, _, err = run_select(capsys, *args, "--stats", stats)
    assert code == 2 and "4 values, but" in err


# --------------------------------------------------------------------------- --probs


@pytest.mark.parametrize("scorer", ["apu", "gal", "aghdam"])
def test_probs_equal_stats_made_by_the_scorers_own_frame_stats(
    scorer: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], manager: PluginManager
) -> None:
    """--probs (files in sub-folders for ids with '/') gives exactly the selection of --stats
    holding the scorer's own frame_stats values under its frame_stat_key."""
    rng = np.random.default_rng(7)
    lengths = {WALK: 6, "run/x/run_0001": 4, "jump": 5}
    probs = {v: random_mc_probs(rng, n) for v, n in lengths.items()}
    labels = write_labels(
        tmp_path / "labels.json", {WALK: (6, [2]), "run/x/run_0001": (4, []), "jump": (5, [0, 4])}
    )
    root = write_probs(tmp_path / "probs", probs)
    assert (root / "run" / "x" / "run_0001.npy").is_file()
    obj = manager.build("scorer", scorer)
    key = obj.frame_stat_key
    stats = tmp_path / "stats.npz"
    np.savez(
        stats,
        **{
            v: obj.frame_stats(VideoInfo(v, n), {MC_PROBS: probs[v]}, rng).values[key]
            for v, n in lengths.items()
        },
    )
    common = ["--labels", labels, "--budget", "6", "--scorer", scorer]
    code, from_probs, err = run_select(capsys, *common, "--probs", root)
    assert code == 0, err
    code, from_stats, err = run_select(capsys, *common, "--stats", stats)
    assert code == 0, err
    assert from_probs == from_stats
    assert len(json.loads(from_probs)) == 6


def test_select_from_files_api_returns_the_selection(apu_inputs, manager):
    """The function behind the command returns the Selection and what it was made from."""
    labels, stats = apu_inputs
    result = select_from_files(
        labels=labels, stats=stats, budget="2", scorer="apu", manager=manager
    )
    assert [(r.video, r.frame) for r in result.selection.frames] == [(WALK, 0), (WALK, 6)]
    assert (result.source, result.selector, result.seed, result.budget) == ("stats", "global", 0, 2)


# --------------------------------------------------------------------------- frame_stat_key


def test_uncertainty_scorers_declare_the_key_their_frame_stats_fill(manager):
    """apu and gal put U under 'u', aghdam its entropy under 'h'; random and equidistant take
    no plain per-frame array."""
    probs = random_mc_probs(np.random.default_rng(0), 3)
    for name, key in (("apu", "u"), ("gal", "u"), ("aghdam", "h")):
        obj = manager.build("scorer", name)
        assert obj.frame_stat_key == key
        st = obj.frame_stats(VideoInfo("v", 3), {MC_PROBS: probs}, np.random.default_rng(0))
        assert key in st.values
    for name in ("random", "equidistant"):
        assert manager.build("scorer", name).frame_stat_key is None


def test_conformance_kit_rejects_a_frame_stat_key_that_frame_stats_does_not_fill(manager):
    """check_scorer fails a scorer whose frame_stat_key names no array of its frame_stats."""
    apu = manager.get("scorer", "apu").load()
    wrong = type("WrongKeyScorer", (apu,), {"frame_stat_key": "u_hat"})
    with pytest.raises(AssertionError, match="frame_stat_key 'u_hat'"):
        check_scorer(wrong)


def test_select_help_imports_no_torch_and_neither_does_a_selection(tmp_path):
    """`asl-run select --help` and an apu selection from --stats never import torch."""
    labels = write_labels(tmp_path / "labels.json", {WALK: (10, [3])})
    np.savez(tmp_path / "U.npz", **{WALK: np.array(APU_U)})
    run_python(
        f"""
        import contextlib, io, sys
        from asl_core.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            assert main(["select", "--help"]) == 0
        assert "--labels" in out.getvalue()
        assert "torch" not in sys.modules and "mmengine" not in sys.modules
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["select", "--labels", {str(labels)!r}, "--stats",
                         {str(tmp_path / "U.npz")!r}, "--budget", "2", "--scorer", "apu"])
        assert code == 0
        assert "torch" not in sys.modules
        """
    )


# --------------------------------------------------------------------------- bad input


def _npz(values: dict[str, Any]) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        np.savez(tmp / "U.npz", **values)
        return ["--stats", str(tmp / "U.npz")]

    return make


def _file(name: str, content: str | bytes) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        path = tmp / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return ["--stats", str(path)]

    return make


def _labels_text(text: str) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        (tmp / "labels.json").write_text(text)
        return []

    return make


def _labels(videos: dict[str, Any]) -> Callable[[Path], list[str]]:
    return _labels_text(json.dumps({"videos": videos}))


def _single_npy(tmp: Path) -> list[str]:
    np.save(tmp / "U.npy", np.zeros(10))
    return ["--stats", str(tmp / "U.npy")]


GOOD_U = {WALK: np.array(APU_U)}

# (id, setup writing files and returning extra args, extra args, expected message parts)
BAD_INPUT: list[tuple[str, Callable[[Path], list[str]], list[str], list[str]]] = [
    (
        "stats-nan",
        _npz({WALK: np.array([0, 1, np.nan, 0, 0, 0, 0, 0, 0, np.nan])}),
        [],
        ["U.npz: video 'walk/walk_0007': NaN at frame 2"],
    ),
    (
        "stats-inf",
        _npz({WALK: np.array([0, 1, 0, 0, -np.inf, 0, 0, 0, 0, 0])}),
        [],
        ["U.npz: video 'walk/walk_0007': infinite value at frame 4"],
    ),
    (
        "stats-length",
        _npz({WALK: np.zeros(9)}),
        [],
        ["U.npz: video 'walk/walk_0007': 9 values, but", "labels.json gives num_frames=10"],
    ),
    ("stats-2d", _npz({WALK: np.zeros((10, 2))}), [], ["expected a 1-D array", "(10, 2)"]),
    ("stats-bool", _npz({WALK: np.zeros(10, bool)}), [], ["must be real numbers, got dtype bool"]),
    (
        "stats-extra-video",
        _npz({**GOOD_U, "other/v": np.zeros(3)}),
        [],
        ["U.npz: videos differ from the labels file: 1 video not in", "('other/v')"],
    ),
    (
        "labels-extra-video",
        lambda tmp: (
            _labels({WALK: {"num_frames": 10, "labelled": [3]}, "b": {"num_frames": 2}})(tmp)
            + _npz(GOOD_U)(tmp)
        ),
        [],
        ["U.npz: videos differ from the labels file: no array for 1 video of it ('b')"],
    ),
    ("stats-missing", lambda tmp: ["--stats", str(tmp / "nope.npz")], [], ["no such statistics"]),
    ("stats-not-npz", _file("U.npz", "hello"), [], ["U.npz: not an .npz archive"]),
    ("stats-broken-zip", _file("U.npz", b"PK\x03\x04junk"), [], ["not a readable .npz archive"]),
    ("stats-single-array", _single_npy, [], ["U.npy: holds a single array"]),
    (
        "stats-out-of-range-for-aghdam",
        _npz({WALK: np.full(10, 1.5)}),
        ["--scorer", "aghdam"],
        ["U.npz: scorer 'aghdam' cannot use these values", "[0, 1]"],
    ),
    (
        "labels-missing",
        lambda tmp: [*_npz(GOOD_U)(tmp), "--labels", str(tmp / "none.json")],
        [],
        ["none.json: no such labels file"],
    ),
    (
        "labels-malformed",
        _labels_text('{"videos": {"a": {"num_frames": 3,}}}'),
        [],
        ["labels.json: not valid JSON"],
    ),
    (
        "labels-duplicate-video",
        _labels_text('{"videos": {"a": {"num_frames": 3}, "a": {"num_frames": 4}}}'),
        [],
        ["labels.json: key 'a' appears twice"],
    ),
    (
        "labels-not-an-object",
        _labels_text("[1, 2]"),
        [],
        ['labels.json: expected {"videos": {"<video id>": {"num_frames": N, "labelled": [frame'],
    ),
    (
        "labels-typo",
        _labels({WALK: {"num_frames": 10, "labeled": [3]}}),
        [],
        ["unknown key 'labeled' (did you mean 'labelled'?)"],
    ),
    (
        "labels-zero-frames",
        _labels({WALK: {"num_frames": 0}}),
        [],
        ["video 'walk/walk_0007': num_frames must be an integer >= 1, got 0"],
    ),
    (
        "labelled-out-of-range",
        _labels({WALK: {"num_frames": 10, "labelled": [3, 10]}}),
        [],
        ["labels.json: video 'walk/walk_0007': labelled frame 10 is out of range", "0..9"],
    ),
    (
        "labelled-negative",
        _labels({WALK: {"num_frames": 10, "labelled": [-1]}}),
        [],
        ["labelled frame -1 is out of range"],
    ),
    (
        "labelled-not-integer",
        _labels({WALK: {"num_frames": 10, "labelled": [2.5]}}),
        [],
        ["labelled frames must be integers", "2.5"],
    ),
    (
        "all-labelled",
        lambda tmp: (
            _labels({WALK: {"num_frames": 10, "labelled": list(range(10))}})(tmp)
            + _npz(GOOD_U)(tmp)
        ),
        [],
        ["every frame of the pool is labelled"],
    ),
    ("budget-zero", _npz(GOOD_U), ["--budget", "0"], ["--budget '0': the budget must be at least"]),
    ("budget-zero-pct", _npz(GOOD_U), ["--budget", "0%"], ["a percentage must be a number in"]),
    ("budget-negative", _npz(GOOD_U), ["--budget", "-3"], ["must be at least 1 frame"]),
    ("budget-over-100-pct", _npz(GOOD_U), ["--budget", "150%"], ["in (0, 100]"]),
    ("budget-fraction", _npz(GOOD_U), ["--budget", "2.5"], ["expected a whole number of frames"]),
    ("budget-word", _npz(GOOD_U), ["--budget", "lots"], ["expected a whole number of frames"]),
    (
        "unknown-scorer",
        _npz(GOOD_U),
        ["--scorer", "apuu"],
        ["unknown scorer 'apuu' (did you mean 'apu'?)"],
    ),
    ("unknown-selector", _npz(GOOD_U), ["--selector", "globl"], ["unknown selector 'globl'"]),
    (
        "misspelled-parameter",
        _npz(GOOD_U),
        ["--cfg-options", "scorer.sigmaa=2"],
        ["unknown parameter 'sigmaa' (did you mean 'sigma'?)"],
    ),
    (
        "bad-parameter-value",
        _npz(GOOD_U),
        ["--cfg-options", "scorer.sigma=0"],
        ["sigma must be finite and > 0"],
    ),
    (
        "unused-section",
        _npz(GOOD_U),
        ["--cfg-options", "task.num_videos=3"],
        ["'task.num_videos': asl-run select uses only the scorer.*, selector.* and seed keys"],
    ),
    (
        "no-statistics-for-apu",
        lambda tmp: [],
        [],
        ["scorer 'apu' needs per-frame statistics: give --stats FILE.npz", "--probs DIR"],
    ),
    (
        "out-folder-missing",
        _npz(GOOD_U),
        ["--out", "/nonexistent-asl-dir/sel.json"],
        ["/nonexistent-asl-dir/sel.json: folder /nonexistent-asl-dir does not exist"],
    ),
]


@pytest.mark.parametrize(
    ("setup", "extra", "expected"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input_is_a_one_line_usage_error(
    setup: Callable[[Path], list[str]],
    extra: list[str],
    expected: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each bad input exits 2 with one error line naming the file and the problem, and prints
    no selection."""
    write_labels(tmp_path / "labels.json", {WALK: (10, [3])})
    argv = ["--labels", str(tmp_path / "labels.json"), "--budget", "2", "--scorer", "apu"]
    argv += setup(tmp_path) + extra  # later flags win
    code, out, err = run_select(capsys, *argv)
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for part in expected:
        assert part in err, (part, err)


def _probs_case(tmp: Path, arrays: dict[str, np.ndarray]) -> list[str]:
    write_probs(tmp / "probs", arrays)
    return ["--probs", str(tmp / "probs")]


def _probs_with_nan(tmp: Path) -> list[str]:
    probs = random_mc_probs(np.random.default_rng(1), 10)
    probs[1, 6, 0, 2, 2] = np.nan
    return _probs_case(tmp, {WALK: probs})


def _probs_extra_file(tmp: Path) -> list[str]:
    rng = np.random.default_rng(1)
    return _probs_case(tmp, {WALK: random_mc_probs(rng, 10), "stray": random_mc_probs(rng, 2)})


BAD_PROBS: list[tuple[str, Callable[[Path], list[str]], list[str]]] = [
    (
        "nan",
        _probs_with_nan,
        ["probs/walk/walk_0007.npy: video 'walk/walk_0007'", "NaN or infinite", "frame 6"],
    ),
    (
        "frame-count",
        lambda tmp: _probs_case(tmp, {WALK: random_mc_probs(np.random.default_rng(1), 9)}),
        ["walk_0007.npy: 9 frames", "num_frames=10"],
    ),
    (
        "not-5d",
        lambda tmp: _probs_case(tmp, {WALK: np.zeros((10, 3), np.float32)}),
        ["walk_0007.npy: expected mc_probs float[T, F, C, H, W]", "(10, 3)"],
    ),
    (
        "missing-file",
        lambda tmp: _probs_case(tmp, {}),
        ["probs: videos differ from the labels file: no .npy file for 1 video of it"],
    ),
    ("extra-file", _probs_extra_file, ["1 video not in", "('stray')"]),
    ("no-folder", lambda tmp: ["--probs", str(tmp / "none")], ["none: no such folder"]),
]


@pytest.mark.parametrize(
    ("setup", "expected"), [c[1:] for c in BAD_PROBS], ids=[c[0] for c in BAD_PROBS]
)
def test_bad_probs_input_is_a_usage_error(
    setup: Callable[[Path], list[str]],
    expected: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Bad --probs folders and arrays exit 2 naming the file (and video and frame for NaN)."""
    write_labels(tmp_path / "labels.json", {WALK: (10, [3])})
    argv = ["--labels", tmp_path / "labels.json", "--budget", "2", "--scorer", "apu"]
    code, out, err = run_select(capsys, *argv, *setup(tmp_path))
    assert code == 2 and out == "", err
    for part in expected:
        assert part in err, (part, err)


def test_probs_rejects_ids_that_would_leave_the_folder(tmp_path, capsys):
    """A video id with a '..' segment cannot be read from --probs (it would escape DIR)."""
    labels = write_labels(tmp_path / "labels.json", {"../escape": (3, [])})
    (tmp_path / "probs").mkdir()
    code, _, err = run_select(
        capsys,
        "--labels",
        labels,
        "--probs",
        tmp_path / "probs",
        "--budget",
        "1",
        "--scorer",
        "apu",
    )
    assert code == 2 and "video id '../escape' cannot name a file under --probs" in err


def test_stats_and_probs_together_are_refused(apu_inputs, tmp_path, capsys):
    """--stats and --probs are mutually exclusive (argparse usage error, exit 2)."""
    labels, stats = apu_inputs
    code, _, err = run_select(
        capsys,
        *("--labels", labels, "--stats", stats, "--probs", tmp_path),
        *("--budget", "1", "--scorer", "apu"),
    )
    assert code == 2 and "not allowed with argument" in err


def test_bracketed_video_ids_are_text_not_markup(tmp_path, capsys):
    """Ids such as 'cam[1]/clip' reach the JSON and the notes unchanged (rich markup is not
    applied to them)."""
    labels = write_labels(tmp_path / "labels.json", {"cam[1]/clip": (3, [])})
    code, out, err = run_select(
        capsys, "--labels", labels, "--budget", "9", "--scorer", "equidistant"
    )
    assert code == 0, err
    assert picks(out) == [("cam[1]/clip", 1), ("cam[1]/clip", 0), ("cam[1]/clip", 2)]
    assert "only 3 are unlabelled" in err
