"""``asl-run select`` with actor counts in the labels file: the annotation cost (paper §4),
the output with a cost, labels files written by :func:`asl_core.offline.labels_json`, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from asl_oracles.simulated import frame_cost
from hypothesis import given, settings
from hypothesis import strategies as st

from asl_core import FrameRef, LabelState, Region, VideoInfo
from asl_core.cost import CostModel, selection_cost
from asl_core.errors import AslUsageError
from asl_core.offline import labels_json, read_labels, select_from_files
from tests.core.test_cli_select import run_select, write_labels

# one 9-frame video; equidistant picks 4, 0, 8 first (CONTRIBUTING's known answer)
ACTORS_9 = [0, 1, 2, 0, 3, 1, 0, 2, 1]


def write_actor_labels(path: Path, videos: dict[str, dict[str, Any]]) -> Path:
    """Write ``{"videos": videos}`` as a labels file."""
    path.write_text(json.dumps({"videos": videos}))
    return path


@pytest.fixture
def nine(tmp_path: Path) -> Path:
    """A labels file: video ``v`` of 9 frames, none labelled, with :data:`ACTORS_9`."""
    return write_actor_labels(
        tmp_path / "labels.json", {"v": {"num_frames": 9, "actors": ACTORS_9}}
    )


# --------------------------------------------------------------------------- known answers


def test_equidistant_selection_is_priced_actors_times_two_clicks(nine, capsys):
    """Frames 4, 0, 8 show 3, 0 and 1 actors: 4 boxes, 8 clicks, one frame without actor."""
    code, out, err = run_select(
        capsys, "--labels", nine, "--budget", "3", "--scorer", "equidistant"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert [(r["video"], r["frame"], r["actors"]) for r in doc["frames"]] == [
        ("v", 4, 3),
        ("v", 0, 0),
        ("v", 8, 1),
    ]
    assert doc["cost"] == {
        "clicks_per_actor": 2.0,
        "frame_overhead": 0.0,
        "frames": 3,
        "actor_boxes": 4,
        "frames_without_actor": 1,
        "total": 8.0,
    }
    assert "cost 8 clicks (4 actors x 2 clicks; 1 selected frame without actor)" in err


def test_clicks_and_frame_overhead_change_the_price(nine, capsys):
    """3 clicks per actor and 0.5 per frame: 4 x 3 + 3 x 0.5 = 13.5 clicks."""
    code, out, err = run_select(
        capsys,
        *("--labels", nine, "--budget", "3", "--scorer", "equidistant"),
        *("--clicks-per-actor", "3", "--frame-overhead", "0.5"),
    )
    assert code == 0, err
    cost = json.loads(out)["cost"]
    assert cost["total"] == 13.5 and cost["clicks_per_actor"] == 3.0
    assert "cost 13.5 clicks (4 actors x 3 clicks + 3 frames x 0.5;" in err


def test_labelled_frames_are_neither_selected_nor_priced(tmp_path, capsys):
    """With frames 4 and 0 labelled, equidistant's 3 picks avoid them and are priced alone."""
    labels = write_actor_labels(
        tmp_path / "labels.json", {"v": {"num_frames": 9, "labelled": [4, 0], "actors": ACTORS_9}}
    )
    code, out, _ = run_select(
        capsys, "--labels", labels, "--budget", "3", "--scorer", "equidistant"
    )
    assert code == 0
    doc = json.loads(out)
    picked = [r["frame"] for r in doc["frames"]]
    assert not {0, 4} & set(picked)
    assert doc["cost"]["actor_boxes"] == sum(ACTORS_9[f] for f in picked)


def test_out_file_holds_the_cost_too(nine, tmp_path, capsys):
    """--out writes the same object, cost included, that stdout would get."""
    args = ("--labels", nine, "--budget", "3", "--scorer", "equidistant")
    _, printed, _ = run_select(capsys, *args)
    code, _, err = run_select(capsys, *args, "--out", tmp_path / "sel.json")
    assert code == 0 and "wrote" in err
    assert (tmp_path / "sel.json").read_text() == printed


def test_cost_model_is_the_simulated_oracles(nine):
    """The core's frame cost equals the simulated oracle's frame_cost for the same regions."""
    model = CostModel(clicks_per_actor=2.5, frame_overhead=0.75)
    for n in range(5):
        regions = [Region(k, 0, (0.0, 0.0, 1.0, 1.0)) for k in range(n)]
        assert model.frame_cost(n) == frame_cost(regions, 2.5, 0.75)


