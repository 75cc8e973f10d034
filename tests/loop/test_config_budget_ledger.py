"""Config merging and validation, budget arithmetic and the ledger file."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asl_core import ConfigError, FrameAnnotation, LedgerError, Region, VideoInfo
from asl_core.budget import initial_count, initial_selection, next_budget, round_half_up
from asl_core.config import BudgetParams, build_config, parse_cfg_options
from asl_core.ledger import Ledger, decode_record, encode_record
from asl_core.loop import phase_rng

# --------------------------------------------------------------------------- config


def test_defaults_have_every_section():
    """The built-in defaults define all plugin sections, the budget and the seed."""
    cfg = build_config()
    assert {k: cfg[k]["type"] for k in ("task", "scorer", "selector", "loss", "oracle")} == {
        "task": "fake",
        "scorer": "random",
        "selector": "global",
        "loss": "mgw",
        "oracle": "simulated",
    }
    assert cfg["loss"]["sigma"] == 1.3 and cfg["seed"] == 0


def test_cli_plugin_flag_drops_the_previous_plugins_parameters():
    """Choosing another loss by flag does not carry mgw's sigma over."""
    cfg = build_config(plugins={"loss": "masking"})
    assert cfg["loss"] == {"type": "masking"}


def test_cli_plugin_flag_with_the_same_plugin_keeps_parameters():
    """Naming the configured plugin again keeps its parameters."""
    assert build_config(plugins={"loss": "mgw"})["loss"] == {"type": "mgw", "sigma": 1.3}


def test_precedence_config_file_then_flags_then_cfg_options(tmp_path):
    """--cfg-options beat CLI flags, which beat the config file, which beats the defaults."""
    f = tmp_path / "c.py"
    f.write_text("seed = 5\nbudget = dict(cycles=7)\n")
    cfg = build_config(config_file=f, values={"seed": 6}, cfg_options={"seed": 9})
    assert cfg["seed"] == 9
    assert cfg["budget"]["cycles"] == 7 and cfg["budget"]["init_pct"] == 5.0


def test_config_file_switching_plugin_replaces_its_section(tmp_path):
    """A config file naming another plugin type replaces the whole section."""
    f = tmp_path / "c.py"
    f.write_text("loss = dict(type='interpolation')\n")
    assert build_config(config_file=f)["loss"] == {"type": "interpolation"}


def test_unknown_top_level_key_in_cfg_options_is_rejected():
    """A misspelled section name fails with a hint."""
    with pytest.raises(ConfigError, match="did you mean 'scorer'"):
        build_config(cfg_options={"scorrer.type": "random"})


def test_section_without_type_is_rejected(tmp_path):
    """Every plugin section must name its plugin."""
    f = tmp_path / "c.py"
    f.write_text("scorer = dict(sigma=1)\n")
    # the defaults' type survives a merge, so replace the section through cfg-options
    with pytest.raises(ConfigError, match="section 'scorer'"):
        build_config(config_file=f, cfg_options={"scorer": {"sigma": 1}})


def test_cfg_options_parse_literals():
    """key=value items parse numbers, booleans, None and lists like mmengine's DictAction."""
    opts = parse_cfg_options(["a=1", "b=0.5", "c=true", "d=None", "e=[1,2]", "f=word"])
    assert opts == {"a": 1, "b": 0.5, "c": True, "d": None, "e": [1, 2], "f": "word"}


def test_cfg_option_without_equals_is_rejected():
    """An override without '=' is a usage error."""
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_cfg_options(["seed"])


def test_broken_config_file_names_the_file(tmp_path):
    """A config file with a syntax error is reported with its path."""
    f = tmp_path / "broken.py"
    f.write_text("seed = (\n")
    with pytest.raises(ConfigError, match=r"broken\.py: cannot load config"):
        build_config(config_file=f)


def test_budget_needs_cycles_or_total():
    """A schedule with neither a cycle count nor a total budget never ends: rejected."""
    with pytest.raises(
        ConfigError, match=r"budget\.cycles, budget\.total_pct or budget\.total_cost"
    ):
        build_config(cfg_options={"budget.cycles": None})


def test_budget_rejects_fractional_cycles():
    """cycles must be a whole number."""
    with pytest.raises(ConfigError, match="whole number"):
        build_config(cfg_options={"budget.cycles": 2.5})


# --------------------------------------------------------------------------- budget


@pytest.mark.parametrize(
    "frames,pct,expected",
    [
        (100, 1.0, 1),
        (100, 5.0, 5),
        (30, 5.0, 2),
        (10, 5.0, 1),
        (3, 1.0, 1),
        (50, 100.0, 50),
        (7, 50.0, 4),
    ],
)
def test_initial_count_known_answers(frames, pct, expected):
    """init_pct of a video rounded half-up, at least one frame, at most all of them."""
    assert initial_count(frames, pct) == expected


