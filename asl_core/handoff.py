"""Handing a paused cycle to people and taking their annotations back (``asl-run export`` /
``asl-run import``).

A run whose oracle raises :class:`~asl_core.errors.AwaitingAnnotations` stops in state
``awaiting_annotations``. :func:`export_run` writes the frames it waits for in an annotation
tool's format; :func:`import_annotations` reads the annotated file back, checks it against the
run (:func:`~asl_core.exchange.validate_import`) **before anything is written**, and appends the
new frames to the ledger in one write; ``asl-run --resume`` then continues.

The run's oracle does the format work (core code never imports a plugin): it must provide
``formats`` (names), ``write_request(fmt, request, path, **options)``, ``read_file(fmt, path,
request) -> ImportResult`` and ``frame_cost(regions, seconds) -> float``; the built-in
``exchange`` oracle (package ``asl_oracles``) does, for ``cvat``, ``labelstudio`` and ``coco``.
The task describes its videos with ``exchange_videos(ids) -> {id: ExchangeVideo}``, names
its classes with ``category_names`` and, to export frame images, reads one with
``read_frame(video, index) -> uint8[H, W, 3]``. A task with ``predict_regions(model, frames)
-> [tuple[Region, ...]]`` gets its requested frames **pre-filled** with the predictions of the
model that selected them (the previous cycle's checkpoint; the initial random frames of cycle 0
have none). The predictions are computed once, at the first export, and kept in
``cycles/NNN/prefill.jsonl``, so the import sees exactly what the annotators started from (the
CVAT reader matches tracks back by them).

Guarantees: importing the same file twice adds nothing the second time (frames already in the
ledger for the cycle are skipped); frames the run did not ask for are refused unless
``accept_extra``, and accepted extras are first added to the cycle's ``selection.json`` (an
atomic write) and only then to the ledger, so a crash between the two leaves a run that simply
waits for them again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from .errors import AslUsageError, RunDirError
from .exchange import ExchangeRequest, ExchangeVideo, RequestedFrame, validate_import
from .types import FrameAnnotation, FrameRef, Region

__all__ = ["ExportSummary", "ImportSummary", "export_run", "guess_format", "import_annotations"]


@frozen
class ExportSummary:
    """What :func:`export_run` wrote."""

    path: Path
    format: str
    cycle: int
    frames: int
    videos: int


@frozen
class ImportSummary:
    """What :func:`import_annotations` did."""

    cycle: int
    added: int
    extra: int
    duplicates: int
    ignored_interpolated: int
    still_waiting: int
    cost: float
    warnings: tuple[str, ...]


def guess_format(path: Path) -> str:
    """The exchange format of a file from its name and first bytes: ``.xml`` (or a folder of
    them) → ``cvat``; JSON with ``"images"`` → ``coco``; other JSON → ``labelstudio``."""
    if path.is_dir() or path.suffix.lower() == ".xml":
        return "cvat"
    if path.suffix.lower() == ".json":
        try:
            with open(path, "rb") as fh:
                head = fh.read(1 << 16)
        except OSError as exc:
            raise AslUsageError(f"{path}: cannot read the file ({exc.strerror})") from None
        text = head.lstrip()
        return "labelstudio" if text.startswith(b"[") or b'"images"' not in head else "coco"
    raise AslUsageError(f"{path}: cannot tell the format from the name; give --format")


def _open(run_path: Path, manager: Any) -> tuple[Any, dict[str, Any], dict[str, Any], Any]:
    from .loop import build_components, open_run

    run, cfg, state = open_run(run_path)
    if state.get("status") != "awaiting_annotations":
        raise AslUsageError(
            f"{run.root}: the run is not waiting for annotations (status "
            f"{state.get('status')!r}); only a run paused by an annotation-tool oracle is"
        )
    components = build_components(cfg, manager)
    oracle = components.oracle
    for name in ("formats", "write_request", "read_file", "frame_cost"):
        if not hasattr(oracle, name):
            raise AslUsageError(
                f"{run.root}: the run's oracle {components.names['oracle']!r} does not exchange "
                "files with annotation tools"
            )
    return run, cfg, state, components


def _check_format(oracle: Any, fmt: str) -> None:
    if fmt not in oracle.formats:
        raise AslUsageError(f"unknown format {fmt!r}; choose one of {', '.join(oracle.formats)}")


def _selection(run: Any, cycle: int) -> tuple[Path, dict[str, Any]]:
    path = run.cycle_dir(cycle) / "selection.json"
    try:
        data = json.loads(path.read_text())
        [(str(v), int(f), float(s)) for v, f, s in data["frames"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunDirError(f"{path}: unreadable selection ({exc})") from None
    return path, data


def _request(
    run: Any,
    state: Mapping[str, Any],
    components: Any,
    *,
    whole: bool = False,
    pool: bool = False,
    keep_prefill: bool = True,
) -> tuple[ExchangeRequest, set[FrameRef], Path, dict[str, Any]]:
    """The request of the waiting cycle: its frames not yet in the ledger (``whole``: all of
    its selected frames), their videos (``pool``: every pool video), the labelled frames of
    those videos as context. Also the frames of that cycle already in the ledger and the
    cycle's selection file and contents. ``keep_prefill``: cache newly computed pre-fill
    predictions in the run (:func:`_prefill`)."""
    from .ledger import Ledger

    task = components.task
    describe = getattr(task, "exchange_videos", None)
    names = getattr(task, "category_names", None)
    if describe is None or names is None:
        raise AslUsageError(
            f"task {components.names['task']!r} cannot describe its videos to annotation tools "
            "(it has no exchange_videos / category_names)"
        )
    cycle = int(state["cycle"])
    sel_path, data = _selection(run, cycle)
    contents = Ledger(run.root / "ledger.jsonl").read()
    bought = {r.annotation.ref for r in contents.records if r.cycle == cycle}
    requested = [
        RequestedFrame(FrameRef(v, f), s)
        for v, f, s in data["frames"]
        if whole or FrameRef(v, f) not in bought
    ]
    ids = [v.id for v in task.pool()] if pool else sorted({r.ref.video for r in requested})
    videos: Mapping[str, ExchangeVideo] = describe(ids)
    chosen = set(ids)
    context = {
        r.annotation.ref: r.annotation.regions
        for r in contents.records
        if not r.annotation.pseudo and r.cycle != cycle and r.annotation.ref.video in chosen
    }
    predictions = _prefill(run, cycle, components, [r.ref for r in requested], save=keep_prefill)
    request = ExchangeRequest(
        run=run.root.name,
        cycle=cycle,
        videos=videos,
        categories=tuple(names),
        requested=requested,
        context=context,
        predictions={ref: regions for ref, regions in predictions.items() if regions},
    )
    return request, bought, sel_path, data


def _prefill(
    run: Any, cycle: int, components: Any, frames: list[FrameRef], *, save: bool = True
) -> dict[FrameRef, tuple[Region, ...]]:
    """The selecting model's regions on ``frames``, computed once per cycle and cached in
    ``cycles/NNN/prefill.jsonl`` (see module doc); ``{}`` when there is no model to ask.
    ``save=False`` computes what the cache lacks without writing it (an import, which must
    leave the run as it was when it refuses the file)."""
    from .ledger import decode_record, encode_record
    from .rundir import atomic_write_bytes

    task = components.task
    predict = getattr(task, "predict_regions", None)
    path = run.cycle_dir(cycle) / "prefill.jsonl"
    cached: dict[FrameRef, tuple[Region, ...]] = {}
    if path.is_file():
        try:
            for line in path.read_bytes().splitlines():
                ann = decode_record(json.loads(line)).annotation
                cached[ann.ref] = ann.regions
        except (ValueError, KeyError, TypeError) as exc:
            raise RunDirError(f"{path}: unreadable pre-fill ({exc}); delete it") from None
    missing = [ref for ref in frames if ref not in cached]
    checkpoint = run.cycle_dir(cycle - 1) / f"model{task.checkpoint_suffix}" if cycle else None
    if not missing or predict is None or checkpoint is None or not checkpoint.is_file():
        return cached
    regions = list(predict(task.load_checkpoint(checkpoint), missing))
    if len(regions) != len(missing):
        raise RunDirError(
            f"task {components.names['task']!r}: predict_regions gave {len(regions)} results "
            f"for {len(missing)} frames"
        )
    cached.update(zip(missing, (tuple(r) for r in regions), strict=True))
    if not save:
        return cached
    body = b"".join(
        encode_record(cycle, FrameAnnotation(ref.video, ref.frame, regs, "model", 0.0, True))
        for ref, regs in cached.items()
    )
    atomic_write_bytes(path, body)
    return cached


def export_run(
    run_path: Path, fmt: str, out: Path, manager: Any, *, options: Mapping[str, Any] | None = None
) -> ExportSummary:
    """Write the frames a paused run waits for as ``fmt`` at ``out``.

    Raises:
        AslUsageError: the run is not waiting, its oracle or task cannot exchange, bad format.
    """
    run, _cfg, state, components = _open(Path(run_path), manager)
    _check_format(components.oracle, fmt)
    with run.locked():
        request, _, _, _ = _request(run, state, components)
        if not request.requested:
            raise AslUsageError(
                f"{run.root}: every frame of cycle {request.cycle} is annotated already; run "
                f"asl-run --resume {run.root}"
            )
        opts = dict(options or {})
        if opts.get("frames_dir") is not None:
            read_frame = getattr(components.task, "read_frame", None)
            if read_frame is None:
                raise AslUsageError(
                    f"task {components.names['task']!r} cannot read its frames for export "
                    "(it has no read_frame); leave out --frames-dir"
                )
            opts["read_frame"] = read_frame
        components.oracle.write_request(fmt, request, Path(out), **opts)
    return ExportSummary(Path(out), fmt, request.cycle, len(request.requested), len(request.videos))


def import_annotations(
    run_path: Path,
    file: Path,
    manager: Any,
    *,
    fmt: str | None = None,
    accept_extra: bool = False,
) -> ImportSummary:
    """Validate ``file`` against the paused run and append its new frames to the ledger.

    Nothing is written when any check fails. A last ledger line cut off by an interrupted
    earlier import (or run) is set aside as the loop does (:meth:`Ledger.recover`, kept in
    ``ledger.jsonl.partial``, with a warning) once the file passed every check, so importing
    again after a crash completes the cycle.

    Raises:
        AslUsageError: the run is not waiting; a missing, malformed or mismatching file (the
            message names it and the problem).
    """
    from .ledger import Ledger
    from .rundir import atomic_write_json

    run, _cfg, state, components = _open(Path(run_path), manager)
    oracle = components.oracle
    fmt = fmt or guess_format(Path(file))
    _check_format(oracle, fmt)
    with run.locked():
        # the frames already imported stay in the request so a second import of the same file
        # is recognised and skipped instead of refused as "not requested"
        request, bought, sel_path, data = _request(
            run, state, components, whole=True, pool=accept_extra, keep_prefill=False
        )
        result = oracle.read_file(fmt, Path(file), request)
        frames, warnings = validate_import(
            result, request, source=str(file), accept_extra=accept_extra
        )
        ignored = sum(1 for f in result.frames if not f.human)
        ledger = Ledger(run.root / "ledger.jsonl")
        contents = ledger.read()
        other = {r.annotation.ref for r in contents.records if r.cycle != request.cycle}
        wanted = request.requested_refs()
        new, extras, duplicates = [], [], 0
        for item in frames:
            if item.ref in bought:
                duplicates += 1
                continue
            if item.ref in other:
                raise AslUsageError(
                    f"{file}: frame {item.ref.frame} of {item.ref.video!r} was labelled in "
                    "another cycle already"
                )
            new.append(item)
            if item.ref not in wanted:
                extras.append(item.ref)
        if contents.partial:
            # the torn line is no label (read() skips it): set it aside so the append can follow
            size = ledger.recover()
            warnings.append(
                f"{ledger.path}: the last line ({size} bytes) was cut off by an interrupted "
                f"write; it was moved to {ledger.partial_path.name} and its frame counts as not "
                "imported"
            )
        if extras:
            # selection first: a crash before the ledger append leaves a run that waits for them
            data["frames"] = [*data["frames"], *([r.video, r.frame, 0.0] for r in extras)]
            atomic_write_json(sel_path, data)
        oracle_name = f"exchange:{fmt}"
        records = [
            (
                request.cycle,
                FrameAnnotation(
                    item.ref.video,
                    item.ref.frame,
                    tuple(Region(r.track_id, r.category, r.box, r.mask) for r in item.regions),
                    oracle=oracle_name,
                    cost=float(oracle.frame_cost(item.regions, item.seconds)),
                ),
            )
            for item in new
        ]
        ledger.append(records)
        done = bought | {item.ref for item in new}
        still = sum(1 for r in request.requested if r.ref not in done)
    return ImportSummary(
        cycle=request.cycle,
        added=len(new),
        extra=len(extras),
        duplicates=duplicates,
        ignored_interpolated=ignored,
        still_waiting=still,
        cost=float(sum(a.cost for _, a in records)),
        warnings=tuple(warnings),
    )