@settings(max_examples=50, deadline=None)
@given(
    counts=st.lists(st.integers(0, 6), min_size=1, max_size=40),
    clicks=st.floats(0, 10, allow_nan=False),
    overhead=st.floats(0, 10, allow_nan=False),
)
def test_total_is_the_sum_of_frame_costs(counts: list[int], clicks: float, overhead: float):
    """For any actors and clicks, the total is the exact sum of the frames' costs and the
    counts add up."""
    actors = {"v": counts}
    frames = [FrameRef("v", i) for i in range(len(counts))]
    model = CostModel(clicks, overhead)
    cost = selection_cost(frames, actors, model)  # type: ignore[arg-type]
    assert cost.total == math.fsum(model.frame_cost(n) for n in counts)
    assert cost.actor_boxes == sum(counts)
    assert cost.frames_without_actor == counts.count(0) and cost.frames == len(counts)


# --------------------------------------------------------------------------- unchanged without actors


def test_without_actors_the_output_is_the_plain_list(tmp_path, capsys):
    """A labels file without 'actors' gives today's JSON list and a summary without cost."""
    labels = write_labels(tmp_path / "labels.json", {"v": (9, [])})
    code, out, err = run_select(
        capsys, "--labels", labels, "--budget", "3", "--scorer", "equidistant"
    )
    assert code == 0
    assert isinstance(json.loads(out), list) and "cost" not in err


# --------------------------------------------------------------------------- labels files


def test_labels_json_round_trips_through_read_labels(tmp_path):
    """labels_json writes one video per line; read_labels gives back pool, labels and actors."""
    pool = [VideoInfo("b/two", 3), VideoInfo("a/one", 2)]
    labels = LabelState(human={"b/two": [1]})
    actors = {"b/two": [0, 2, 1], "a/one": [1, 0]}
    text = labels_json(pool, labels, actors)
    assert len(text.splitlines()) == 6  # {, "videos": {, two videos, }, }
    path = tmp_path / "labels.json"
    path.write_text(text)
    lab = read_labels(path)
    assert [v.id for v in lab.pool] == ["a/one", "b/two"]
    assert lab.labels.labelled("b/two").tolist() == [1]
    assert lab.actors is not None and lab.actors["b/two"].tolist() == [0, 2, 1]


# --------------------------------------------------------------------------- bad input

BAD_ACTORS = [
    (
        {"v": {"num_frames": 3, "actors": [0, 1]}},
        "video 'v': actors has 2 values, but num_frames=3",
    ),
    (
        {"v": {"num_frames": 3, "actors": [0, -1, 0]}},
        "actors must be integers >= 0",
    ),
    ({"v": {"num_frames": 3, "actors": [0, 1.5, 0]}}, "got 1.5 at frame 1"),
    ({"v": {"num_frames": 3, "actors": "1 1 1"}}, "actors must be a list of 3 per-frame"),
    (
        {"v": {"num_frames": 3, "actors": [0, 0, 0]}, "w": {"num_frames": 2}},
        "'actors' is given for 1 video but not for 1 video ('w'); give it for every video or for none",
    ),
]


@pytest.mark.parametrize(("videos", "message"), BAD_ACTORS)
def test_bad_actors_are_a_usage_error_naming_the_file(videos, message, tmp_path, capsys):
    """A malformed 'actors' entry exits 2 with one line naming the file and the video."""
    labels = write_actor_labels(tmp_path / "labels.json", videos)
    code, out, err = run_select(capsys, "--labels", labels, "--budget", "1", "--scorer", "random")
    assert code == 2 and out == ""
    assert f"error: {labels}: " in err and message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "two"])
def test_clicks_below_zero_or_not_a_number_are_refused(value, nine, capsys):
    """--clicks-per-actor and --frame-overhead must be finite numbers >= 0 (exit 2)."""
    for flag in ("--clicks-per-actor", "--frame-overhead"):
        code, out, err = run_select(
            capsys, "--labels", nine, "--budget", "1", "--scorer", "random", flag, value
        )
        assert code == 2 and out == ""
        assert f"error: {flag} '{value}': must be a finite number >= 0" in err


def test_cost_flags_without_actors_are_refused(tmp_path, capsys):
    """Pricing a labels file without 'actors' is a usage error that says how to get them."""
    labels = write_labels(tmp_path / "labels.json", {"v": (9, [])})
    code, out, err = run_select(
        capsys, "--labels", labels, "--budget", "1", "--scorer", "random", "--clicks-per-actor", "2"
    )
    assert code == 2 and out == ""
    assert "gives no 'actors'" in err and "asl-run data labels" in err


def test_select_from_files_checks_clicks_before_reading_anything(tmp_path, manager):
    """A negative click count is refused even before the labels file is opened."""
    with pytest.raises(AslUsageError, match="--clicks-per-actor -1"):
        select_from_files(
            labels=tmp_path / "missing.json",
            budget="1",
            scorer="random",
            manager=manager,
            clicks_per_actor=-1,
        )
