"""The active-learning loop on the numpy FakeTask."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from asl_core import PluginContractError, RunDirError, Selection
from asl_core.ledger import Ledger
from asl_core.loop import ActiveLearningLoop, build_components, create_run, phase_rng
from tests.conftest import small_config


def _run(tmp_path: Path, manager, **options):
    cfg = small_config(**options)
    comps = build_components(cfg, manager)
    run = create_run(tmp_path / "run", cfg, comps)
    return run, comps, ActiveLearningLoop(run, cfg, comps).run()


def test_loop_runs_several_cycles_and_grows_labels(tmp_path, manager):
    """Each cycle buys step_pct of the pool and the labelled count grows by exactly that."""
    _, _, results = _run(tmp_path, manager, **{"budget.cycles": 3})
    total = results[0].total_frames
    step = int(np.floor(total * 5 / 100 + 0.5))
    assert [r.cycle for r in results] == [0, 1, 2, 3]
    assert [r.bought_frames for r in results[1:]] == [step, step, step]
    assert results[-1].labelled_frames == results[0].labelled_frames + 3 * step
    assert all("frame_iou" in r.metrics for r in results)


def test_initial_labels_cover_every_video(tmp_path, manager):
    """Cycle 0 buys at least one random frame in every video of the pool."""
    run, comps, _ = _run(tmp_path, manager, **{"budget.cycles": 0})
    records = Ledger(run.ledger_path).read().records
    assert {r.annotation.video for r in records} == {v.id for v in comps.task.pool()}
    assert all(r.cycle == 0 for r in records)


def test_run_directory_has_every_artifact(tmp_path, manager):
    """A finished run has config, state, ledger, summary and per-cycle artifacts."""
    run, _, results = _run(tmp_path, manager, **{"budget.cycles": 2})
    assert run.config_path.is_file()
    state = json.loads(run.state_path.read_text())
    assert state["status"] == "finished" and state["reason"] == "all 2 cycles done"
    for cycle in range(3):
        d = run.cycle_dir(cycle)
        assert (d / "selection.json").is_file()
        assert (d / "metrics.json").is_file()
        assert (d / "model.npz").is_file()
    summary = json.loads((run.root / "summary.json").read_text())
    assert len(summary["cycles"]) == len(results) == 3


def test_ledger_lines_match_selections(tmp_path, manager):
    """Every ledger line of cycle k is a frame of cycles/k/selection.json, in pick order."""
    run, _, _ = _run(tmp_path, manager, **{"budget.cycles": 2})
    records = Ledger(run.ledger_path).read().records
    for cycle in range(3):
        sel = json.loads((run.cycle_dir(cycle) / "selection.json").read_text())
        picked = [(v, f) for v, f, _ in sel["frames"]]
        bought = [(r.annotation.video, r.annotation.frame) for r in records if r.cycle == cycle]
        assert bought == picked


def test_random_scorer_runs_no_inference(tmp_path, manager):
    """A scorer that requires no model output never triggers Task.predict."""
    _, comps, _ = _run(tmp_path, manager, **{"budget.cycles": 2, "scorer.type": "random"})
    assert comps.task.predict_calls == 0


def test_total_budget_stops_the_run(tmp_path, manager):
    """With total_pct set and no cycle limit the run stops when the cap is reached."""
    _, _, results = _run(
        tmp_path,
        manager,
        **{"budget.cycles": None, "budget.total_pct": 20.0, "budget.step_pct": 5.0},
    )
    total = results[0].total_frames
    assert results[-1].labelled_frames == int(np.floor(total * 0.2 + 0.5))


def test_pool_exhaustion_takes_what_is_left(tmp_path, manager):
    """A step larger than the unlabelled pool buys the rest and the run stops."""
    _, _, results = _run(tmp_path, manager, **{"budget.cycles": 5, "budget.step_pct": 60.0})
    assert results[-1].labelled_frames == results[-1].total_frames
    assert len(results) == 3  # init, one full step, then the remainder


def test_same_seed_gives_identical_ledgers(tmp_path, manager):
    """Two runs with the same config and seed write byte-identical ledgers."""
    cfg = small_config(**{"budget.cycles": 2})
    ledgers = []
    for name in ("a", "b"):
        comps = build_components(cfg, manager)
        run = create_run(tmp_path / name, cfg, comps)
        ActiveLearningLoop(run, cfg, comps).run()
        ledgers.append(run.ledger_path.read_bytes())
    assert ledgers[0] == ledgers[1]


def test_different_seeds_give_different_initial_labels(tmp_path, manager):
    """The seed drives the initial random labels."""
    firsts = []
    for seed in (0, 1):
        cfg = small_config(**{"budget.cycles": 0, "seed": seed})
        comps = build_components(cfg, manager)
        run = create_run(tmp_path / str(seed), cfg, comps)
        ActiveLearningLoop(run, cfg, comps).run()
        firsts.append(run.ledger_path.read_bytes())
    assert firsts[0] != firsts[1]


def test_phase_rng_is_a_pure_function_of_seed_cycle_phase():
    """phase_rng gives equal streams for equal keys and different ones otherwise."""
    a = phase_rng(3, 1, "select").random(4)
    assert np.array_equal(a, phase_rng(3, 1, "select").random(4))
    assert not np.array_equal(a, phase_rng(3, 2, "select").random(4))
    assert not np.array_equal(a, phase_rng(3, 1, "train").random(4))
    assert not np.array_equal(a, phase_rng(4, 1, "select").random(4))


def test_create_run_refuses_an_existing_run(tmp_path, manager):
    """Starting a new run in a folder that holds one points at --resume."""
    run, comps, _ = _run(tmp_path, manager, **{"budget.cycles": 0})
    with pytest.raises(RunDirError, match="--resume"):
        create_run(run.root, small_config(), comps)


def test_create_run_refuses_a_non_empty_folder(tmp_path, manager):
    """A non-empty folder that is not a run is left alone."""
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    cfg = small_config()
    with pytest.raises(RunDirError, match="not empty"):
        create_run(tmp_path / "x", cfg, build_components(cfg, manager))
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["notes.txt"]


class _BadSelector:
    """Returns one frame too many."""

    def __init__(self, inner):
        self.inner = inner

    def select(self, stats, labels, budget, scorer, rng):
        sel = self.inner.select(stats, labels, budget + 1, scorer, rng)
        return Selection(frames=sel.frames, scores=sel.scores)


def test_selector_breaking_the_budget_is_a_contract_error(tmp_path, manager):
    """The loop refuses a selection of the wrong size and names the selector."""
    cfg = small_config(**{"budget.cycles": 1})
    comps = build_components(cfg, manager)
    import attrs

    comps = attrs.evolve(comps, selector=_BadSelector(comps.selector))
    run = create_run(tmp_path / "run", cfg, comps)
    with pytest.raises(PluginContractError, match="selector 'global'"):
        ActiveLearningLoop(run, cfg, comps).run()
    assert not (run.cycle_dir(1) / "selection.json").exists()


def test_plugin_lacking_interface_methods_is_named(manager):
    """A factory that builds an object without the interface's methods is a contract error."""
    from asl_core.testing import registered

    class HalfScorer:
        requires = frozenset()

        def score(self, stats, labelled, num_frames):
            return np.zeros(num_frames)

    class Plugin:
        from asl_core import hookimpl

        @hookimpl
        def register_scorers(self, register):
            register("half", HalfScorer)

    cfg = small_config(**{"scorer.type": "half"})
    with (
        registered(manager, Plugin(), "half-plugin"),
        pytest.raises(PluginContractError, match="missing: frame_stats, prepare_pool"),
    ):
        build_components(cfg, manager)


