"""The annotation ledger: an append-only JSON-lines file of every purchased frame annotation.

One line per frame::

    {"cycle": 1, "video": "v003", "frame": 17, "oracle": "simulated", "cost": 2.0,
     "pseudo": false, "regions": [{"track": 0, "category": 2, "box": [x1, y1, x2, y2],
     "mask": null}]}

Appends write whole lines with one ``write`` on an ``O_APPEND`` descriptor, then ``fsync``. A
process killed in the middle of an append can leave a final line without its newline; reading
treats that fragment as not written, :meth:`Ledger.recover` copies it to
``ledger.jsonl.partial`` (nothing is thrown away) and truncates the ledger to its complete
lines, and the loop then asks the oracle again for the missing frame. Any other damage (a bad
line before the end) is a :class:`~asl_core.errors.LedgerError` naming the file and line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from .errors import LedgerError
from .types import FrameAnnotation, FrameRef, Region

__all__ = ["Ledger", "LedgerContents", "LedgerRecord", "decode_record", "encode_record"]


@frozen
class LedgerRecord:
    """One ledger line: the cycle that bought it and the annotation."""

    cycle: int
    annotation: FrameAnnotation


@frozen
class LedgerContents:
    """What :meth:`Ledger.read` found.

    Attributes:
        records: complete lines, in file order.
        partial: bytes of an unterminated final line (an interrupted append), or ``b""``.
        duplicates: records for a frame that an earlier line already labelled (kept out of
            ``records`` so no label is counted twice).
    """

    records: tuple[LedgerRecord, ...]
    partial: bytes
    duplicates: tuple[LedgerRecord, ...]

    def annotations(self, max_cycle: int | None = None) -> dict[FrameRef, FrameAnnotation]:
        """Human annotations bought in cycles ``<= max_cycle`` (all when ``None``)."""
        return {
            r.annotation.ref: r.annotation
            for r in self.records
            if (max_cycle is None or r.cycle <= max_cycle) and not r.annotation.pseudo
        }


def _region_to_json(region: Region) -> dict[str, Any]:
    mask = None
    if region.mask is not None:
        counts = region.mask["counts"]
        mask = {
            "size": list(region.mask["size"]),
            "counts": counts if isinstance(counts, str) else list(counts),
        }
    return {
        "track": region.track_id,
        "category": region.category,
        "box": list(region.box) if region.box is not None else None,
        "mask": mask,
    }


def encode_record(cycle: int, ann: FrameAnnotation) -> bytes:
    """One ledger line (with its newline) for ``ann`` bought in ``cycle``."""
    obj = {
        "cycle": int(cycle),
        "video": ann.video,
        "frame": ann.frame,
        "oracle": ann.oracle,
        "cost": ann.cost,
        "pseudo": ann.pseudo,
        "regions": [_region_to_json(r) for r in ann.regions],
    }
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def decode_record(obj: Mapping[str, Any]) -> LedgerRecord:
    """Parse one decoded ledger line.

    Raises:
        ValueError, KeyError, TypeError: on a line that does not follow the schema.
    """
    regions = tuple(
        Region(track_id=r["track"], category=r["category"], box=r.get("box"), mask=r.get("mask"))
        for r in obj["regions"]
    )
    if not isinstance(obj["video"], str):
        raise TypeError("'video' must be a string")
    ann = FrameAnnotation(
        video=obj["video"],
        frame=obj["frame"],
        regions=regions,
        oracle=str(obj["oracle"]),
        cost=obj["cost"],
        pseudo=bool(obj.get("pseudo", False)),
    )
    return LedgerRecord(cycle=int(obj["cycle"]), annotation=ann)


class Ledger:
    """Reads and appends the ledger file at ``path``."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @property
    def partial_path(self) -> Path:
        """Where fragments of interrupted appends are kept."""
        return self.path.with_name(self.path.name + ".partial")

    def read(self) -> LedgerContents:
        """Parse the ledger (a missing file is an empty ledger).

        Raises:
            LedgerError: naming the file and line when a complete line is not a valid record.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return LedgerContents((), b"", ())
        except OSError as exc:
            raise LedgerError(f"{self.path}: cannot read the ledger ({exc})") from None
        end = data.rfind(b"\n") + 1
        body, partial = data[:end], data[end:]
        records: list[LedgerRecord] = []
        duplicates: list[LedgerRecord] = []
        seen: set[FrameRef] = set()
        for lineno, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rec = decode_record(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise LedgerError(
                    f"{self.path}, line {lineno}: not a valid ledger record ({type(exc).__name__}: "
                    f"{exc}); the file was left unchanged"
                ) from None
            ref = rec.annotation.ref
            if ref in seen and not rec.annotation.pseudo:
                duplicates.append(rec)
                continue
            if not rec.annotation.pseudo:
                seen.add(ref)
            records.append(rec)
        return LedgerContents(tuple(records), partial, tuple(duplicates))

    def recover(self) -> int:
        """Move an unterminated final line to ``ledger.jsonl.partial``; return its size in bytes.

        The fragment is appended to the ``.partial`` file and fsynced *before* the ledger is
        truncated, so a crash during recovery loses nothing either.
        """
        if not self.path.exists():
            return 0
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        fragment = data[end:]
        if not fragment:
            return 0
        with open(self.partial_path, "ab") as fh:
            fh.write(fragment + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        with open(self.path, "rb+") as fh:
            fh.truncate(end)
            fh.flush()
            os.fsync(fh.fileno())
        return len(fragment)

    def _write(self, fd: int, data: bytes) -> None:
        # a separate method so fault-injection tests can interrupt an append half-way
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    def append(self, records: Iterable[tuple[int, FrameAnnotation]]) -> int:
        """Append ``(cycle, annotation)`` records as complete lines and fsync; return the count.

        Raises:
            LedgerError: when the ledger ends with an unterminated line (call :meth:`recover`).
            OSError: the disk is full, read-only..., naming the ledger file. A write cut short
                leaves at most an unterminated last line, which :meth:`read` ignores and
                :meth:`recover` sets aside.
        """
        data = b"".join(encode_record(c, a) for c, a in records)
        if not data:
            return 0
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                raise LedgerError(f"{self.path}: ends with an incomplete line; recover it first")
            self._write(fd, data)
            os.fsync(fd)
        except OSError as exc:
            if exc.filename is not None or exc.errno is None:
                raise
            # os.write and os.fsync name no file: say which one could not be appended to
            raise OSError(
                exc.errno, exc.strerror or os.strerror(exc.errno), str(self.path)
            ) from exc
        finally:
            os.close(fd)
        return data.count(b"\n")