def test_round_half_up_rounds_halves_up():
    """2.5 rounds to 3 (not banker's 2)."""
    assert [round_half_up(x) for x in (0.5, 1.5, 2.5, 2.49)] == [1, 2, 3, 2]


def test_next_budget_stops_after_the_configured_cycles():
    """After `cycles` selection cycles the next budget is 0 with a reason."""
    nb = next_budget(BudgetParams(cycles=2), cycles_done=2, labelled=10, total=100)
    assert nb.frames == 0 and "cycles done" in nb.reason


def test_next_budget_clips_to_the_total_cap():
    """The last step is clipped so the total never exceeds total_pct."""
    params = BudgetParams(step_pct=5.0, cycles=None, total_pct=12.0)
    nb = next_budget(params, cycles_done=3, labelled=10, total=100)
    assert (nb.frames, nb.requested) == (2, 5) and "clipped" in nb.reason


def test_next_budget_takes_the_rest_of_a_small_pool():
    """A step larger than the unlabelled pool takes all of it and says so."""
    nb = next_budget(BudgetParams(step_pct=50.0, cycles=9), cycles_done=1, labelled=80, total=100)
    assert nb.frames == 20 and "taking all of them" in nb.reason


def test_next_budget_stops_when_everything_is_labelled():
    """A fully labelled pool ends the run."""
    nb = next_budget(BudgetParams(cycles=9), cycles_done=1, labelled=100, total=100)
    assert nb.frames == 0 and "every frame" in nb.reason


def _cost_budget(**kw) -> BudgetParams:
    return BudgetParams(**{"step_cost": 10.0, "cycles": 5, **kw})


def test_cost_budget_turns_cost_into_frames_at_the_mean_cost_so_far():
    """10 frames bought for 20 clicks (2 per frame): a 10-click step buys 5 frames."""
    nb = next_budget(
        _cost_budget(), cycles_done=0, labelled=10, total=100, spent=20.0, initial_spent=20.0
    )
    assert (nb.frames, nb.cost) == (5, 10.0)


def test_cost_budget_carries_an_overspend_into_the_next_cycle():
    """Cycle 1 bought 5 frames for 14 clicks instead of 10: cycle 2 aims at 2*10 - 14 = 6
    clicks, at the selection cycles' 14 / 5 = 2.8 clicks a frame: 2.14 -> 2 frames."""
    nb = next_budget(
        _cost_budget(),
        cycles_done=1,
        labelled=15,
        total=100,
        spent=34.0,
        initial_spent=20.0,
        initial_frames=10,
    )
    assert nb.cost == pytest.approx(6.0)
    assert nb.frames == 2


def test_cost_budget_after_cycle_zero_needs_the_initial_frame_count():
    """Without initial_frames the selection cycles' cost per frame is unknown: an error."""
    with pytest.raises(ValueError, match="initial_frames"):
        next_budget(_cost_budget(), cycles_done=1, labelled=15, total=100, spent=34.0)


def test_cost_budget_buys_at_least_one_frame_after_a_large_overspend():
    """A cycle far over its cost still leaves the next one a frame (never an empty cycle)."""
    nb = next_budget(
        _cost_budget(),
        cycles_done=1,
        labelled=15,
        total=100,
        spent=60.0,
        initial_spent=20.0,
        initial_frames=10,
    )
    assert nb.cost == pytest.approx(-20.0) and nb.frames == 1


def test_cost_budget_clips_the_last_step_to_the_total_cost():
    """total_cost 25 after 20 spent: the step aims at 5 clicks, 2.5 -> 3 frames at 2 each."""
    params = _cost_budget(total_cost=25.0)
    nb = next_budget(params, cycles_done=0, labelled=10, total=100, spent=20.0, initial_spent=20.0)
    assert (nb.cost, nb.frames) == (5.0, 3) and "total cost" in nb.reason


def test_cost_budget_stops_once_the_total_cost_is_spent():
    """Spending the total cost ends the run, even with cycles left."""
    params = _cost_budget(total_cost=25.0)
    nb = next_budget(
        params,
        cycles_done=1,
        labelled=13,
        total=100,
        spent=26.0,
        initial_spent=20.0,
        initial_frames=10,
    )
    assert nb.frames == 0 and "total cost budget of 25 reached" in nb.reason


def test_cost_budget_stops_when_what_is_left_buys_under_half_a_frame():
    """0.9 clicks left at 2 per frame rounds to no frame: the run ends instead of a whole
    cycle for one frame over the budget."""
    params = _cost_budget(total_cost=20.9)
    nb = next_budget(params, cycles_done=0, labelled=10, total=100, spent=20.0, initial_spent=20.0)
    assert nb.frames == 0 and "under half the cost of a frame" in nb.reason


