"""Grids of runs for comparisons (asl_core.grid, asl-run compare)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asl_core import AslUsageError, ConfigError
from asl_core.cli import main
from asl_core.grid import PRESETS, run_grid, summarize
from asl_core.ledger import Ledger
from tests.conftest import small_config

METHODS = ["random", "equidistant"]


def _grid(tmp_path: Path, manager, methods=METHODS, seeds=(0, 1)):
    base = small_config(**{"budget.cycles": 2})
    return run_grid(tmp_path / "cmp", base, methods, list(seeds), manager)


def test_every_method_starts_from_the_same_initial_labels(tmp_path, manager):
    """Within a seed the cycle-0 purchases and metrics are identical across methods; across
    seeds they differ."""
    results = _grid(tmp_path, manager)
    runs = tmp_path / "cmp" / "runs"

    def initial(method: str, seed: int):
        records = Ledger(runs / f"{method}-seed{seed}" / "ledger.jsonl").read().records
        return sorted((r.annotation.video, r.annotation.frame) for r in records if r.cycle == 0)

    assert initial("random", 0) == initial("equidistant", 0)
    assert initial("random", 0) != initial("random", 1)
    assert results["random"][0][0].metrics == results["equidistant"][0][0].metrics


def test_a_partial_grid_resumes_to_the_same_results(tmp_path, manager):
    """Interrupt one cell after its last training (no metrics, no summary): running the grid
    again finishes it with the same results and reuses the finished cells."""
    first = _grid(tmp_path, manager)
    cell = tmp_path / "cmp" / "runs" / "equidistant-seed1"
    (cell / "summary.json").unlink()
    (cell / "cycles" / "002" / "metrics.json").unlink()
    state = json.loads((cell / "state.json").read_text())
    state.update(status="interrupted", phase="evaluate", cycle=2)
    (cell / "state.json").write_text(json.dumps(state))
    untouched = (tmp_path / "cmp" / "runs" / "random-seed0" / "summary.json").stat().st_mtime_ns
    again = _grid(tmp_path, manager)
    assert _without_times(again) == _without_times(first)
    assert (cell / "summary.json").is_file()
    assert (
        tmp_path / "cmp" / "runs" / "random-seed0" / "summary.json"
    ).stat().st_mtime_ns == untouched


def _without_times(results):
    return {
        m: {
            s: [(r.cycle, r.labelled_frames, r.cost, dict(r.metrics)) for r in rs]
            for s, rs in d.items()
        }
        for m, d in results.items()
    }


def test_a_folder_of_another_grid_is_refused(tmp_path, manager):
    """Different seeds into the same folder: refused before anything runs."""
    _grid(tmp_path, manager, seeds=(0,))
    with pytest.raises(ConfigError, match="different grid"):
        _grid(tmp_path, manager, seeds=(0, 1))


def test_bad_grids_fail_before_anything_runs(tmp_path, manager):
    """Repeated seeds or methods, and unknown scorers, are errors; no folder is written."""
    with pytest.raises(ConfigError, match="repeated seed 0"):
        _grid(tmp_path, manager, seeds=(0, 0))
    with pytest.raises(ConfigError, match="repeated method random"):
        _grid(tmp_path, manager, methods=["random", "random"])
    with pytest.raises(AslUsageError, match="unknown scorer 'nosuch'"):
        _grid(tmp_path, manager, methods=["random", "nosuch"])
    assert not (tmp_path / "cmp").exists()


def test_summary_files_hold_mean_std_and_aubc(tmp_path, manager):
    """summarize writes md/csv/json whose numbers are those of the per-seed runs."""
    results = _grid(tmp_path, manager)
    doc = summarize(results, ["frame_iou"], tmp_path / "cmp")
    comp = tmp_path / "cmp" / "compare"
    assert {"summary.md", "summary.csv", "summary.json"} <= {p.name for p in comp.iterdir()}
    per_seed = [results["random"][s][1].metrics["frame_iou"] for s in (0, 1)]
    point = doc["metrics"]["frame_iou"]["random"]["points"][1]
    assert point["mean"] == pytest.approx(sum(per_seed) / 2) and point["n"] == 2
    assert len(doc["metrics"]["frame_iou"]["random"]["aubc"]) == 2
    assert "| random |" in (comp / "summary.md").read_text()
    assert (
        (comp / "summary.csv").read_text().startswith("metric,method,cycle,labelled_pct,mean,std,n")
    )


def test_cli_compare_runs_and_refuses_bad_input(tmp_path, capsys):
    """The command prints the table and writes the files; repeated seeds exit with 2."""
    out = tmp_path / "c"
    argv = ["compare", "--task", "fake", "--methods", "random", "apu", "--seeds", "0", "1"]
    argv += ["--cycles", "1", "--quiet", "--out", str(out), "--reference"]
    argv += ["--cfg-options", "task.num_videos=6", "task.train_steps=10"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "frame_iou: mean ± std over seeds" in text and "apu" in text
    assert "reference, all frames labelled: " in text
    assert (out / "compare" / "summary.md").is_file()
    assert (
        main(["compare", "--task", "fake", "--seeds", "3", "3", "--out", str(tmp_path / "d")]) == 2
    )
    assert "repeated seed 3" in capsys.readouterr().err


def test_summary_writes_readable_plots(tmp_path, manager):
    """Learning-curve PNGs per metric against % labelled and against cost, and the
    frames-per-video histogram, all real images."""
    from PIL import Image

    results = _grid(tmp_path, manager)
    summarize(results, ["frame_iou", "presence_acc"], tmp_path / "cmp")
    comp = tmp_path / "cmp" / "compare"
    names = ["frames_per_video.png"]
    names += [f"curve_{m}{s}.png" for m in ("frame_iou", "presence_acc") for s in ("", "_cost")]
    for name in names:
        with Image.open(comp / name) as img:
            assert img.format == "PNG" and img.size[0] > 300 and img.size[1] > 200


def test_frames_per_video_counts_the_selection_cycles(tmp_path, manager):
    """The histogram's counts add up to the frames bought after cycle 0, one count per video."""
    from asl_core.grid import _frames_per_video

    results = _grid(tmp_path, manager, seeds=(0,))
    counts = _frames_per_video(results, tmp_path / "cmp")
    for method in METHODS:
        bought = sum(r.bought_frames for r in results[method][0][1:])
        assert sum(counts[method]) == bought
        assert len(counts[method]) == 6  # SMALL_TASK has 6 pool videos


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_ablation_preset_builds(preset, manager):
    """Each preset's methods give valid configs and plugins, differing as the preset says."""
    from asl_core.grid import grid_configs
    from asl_core.loop import build_components

    configs = grid_configs(small_config(), PRESETS[preset], [0])
    assert len(configs) == len(PRESETS[preset]) >= 2
    for cfg in configs.values():
        build_components(cfg, manager)
    assert len({json.dumps(c, sort_keys=True) for c in configs.values()}) == len(configs)


