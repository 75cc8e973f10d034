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
    with pytest.raises(ConfigError, match=r"budget\.cycles or budget\.total_pct"):
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