def test_cost_budget_keeps_the_cumulative_spend_on_schedule(tmp_path, manager):
    """With budget.step_cost each cycle buys round(target / cost per frame) frames, the target
    carrying the previous cycles' miss (re-derived here from the ledger), and the spend after
    the last cycle is close to cycles * step_cost; the results report the ledger's costs."""
    from asl_core.budget import round_half_up

    step, cycles = 12.0, 4
    run, _, results = _run(tmp_path, manager, **{"budget.cycles": cycles, "budget.step_cost": step})
    records = Ledger(run.ledger_path).read().records
    initial = [r.annotation.cost for r in records if r.cycle == 0]
    for k in range(1, cycles + 1):
        before = [r.annotation.cost for r in records if 1 <= r.cycle < k]
        per_frame = sum(before) / len(before) if before else sum(initial) / len(initial)
        target = k * step - sum(before)
        assert results[k].bought_frames == max(1, round_half_up(target / per_frame)), k
    spend = sum(r.annotation.cost for r in records if r.cycle >= 1)
    # the fake oracle charges 2 clicks per box (0 without the actor): the last cycle's miss
    # is a few frames at most
    assert abs(spend - cycles * step) <= step / 2
    assert [r.cost for r in results[1:]] == [
        sum(r.annotation.cost for r in records if r.cycle == k) for k in range(1, cycles + 1)
    ]


def test_cost_budget_stops_at_the_total_cost(tmp_path, manager):
    """budget.total_cost ends a run with no cycle limit; the reason is recorded."""
    run, _, results = _run(
        tmp_path,
        manager,
        **{"budget.cycles": None, "budget.step_cost": 8.0, "budget.total_cost": 60.0},
    )
    state = json.loads(run.state_path.read_text())
    assert "total cost budget of 60 reached" in state["reason"]
    records = Ledger(run.ledger_path).read().records
    assert sum(r.annotation.cost for r in records) >= 60.0
    assert len(results) >= 2


def test_cost_budget_with_free_frames_only_fails_clearly(tmp_path, manager):
    """An oracle that charges nothing gives no cost per frame: a ConfigError naming the run."""
    from asl_core import ConfigError

    with pytest.raises(ConfigError, match="cannot be estimated"):
        _run(
            tmp_path,
            manager,
            **{"budget.step_cost": 5.0, "oracle.clicks_per_region": 0.0},
        )