def test_cost_budget_without_any_cost_so_far_is_an_error():
    """Free frames so far (no actors, no overhead) give no cost per frame: a clear error."""
    with pytest.raises(ValueError, match="cannot be estimated"):
        next_budget(_cost_budget(), cycles_done=0, labelled=10, total=100, spent=0.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf")])
def test_budget_rejects_non_positive_costs(bad):
    """step_cost and total_cost must be positive and finite."""
    with pytest.raises(ValueError, match="step_cost"):
        BudgetParams(step_cost=bad)
    with pytest.raises(ValueError, match="total_cost"):
        BudgetParams(total_cost=bad)


def test_total_cost_alone_bounds_a_run():
    """cycles=None is allowed when total_cost caps the run."""
    assert BudgetParams(cycles=None, step_cost=5.0, total_cost=50.0).by_cost


@given(
    st.lists(st.integers(1, 60), min_size=1, max_size=8),
    st.floats(0.1, 100.0),
    st.integers(0, 2**32 - 1),
)
def test_initial_selection_is_distinct_sorted_and_sized(lengths, pct, seed):
    """The initial labels pick initial_count distinct in-range frames per video, sorted."""
    pool = [VideoInfo(f"v{i}", n) for i, n in enumerate(lengths)]
    sel = initial_selection(pool, pct, phase_rng(seed, 0, "init"))
    by_video = sel.by_video()
    for video in pool:
        frames = by_video[video.id]
        assert len(frames) == initial_count(video.num_frames, pct)
        assert frames == sorted(set(frames)) and all(0 <= f < video.num_frames for f in frames)


# --------------------------------------------------------------------------- ledger


def _ann(frame: int, video: str = "v0") -> FrameAnnotation:
    region = Region(track_id=0, category=2, box=(1, 2, 3, 4))
    masked = Region(track_id=1, category=0, mask={"size": [4, 5], "counts": "abc"})
    return FrameAnnotation(video, frame, (region, masked), oracle="simulated", cost=4.0)


def test_record_round_trips_through_json():
    """encode_record and decode_record are inverse on annotations with boxes and masks."""
    line = encode_record(3, _ann(7))
    rec = decode_record(json.loads(line))
    assert rec.cycle == 3 and rec.annotation == _ann(7)
    assert line.endswith(b"\n") and line.count(b"\n") == 1


def test_append_then_read(tmp_path):
    """Appended records are read back in order."""
    ledger = Ledger(tmp_path / "ledger.jsonl")
    assert ledger.append([(0, _ann(1)), (0, _ann(2))]) == 2
    assert ledger.append([(1, _ann(5))]) == 1
    contents = ledger.read()
    assert [(r.cycle, r.annotation.frame) for r in contents.records] == [(0, 1), (0, 2), (1, 5)]
    assert contents.partial == b"" and contents.duplicates == ()


def test_duplicate_frames_are_counted_once(tmp_path):
    """A frame that appears twice is kept once and reported as a duplicate."""
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append([(0, _ann(1)), (1, _ann(1))])
    contents = ledger.read()
    assert len(contents.records) == 1 and len(contents.duplicates) == 1


def test_append_refuses_to_follow_a_torn_line(tmp_path):
    """Appending after an unterminated line would merge two records: refused."""
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(encode_record(0, _ann(1)) + b'{"cycle": 0, "vid')
    with pytest.raises(LedgerError, match="incomplete line"):
        Ledger(path).append([(0, _ann(2))])


def test_recover_keeps_the_fragment_and_truncates(tmp_path):
    """recover() moves the torn tail to .partial and leaves only complete lines."""
    path = tmp_path / "ledger.jsonl"
    good = encode_record(0, _ann(1))
    path.write_bytes(good + b'{"cycle": 0, "vid')
    ledger = Ledger(path)
    assert ledger.recover() == len(b'{"cycle": 0, "vid')
    assert path.read_bytes() == good
    assert ledger.partial_path.read_bytes() == b'{"cycle": 0, "vid\n'
    assert ledger.recover() == 0


def test_wrong_schema_line_names_file_and_line(tmp_path):
    """A complete line that is not a record is an error naming the line number."""
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(encode_record(0, _ann(1)) + b'{"cycle": 0}\n')
    with pytest.raises(LedgerError, match=r"ledger.jsonl, line 2: not a valid ledger record"):
        Ledger(path).read()


def test_missing_ledger_reads_as_empty(tmp_path):
    """A run that has bought nothing yet has an empty ledger."""
    contents = Ledger(tmp_path / "nope.jsonl").read()
    assert contents.records == () and contents.partial == b""
