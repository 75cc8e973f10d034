"""Tests of ``asl-run eval``: box frame-AP / video-AP of detection files, table, JSON, exit codes.

The files are small pickles in the real ACT formats (reference specs §A.1, §A.2); the expected
APs are computed by hand in the comments.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from asl_core.cli import main

pytestmark = pytest.mark.usefixtures("fresh_default_manager")

A = [0.0, 0.0, 9.0, 9.0]
B = [20.0, 0.0, 29.0, 9.0]


def tube(first: int, last: int, box: list[float]) -> np.ndarray:
    """A float32 tube with ``box`` on frames ``first..last``, rows frame x1 y1 x2 y2."""
    return np.array([[f, *box] for f in range(first, last + 1)], dtype=np.float32)


def dump(path: Path, obj: Any, protocol: int = pickle.HIGHEST_PROTOCOL) -> Path:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """An ACT GT pickle (protocol 2) with two splits and frame / video detections of split 1.

    Split 1 = videos run/a (run tube frames 1..2 box A) and walk/b (walk tube frames 1..4 box B).

    Frame detections, class run: TP (0.9), FP (0.8, the same frame again), TP (0.7): 2 GT, so
    act 19/24, voc 5/6. Class walk: boxes A on frames 1..4 of walk/b: all FP, AP 0.

    Video detections: run: the exact tube (TP) -> AP 1; walk: frames 1..2 of the GT tube, tube
    IoU 2/4 (act) or 1/3 (voc): a TP at 0.5 under act only.
    """
    gt = {
        "labels": ["run", "walk"],
        "train_videos": [["run/x"], ["run/a"]],
        "test_videos": [["run/a", "walk/b"], ["run/x", "walk/b"]],
        "nframes": {"run/a": 8, "walk/b": 8, "run/x": 8},
        "resolution": {"run/a": (240, 320), "walk/b": (240, 320), "run/x": (240, 320)},
        "gttubes": {
            "run/a": {0: [tube(1, 2, A)]},
            "walk/b": {1: [tube(1, 4, B)]},
            "run/x": {0: [tube(3, 5, A)]},
        },
    }
    frames = np.array(
        [
            [0, 1, 0, 0.9, *A],
            [0, 1, 0, 0.8, *A],
            [0, 2, 0, 0.7, *A],
            *([1, f, 1, 0.5, *A] for f in range(1, 5)),
        ]
    )
    videos = {
        0: [("run/a", 0.9, tube(1, 2, A))],
        1: [("walk/b", 0.6, np.column_stack([tube(1, 2, B), [0.6, 0.6]]))],
    }
    return {
        "gt": dump(tmp_path / "GT.pkl", gt, protocol=2),
        "frames": dump(tmp_path / "F.pkl", frames),
        "videos": dump(tmp_path / "V.pkl", videos, protocol=2),
    }


def run_eval(files: dict[str, Path], *extra: str) -> int:
    return main(
        [
            "eval",
            "--gt",
            str(files["gt"]),
            "--frame-dets",
            str(files["frames"]),
            "--video-dets",
            str(files["videos"]),
            *extra,
        ]
    )


def test_json_is_exactly_the_documented_structure(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--json`` prints only {"frame_ap": {key: {mAP, per_class}}, "video_ap": {...}}."""
    assert run_eval(files, "--iou", "0.5", "0.2", "--json") == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    run_f = 19 / 24
    assert payload == {
        "frame_ap": {
            "0.5": {"mAP": pytest.approx(run_f / 2), "per_class": {"run": run_f, "walk": 0.0}},
            "0.2": {"mAP": pytest.approx(run_f / 2), "per_class": {"run": run_f, "walk": 0.0}},
        },
        "video_ap": {
            "0.5": {"mAP": 1.0, "per_class": {"run": 1.0, "walk": 1.0}},
            "0.2": {"mAP": 1.0, "per_class": {"run": 1.0, "walk": 1.0}},
        },
    }
    assert list(payload["frame_ap"]) == ["0.5", "0.2"]
    assert captured.err == ""