def test_step_preset_runs_and_marks_unaligned_budget_points(tmp_path, capsys):
    """The step preset's methods follow different schedules: the table says which % each cell
    is at instead of pretending the columns line up."""
    out = tmp_path / "step"
    argv = ["compare", "--task", "fake", "--preset", "step", "--seeds", "0", "--quiet"]
    argv += ["--out", str(out), "--cfg-options", "task.num_videos=6", "task.train_steps=5"]
    assert main(argv) == 0
    doc = json.loads((out / "compare" / "summary.json").read_text())
    aubc = doc["metrics"]["frame_iou"]["apu, step 5 %"]["aubc"][0]
    # the shorter method's terminal row still ends in the AUBC column
    text = capsys.readouterr().out
    (row,) = [ln for ln in text.splitlines() if ln.strip().startswith("apu, step 5 %  ")]
    assert row.rstrip().endswith(f"{aubc:.3f}")
    assert "cycle 1" in text  # an unaligned column is not headed by a made-up mean %
    md = (out / "compare" / "summary.md").read_text()
    assert "| cycle 1 |" in md and "(1) @ 9.9 %" in md  # 5 % + one 5 % step, at cycle 1
    assert "**" not in md.split("| apu, step 5 % |")[1].split("|")[2]  # no best mark when unaligned
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == ["apu_step_1-seed0", "apu_step_5-seed0"]


def test_cost_axis_uses_the_cumulative_annotation_cost(tmp_path, manager):
    """With x_axis="cost" each point's x is the cost spent up to that cycle (mean over seeds)."""
    results = _grid(tmp_path, manager)
    doc = summarize(results, ["frame_iou"], tmp_path / "cmp", x_axis="cost")
    for method in METHODS:
        spent = [
            sum(r.cost for r in results[method][seed][: i + 1]) for seed in (0, 1) for i in range(3)
        ]
        expected = [(spent[i] + spent[3 + i]) / 2 for i in range(3)]
        xs = [p["x"] for p in doc["metrics"]["frame_iou"][method]["points"]]
        assert xs == pytest.approx(expected)
    md = (tmp_path / "cmp" / "compare" / "summary.md").read_text()
    assert "metric-vs-cost curve" in md
    with pytest.raises(ConfigError, match="x axis"):
        summarize(results, ["frame_iou"], tmp_path / "cmp", x_axis="frames")


