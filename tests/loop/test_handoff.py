"""``asl-run export`` / ``import`` in the core (asl_core.handoff), format-independent: a test
oracle with a trivial JSON format pauses a FakeTask run; exports list the waiting frames;
imports are validated before anything is written, skip what is already in the ledger, refuse
frames that were not requested unless accepted, and let the run resume."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from asl_core import (
    AslUsageError,
    AwaitingAnnotations,
    ExchangeFormatError,
    ExchangeRequest,
    FrameAnnotation,
    FrameRef,
    ImportedFrame,
    ImportResult,
    OracleBase,
    Region,
    hookimpl,
)
from asl_core.config import build_config
from asl_core.handoff import export_run, guess_format, import_annotations
from asl_core.ledger import Ledger
from asl_core.loop import ActiveLearningLoop, build_components, create_run
from asl_core.testing import make_test_plugin_manager, registered
from tests.conftest import SMALL_TASK


class TableOracle(OracleBase):
    """People, with a one-table JSON format: ``{"frames": [{"video", "frame", "boxes":
    [[x1, y1, x2, y2, category]], "human", "seconds"}]}``."""

    formats = ("table",)

    def annotate(self, frames: Sequence[FrameRef], task: Any) -> Iterator[FrameAnnotation]:
        if frames:
            raise AwaitingAnnotations(list(frames))
        yield from ()

    def write_request(self, fmt: str, request: ExchangeRequest, path: Path, **options: Any) -> None:
        frames = [[r.ref.video, r.ref.frame] for r in request.requested]
        prefill = {
            f"{ref.video}:{ref.frame}": [list(r.box) for r in regions]
            for ref, regions in request.predictions.items()
        }
        path.write_text(json.dumps({"frames": frames, "prefill": prefill}))

    def read_file(self, fmt: str, path: Path, request: ExchangeRequest) -> ImportResult:
        try:
            rows = json.loads(path.read_text())["frames"]
            frames = [
                ImportedFrame(
                    FrameRef(row["video"], row["frame"]),
                    tuple(Region(0, int(b[4]), b[:4]) for b in row.get("boxes", [])),
                    human=row.get("human", True),
                    seconds=row.get("seconds"),
                )
                for row in rows
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ExchangeFormatError(f"{path}: not a table file ({exc})") from None
        return ImportResult(frames)

    def frame_cost(self, regions: Sequence[Region], seconds: float | None) -> float:
        return seconds if seconds is not None else 2.0 * len(regions)


class TablePlugin:
    @hookimpl
    def register_oracles(self, register: Any) -> None:
        register("table", TableOracle, summary="people, one JSON table")


@pytest.fixture
def manager():
    pm = make_test_plugin_manager(load_entrypoints=True)
    with registered(pm, TablePlugin(), "table-plugin"):
        yield pm


def _paused_run(tmp_path: Path, manager, cycles: int = 1, **task: Any) -> Path:
    cfg = build_config(
        cfg_options={
            **{f"task.{k}": v for k, v in {**SMALL_TASK, **task}.items()},
            "oracle.type": "table",
            "budget.cycles": cycles,
        }
    )
    components = build_components(cfg, manager)
    run = create_run(tmp_path / "run", cfg, components)
    with pytest.raises(AwaitingAnnotations):
        ActiveLearningLoop(run, cfg, components).run()
    return run.root


def _waiting(run: Path) -> list[FrameRef]:
    data = json.loads((run / "cycles" / "000" / "selection.json").read_text())
    return [FrameRef(v, f) for v, f, _ in data["frames"]]


def _waiting_in(run: Path, cycle: int) -> list[FrameRef]:
    data = json.loads((run / "cycles" / f"{cycle:03d}" / "selection.json").read_text())
    return [FrameRef(v, f) for v, f, _ in data["frames"]]


def _write(path: Path, frames: list[dict]) -> Path:
    path.write_text(json.dumps({"frames": frames}))
    return path


def _rows(refs: list[FrameRef], **extra: Any) -> list[dict]:
    return [{"video": r.video, "frame": r.frame, "boxes": [[1, 1, 4, 4, 0]], **extra} for r in refs]


def _ledger_bytes(run: Path) -> bytes:
    path = run / "ledger.jsonl"
    return path.read_bytes() if path.exists() else b""


def test_export_lists_the_frames_the_run_waits_for(tmp_path, manager) -> None:
    run = _paused_run(tmp_path, manager)
    summary = export_run(run, "table", tmp_path / "out.json", manager)
    written = json.loads((tmp_path / "out.json").read_text())["frames"]
    assert [FrameRef(v, f) for v, f in written] == _waiting(run)
    assert summary.frames == len(_waiting(run)) and summary.cycle == 0


def test_import_appends_the_annotated_frames_with_their_cost(tmp_path, manager) -> None:
    run = _paused_run(tmp_path, manager)
    frames = _waiting(run)
    summary = import_annotations(
        run, _write(tmp_path / "a.json", _rows(frames)), manager, fmt="table"
    )
    assert summary.added == len(frames) and summary.still_waiting == 0
    records = Ledger(run / "ledger.jsonl").read().records
    assert [r.annotation.ref for r in records] == frames
    assert all(
        r.annotation.cost == 2.0 and r.annotation.oracle == "exchange:table" for r in records
    )
    assert all(r.cycle == 0 for r in records)


def test_measured_seconds_become_the_cost_when_the_oracle_says_so(tmp_path, manager) -> None:
    run = _paused_run(tmp_path, manager)
    frames = _waiting(run)
    import_annotations(
        run, _write(tmp_path / "a.json", _rows(frames, seconds=7.5)), manager, fmt="table"
    )
    assert {r.annotation.cost for r in Ledger(run / "ledger.jsonl").read().records} == {7.5}


def test_importing_the_same_file_twice_adds_nothing(tmp_path, manager) -> None:
    run = _paused_run(tmp_path, manager)
    file = _write(tmp_path / "a.json", _rows(_waiting(run)))
    import_annotations(run, file, manager, fmt="table")
    before = _ledger_bytes(run)
    again = import_annotations(run, file, manager, fmt="table")
    assert again.added == 0 and again.duplicates == len(_waiting(run))
    assert _ledger_bytes(run) == before


def test_a_partial_import_leaves_the_rest_waiting(tmp_path, manager) -> None:
    run = _paused_run(tmp_path, manager)
    frames = _waiting(run)
    summary = import_annotations(
        run, _write(tmp_path / "a.json", _rows(frames[:2])), manager, fmt="table"
    )
    assert summary.added == 2 and summary.still_waiting == len(frames) - 2
    export_run(run, "table", tmp_path / "rest.json", manager)
    rest = json.loads((tmp_path / "rest.json").read_text())["frames"]
    assert [FrameRef(v, f) for v, f in rest] == frames[2:]


def test_interpolated_frames_are_never_bought(tmp_path, manager) -> None:
    run = _paused_run(tmp_path, manager)
    frames = _waiting(run)
    rows = _rows(frames[:1]) + _rows(frames[1:2], human=False)
    summary = import_annotations(run, _write(tmp_path / "a.json", rows), manager, fmt="table")
    assert summary.added == 1 and summary.ignored_interpolated == 1
    assert [r.annotation.ref for r in Ledger(run / "ledger.jsonl").read().records] == frames[:1]


def _unrequested(run: Path) -> FrameRef:
    waiting = set(_waiting(run))
    video = _waiting(run)[0].video
    return next(FrameRef(video, f) for f in range(100) if FrameRef(video, f) not in waiting)


def test_a_frame_that_was_not_requested_is_refused_and_nothing_is_written(
    tmp_path, manager
) -> None:
    run = _paused_run(tmp_path, manager)
    rows = _rows(_waiting(run)) + _rows([_unrequested(run)])
    with pytest.raises(ExchangeFormatError, match="not requested"):
        import_annotations(run, _write(tmp_path / "a.json", rows), manager, fmt="table")
    assert _ledger_bytes(run) == b""


def test_accept_extra_buys_an_unrequested_frame_and_records_it_in_the_selection(
    tmp_path, manager
) -> None:
    run = _paused_run(tmp_path, manager)
    extra = _unrequested(run)
    rows = _rows(_waiting(run)) + _rows([extra])
    summary = import_annotations(
        run, _write(tmp_path / "a.json", rows), manager, fmt="table", accept_extra=True
    )
    assert summary.extra == 1 and summary.still_waiting == 0
    assert extra in _waiting(run)  # selection.json now lists it
    assert extra in {r.annotation.ref for r in Ledger(run / "ledger.jsonl").read().records}


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"video": "nope", "frame": 0}, "unknown video"),
        ({"video": "v000", "frame": 10_000}, "out of range"),
        ({"frame": "extra", "boxes": [[1, 1, 4, 4, 99]]}, "unknown category"),
    ],
)
def test_bad_frames_are_refused_naming_the_file_and_nothing_is_written(
    tmp_path, manager, row, message
) -> None:
    run = _paused_run(tmp_path, manager)
    if row.get("frame") == "extra":  # a frame nobody else lists, so only its category is wrong
        extra = _unrequested(run)
        row = {**row, "video": extra.video, "frame": extra.frame}
    rows = [*_rows(_waiting(run)), row]
    file = _write(tmp_path / "bad.json", rows)
    with pytest.raises(ExchangeFormatError, match=message) as info:
        import_annotations(run, file, manager, fmt="table", accept_extra=True)
    assert "bad.json" in str(info.value)
    assert _ledger_bytes(run) == b""


def test_a_malformed_file_is_refused_and_nothing_is_written(tmp_path, manager) -> None:
    run = _paused_run(tmp_path, manager)
    file = tmp_path / "broken.json"
    file.write_text('{"frames": [')
    with pytest.raises(ExchangeFormatError, match=r"broken\.json"):
        import_annotations(run, file, manager, fmt="table")
    assert _ledger_bytes(run) == b""


def test_a_run_that_is_not_waiting_refuses_export_and_import(tmp_path, capsys) -> None:
    from asl_core.cli import main

    opts = [f"task.{k}={v}" for k, v in SMALL_TASK.items() if k != "type"]
    run = tmp_path / "run"
    assert main(["--work-dir", str(run), "--cfg-options", *opts, "budget.cycles=1", "--quiet"]) == 0
    pm = make_test_plugin_manager(load_entrypoints=True)
    with pytest.raises(AslUsageError, match="not waiting for annotations"):
        export_run(run, "cvat", tmp_path / "out.xml", pm)
    with pytest.raises(AslUsageError, match="not waiting for annotations"):
        import_annotations(run, tmp_path / "x.xml", pm)


def test_an_unknown_format_is_a_usage_error(tmp_path, manager) -> None:
    run = _paused_run(tmp_path, manager)
    with pytest.raises(AslUsageError, match="unknown format"):
        export_run(run, "cvat", tmp_path / "out.xml", manager)


def test_the_run_resumes_and_trains_once_every_frame_is_imported(tmp_path, manager) -> None:
    run = _paused_run(tmp_path, manager)
    import_annotations(run, _write(tmp_path / "a.json", _rows(_waiting(run))), manager, fmt="table")
    from asl_core.loop import open_run

    root, cfg, _ = open_run(run)
    components = build_components(cfg, manager)
    # cycle 0 trains on the imported labels, then cycle 1's selection waits in turn
    with pytest.raises(AwaitingAnnotations) as info:
        ActiveLearningLoop(root, cfg, components).run()
    assert info.value.cycle == 1
    assert (run / "cycles" / "000" / "metrics.json").is_file()


def test_guess_format_reads_names_and_first_bytes(tmp_path) -> None:
    (tmp_path / "a.json").write_text('[{"data": {}}]')
    (tmp_path / "b.json").write_text('{"images": [], "annotations": []}')
    assert guess_format(tmp_path / "x.xml") == "cvat"
    assert guess_format(tmp_path / "a.json") == "labelstudio"
    assert guess_format(tmp_path / "b.json") == "coco"
    with pytest.raises(AslUsageError, match="--format"):
        guess_format(tmp_path / "x.txt")


def test_a_crash_between_selection_and_ledger_leaves_the_extra_frame_waiting(
    tmp_path, manager, monkeypatch
) -> None:
    """Extras go into selection.json first: if the process dies before the ledger append, the
    run waits for them (nothing half-bought), and importing the file again completes it."""
    run = _paused_run(tmp_path, manager)
    extra = _unrequested(run)
    file = _write(tmp_path / "a.json", [*_rows(_waiting(run)), *_rows([extra])])

    def crash(self, records):
        raise OSError("disk gone")

    with monkeypatch.context() as m:
        m.setattr(Ledger, "append", crash)
        with pytest.raises(OSError):
            import_annotations(run, file, manager, fmt="table", accept_extra=True)
    assert extra in _waiting(run) and _ledger_bytes(run) == b""
    summary = import_annotations(run, file, manager, fmt="table", accept_extra=True)
    assert summary.added == len(_waiting(run)) and summary.still_waiting == 0


def test_cycle_0_is_not_prefilled(tmp_path, manager) -> None:
    """The initial frames are random: no model chose them, so nothing pre-fills them."""
    run = _paused_run(tmp_path, manager)
    export_run(run, "table", tmp_path / "out.json", manager)
    assert json.loads((tmp_path / "out.json").read_text())["prefill"] == {}
    assert not (run / "cycles" / "000" / "prefill.jsonl").exists()


def test_later_cycles_are_prefilled_once_by_the_selecting_model(tmp_path, manager) -> None:
    from asl_core.loop import open_run

    run = _paused_run(tmp_path, manager, cycles=1, train_steps=300)
    # the annotators mark the actor's true box (the fake model learns where it is)
    from asl_core.testing import FakeTask, FakeTaskParams

    fake = FakeTask(FakeTaskParams(**{k: v for k, v in SMALL_TASK.items() if k != "type"}))
    truth = fake.ground_truth(_waiting(run))
    rows = [
        {"video": r.video, "frame": r.frame, "boxes": [[*g.box, g.category] for g in regions]}
        for r, regions in zip(_waiting(run), truth, strict=True)
    ]
    import_annotations(run, _write(tmp_path / "a.json", rows), manager, fmt="table")
    root, cfg, _ = open_run(run)
    with pytest.raises(AwaitingAnnotations):
        ActiveLearningLoop(root, cfg, build_components(cfg, manager)).run()
    export_run(run, "table", tmp_path / "c1.json", manager)
    prefill = json.loads((tmp_path / "c1.json").read_text())["prefill"]
    cache = run / "cycles" / "001" / "prefill.jsonl"
    waiting = _waiting_in(run, 1)
    assert len(cache.read_bytes().splitlines()) == len(waiting)  # one line per frame, empty or not
    # the fake model's boxes: what the task predicts with cycle 0's checkpoint
    components = build_components(cfg, manager)
    model = components.task.load_checkpoint(run / "cycles" / "000" / "model.npz")
    expected = components.task.predict_regions(model, waiting)
    assert any(expected), "the test needs a model that finds the actor somewhere"
    assert prefill == {
        f"{ref.video}:{ref.frame}": [list(r.box) for r in regs]
        for ref, regs in zip(waiting, expected, strict=True)
        if regs
    }
    # a second export reads the cache instead of predicting again
    before = cache.read_bytes()
    export_run(run, "table", tmp_path / "c1-again.json", manager)
    assert cache.read_bytes() == before
    assert json.loads((tmp_path / "c1-again.json").read_text())["prefill"] == prefill