def test_voc_preset_changes_the_numbers(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--preset voc`` uses all-point AP (5/6 for run) and the exclusive tube IoU (walk 1/3 <
    0.5: AP 0)."""
    assert run_eval(files, "--preset", "voc", "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["frame_ap"]["0.5"]["per_class"]["run"] == pytest.approx(5 / 6)
    assert payload["video_ap"]["0.5"]["per_class"] == {"run": 1.0, "walk": 0.0}


def test_range_token_is_accepted(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--iou 0.5:0.95`` gives the key "0.5:0.95" (walk's tube IoU 0.5 is a TP at 0.5 only:
    video AP 1/10)."""
    assert run_eval(files, "--iou", "0.5:0.95", "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["video_ap"]["0.5:0.95"]["per_class"]["walk"] == pytest.approx(0.1)


def test_table_shows_classes_thresholds_and_means(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The default output is one rich table per family with each class, each threshold and
    the mean."""
    assert run_eval(files, "--iou", "0.2", "0.5") == 0
    out = capsys.readouterr().out
    for text in ("frame-AP", "video-AP", "preset act", "AP@0.2", "AP@0.5", "run", "walk"):
        assert text in out
    assert "mean (mAP)" in out
    assert f"{19 / 48:.4f}" in out  # frame mAP
    assert "0.7917" in out


def test_table_marks_classes_without_gt(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A class with no GT in the evaluated split shows '-' and a caption says why."""
    frames = dump(tmp_path / "F1.pkl", np.array([[0, 1, 0, 0.9, *A]]))
    gt = pickle.loads(files["gt"].read_bytes())
    gt["labels"].append("jump")
    gt3 = dump(tmp_path / "GT3.pkl", gt)
    assert main(["eval", "--gt", str(gt3), "--frame-dets", str(frames)]) == 0
    out = capsys.readouterr().out
    assert "jump" in out and "no ground truth of that class" in out


def test_split_flag_evaluates_another_split(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--split 2`` evaluates test_videos[1]: video_index 0 is run/x there."""
    frames = dump(tmp_path / "F2.pkl", np.array([[0, f, 0, 0.9, *A] for f in (3, 4, 5)]))
    code = main(
        ["eval", "--gt", str(files["gt"]), "--frame-dets", str(frames), "--split", "2", "--json"]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["frame_ap"]["0.5"]["per_class"] == {"run": 1.0, "walk": 0.0}


def test_python3_default_protocol_pickles_work(
    tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A GT written with the highest protocol evaluates the same as the protocol-2 one."""
    gt = dump(tmp_path / "GT5.pkl", pickle.loads(files["gt"].read_bytes()))
    args = ["eval", "--frame-dets", str(files["frames"]), "--json"]
    assert main([*args, "--gt", str(files["gt"])]) == 0
    first = capsys.readouterr().out
    assert main([*args, "--gt", str(gt)]) == 0
    assert capsys.readouterr().out == first


# --------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--iou", "0.5:x"], "not a threshold"),
        (["--iou", "1.5"], "lie in [0, 1]"),
        (["--iou", "0.9:0.5"], "LO <= HI"),
        (["--preset", "vco"], "did you mean 'voc'"),
        (["--evaluator", "acct"], "unknown evaluator 'acct'"),
        (["--split", "3"], "split 3 does not exist"),
        (["--split", "one"], "1-based split number"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_usage_errors_exit_2(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    """Bad thresholds, presets, evaluators, splits and flags exit with status 2 and say why."""
    assert run_eval(files, *extra) == 2
    assert message in capsys.readouterr().err


def test_missing_detections_exit_2(files: dict[str, Path], capsys) -> None:
    """Without --frame-dets and --video-dets there is nothing to evaluate: exit 2."""
    assert main(["eval", "--gt", str(files["gt"])]) == 2
    assert "nothing to evaluate" in capsys.readouterr().err


def test_missing_gt_flag_exits_2(files: dict[str, Path], capsys) -> None:
    """--gt is required (argparse usage error, exit 2)."""
    assert main(["eval", "--frame-dets", str(files["frames"])]) == 2
    assert "--gt" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """``asl-run eval --help`` documents the flags and exits 0."""
    assert main(["eval", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--gt", "--frame-dets", "--video-dets", "--preset", "--iou", "--split", "--json"):
        assert flag in out


class Evil:
    """Pickles to a call of ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


@pytest.mark.parametrize("which", ["gt", "frames", "videos"])
def test_malicious_pickle_is_refused_with_exit_2(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    """A pickle that would call os.system is refused, named in the error, never run: exit 2."""
    marker = tmp_path / "PWNED"
    files = {**files, which: dump(tmp_path / "evil.pkl", Evil(f"touch {marker}"))}
    assert run_eval(files) == 2
    err = capsys.readouterr().err
    assert "refusing to load" in err and "evil.pkl" in err
    assert not marker.exists()


@pytest.mark.parametrize("which", ["gt", "frames", "videos"])
def test_truncated_pickle_exits_2_naming_the_file(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    """A truncated pickle exits with status 2 and the error names the file."""
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(files[which].read_bytes()[:30])
    assert run_eval({**files, which: cut}) == 2
    assert "cut.pkl" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("which", "obj", "message"),
    [
        ("frames", np.zeros((3, 5)), r"(N, 8)"),
        ("frames", {0: []}, "holds a dict"),
        ("videos", [1, 2, 3], "must be a dict"),
        ("videos", {0: [("walk/zz", 1.0, tube(1, 2, A))]}, "not in the evaluated"),
        ("gt", {"labels": ["run"]}, "missing key"),
    ],
)
def test_wrong_format_exits_2_naming_the_file(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    which: str,
    obj: Any,
    message: str,
) -> None:
    """Readable pickles of the wrong structure exit with status 2, naming the file."""
    bad = dump(tmp_path / "wrong.pkl", obj)
    assert run_eval({**files, which: bad}) == 2
    err = capsys.readouterr().err
    assert "wrong.pkl" in err and message in err


def test_missing_file_exits_2(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A detection file that does not exist exits with status 2 naming it."""
    assert run_eval({**files, "videos": tmp_path / "none.pkl"}) == 2
    assert "none.pkl" in capsys.readouterr().err


def test_json_error_leaves_stdout_empty(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --json, an error goes to stderr and stdout stays empty."""
    assert run_eval({**files, "frames": tmp_path / "none.pkl"}, "--json") == 2
    assert capsys.readouterr().out == ""


def test_plugins_lists_the_evaluator(capsys: pytest.CaptureFixture[str]) -> None:
    """``asl-run plugins --kind evaluator`` lists the built-in evaluators, 'act' and 'vos'."""
    assert main(["plugins", "--json", "--kind", "evaluator"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [(p["kind"], p["name"]) for p in payload["plugins"]] == [
        ("evaluator", "act"),
        ("evaluator", "vos"),
    ]