def test_selection_timeline_shows_the_videos_with_most_picks(tmp_path, manager):
    """With the task given, summarize draws the timeline from the task's ground truth."""
    from PIL import Image

    from asl_core.grid import _timeline_data
    from asl_core.loop import build_components

    results = _grid(tmp_path, manager)
    task = build_components(small_config(), manager).task
    summarize(results, ["frame_iou"], tmp_path / "cmp", task=task, timeline_videos=2)
    with Image.open(tmp_path / "cmp" / "compare" / "selection_timeline.png") as img:
        assert img.format == "PNG"
    selected, extents = _timeline_data(results, tmp_path / "cmp", task, 2)
    assert set(selected) == set(METHODS) and len(extents) == 2
    lengths = {v.id: v.num_frames for v in task.pool()}
    assert all(len(e) == lengths[v] for v, e in extents.items())


def test_parallel_jobs_give_the_same_results(tmp_path, manager):
    """Two worker processes produce exactly the sequential grid's labels and metrics."""
    base = small_config(**{"budget.cycles": 1})
    serial = run_grid(tmp_path / "a", base, METHODS, [0, 1], manager)
    parallel = run_grid(tmp_path / "b", base, METHODS, [0, 1], manager, jobs=2)
    assert _without_times(parallel) == _without_times(serial)
    with pytest.raises(ConfigError, match="--jobs"):
        run_grid(tmp_path / "c", base, METHODS, [0], manager, jobs=0)


def test_cli_preset_choices_are_the_presets():
    """The CLI lists its preset names without importing the grid; they must not drift apart."""
    from asl_core.cli import _compare_parser

    (action,) = [a for a in _compare_parser()._actions if a.dest == "preset"]
    assert sorted(action.choices) == sorted(PRESETS)


def test_a_grid_stored_before_the_cost_budget_keys_resumes(tmp_path, manager):
    """Folders written when the budget had no step_cost/total_cost keys mean the same budget:
    the grid resumes instead of refusing them as another grid."""
    first = _grid(tmp_path, manager, seeds=(0,))
    cmp = tmp_path / "cmp"
    paths = [cmp / "grid.json", *(cmp / "runs").glob("*/config.json")]
    for path in paths:
        data = json.loads(path.read_text())
        budget = (data["base"] if path.name == "grid.json" else data)["budget"]
        del budget["step_cost"], budget["total_cost"]
        path.write_text(json.dumps(data))
    assert _without_times(_grid(tmp_path, manager, seeds=(0,))) == _without_times(first)


def test_cli_compare_budgets_in_cost(tmp_path, capsys):
    """--step-cost gives every cell the same cost schedule; the cost axis tabulates it."""
    out = tmp_path / "c"
    argv = ["compare", "--task", "fake", "--methods", "random", "equidistant", "--seeds", "0"]
    argv += ["--cycles", "2", "--step-cost", "10", "--x-axis", "cost", "--quiet"]
    argv += ["--out", str(out), "--cfg-options", "task.num_videos=6", "task.train_steps=10"]
    assert main(argv) == 0
    for method in ("random", "equidistant"):
        cfg = json.loads((out / "runs" / f"{method}-seed0" / "config.json").read_text())
        assert cfg["budget"]["step_cost"] == 10.0
    assert "cost" in capsys.readouterr().out


def test_seeds_with_different_cycle_counts_are_cut_to_the_shortest_with_a_note(tmp_path, manager):
    """A cost budget can end one seed a cycle later: the means use the common cycles and the
    summary says so, keeping every run in full in summary.json."""
    results = _grid(tmp_path, manager)
    results["random"][1] = results["random"][1][:-1]  # seed 1 stopped one cycle earlier
    doc = summarize(results, ["frame_iou"], tmp_path / "cmp")
    assert len(doc["metrics"]["frame_iou"]["random"]["points"]) == 2
    assert len(doc["metrics"]["frame_iou"]["equidistant"]["points"]) == 3
    assert len(doc["runs"]["random"]["0"]) == 3
    (note,) = doc["notes"]
    assert "seed 0: 2, seed 1: 1" in note and "first 1 of each" in note
    assert f"Note: {note}" in (tmp_path / "cmp" / "compare" / "summary.md").read_text()


def test_reuse_copies_identical_finished_cells_and_runs_the_rest(tmp_path, manager):
    """A cell whose config equals a finished run of another grid is copied (with a note of
    its source) and gives that run's results; the other cells run."""
    base = small_config(**{"budget.cycles": 1})
    first = run_grid(tmp_path / "a", base, ["random", "equidistant"], [0], manager)
    (tmp_path / "a" / "runs" / "equidistant-seed0" / "summary.json").unlink()  # unfinished
    messages: list[str] = []
    second = run_grid(
        tmp_path / "b",
        base,
        ["random", "equidistant", "apu"],
        [0],
        manager,
        announce=messages.append,
        reuse=[tmp_path / "a"],
    )
    copied = tmp_path / "b" / "runs" / "random-seed0"
    assert (copied / "reused_from.txt").read_text().strip() == str(
        (tmp_path / "a" / "runs" / "random-seed0").resolve()
    )
    assert _without_times({"random": second["random"]}) == _without_times(
        {"random": first["random"]}
    )
    assert not (tmp_path / "b" / "runs" / "equidistant-seed0" / "reused_from.txt").exists()
    assert sum("copied from" in m for m in messages) == 1
    with pytest.raises(ConfigError, match="--reuse folder not found"):
        run_grid(tmp_path / "c", base, ["apu"], [0], manager, reuse=[tmp_path / "nope"])
    assert not (tmp_path / "c").exists()  # refused before anything was written


def test_reference_runs_every_frame_labelled_once_per_seed(tmp_path, manager):
    """--reference adds one full-supervision cell per seed, reported beside the table (not as
    a method row) and drawn in the curves; adding it to an existing grid is allowed."""
    from asl_core.grid import REFERENCE

    base = small_config(**{"budget.cycles": 1})
    run_grid(tmp_path / "cmp", base, METHODS, [0, 1], manager)
    results = run_grid(tmp_path / "cmp", base, METHODS, [0, 1], manager, reference=True)
    for seed in (0, 1):
        (only,) = results[REFERENCE][seed]
        assert only.labelled_frames == only.total_frames and only.cycle == 0
    doc = summarize(results, ["frame_iou"], tmp_path / "cmp")
    values = [results[REFERENCE][s][0].metrics["frame_iou"] for s in (0, 1)]
    ref = doc["reference"]["frame_iou"]
    assert ref["mean"] == pytest.approx(sum(values) / 2) and ref["n"] == 2
    assert REFERENCE not in doc["metrics"]["frame_iou"] and doc["methods"] == METHODS
    md = (tmp_path / "cmp" / "compare" / "summary.md").read_text()
    assert f"Reference, {REFERENCE}" in md and f"| {REFERENCE} |" not in md
    with pytest.raises(ConfigError, match="reserved"):
        run_grid(tmp_path / "x", base, {REFERENCE: {}}, [0], manager)


def test_purchase_table_counts_what_the_ledgers_hold(tmp_path, manager):
    """The purchases table's frames, cost and actor shares are those of the ledgers (cycles
    after 0), averaged over seeds."""
    results = _grid(tmp_path, manager)
    doc = summarize(results, ["frame_iou"], tmp_path / "cmp")
    rows = []
    for seed in (0, 1):
        ledger = tmp_path / "cmp" / "runs" / f"random-seed{seed}" / "ledger.jsonl"
        rows.append([r.annotation for r in Ledger(ledger).read().records if r.cycle > 0])
    got = doc["purchases"]["random"]
    assert got["frames"] == pytest.approx(sum(len(r) for r in rows) / 2)
    assert got["cost"] == pytest.approx(sum(a.cost for r in rows for a in r) / 2)
    no_actor = [100 * sum(not a.regions for a in r) / len(r) for r in rows]
    assert got["no_actor_pct"] == pytest.approx(sum(no_actor) / 2)
    assert 10.0 <= got["top10_share_pct"] <= 100.0
    assert "## What each method bought" in (tmp_path / "cmp" / "compare" / "summary.md").read_text()


def test_paired_differences_subtract_the_baseline_seed_by_seed(tmp_path, manager):
    """The paired table holds, per cycle, mean ± std over seeds of method - random in the same
    seed; cycle 0 is exactly 0 (shared initial labels and model)."""
    results = _grid(tmp_path, manager)
    doc = summarize(results, ["frame_iou"], tmp_path / "cmp")
    paired = doc["paired"]["frame_iou"]
    assert paired["baseline"] == "random" and list(paired["methods"]) == ["equidistant"]
    cells = paired["methods"]["equidistant"]
    assert cells[0]["mean"] == 0.0 and cells[0]["wins"] == 0
    diffs = [
        results["equidistant"][s][2].metrics["frame_iou"]
        - results["random"][s][2].metrics["frame_iou"]
        for s in (0, 1)
    ]
    assert cells[2]["mean"] == pytest.approx(sum(diffs) / 2)
    assert cells[2]["wins"] == sum(d > 0 for d in diffs) and cells[2]["n"] == 2
    md = (tmp_path / "cmp" / "compare" / "summary.md").read_text()
    assert "## frame_iou: paired difference to random" in md
