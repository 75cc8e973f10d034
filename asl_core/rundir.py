"""The run directory: atomic writes, the run lock and the layout.

Layout::

    <run>/config.py              merged config (mmengine), written once at start
    <run>/config.json            the same as JSON: what --resume reads (no code is executed)
    <run>/state.json             status, cycle, phase: rewritten atomically
    <run>/ledger.jsonl           append-only, fsynced: every purchased annotation
    <run>/ledger.jsonl.partial   fragments of interrupted appends, kept (never deleted)
    <run>/cycles/NNN/            selection.json, model checkpoint, metrics.json
    <run>/.lock                  held (flock) while a process works on the run

Every file except the ledger is written with :func:`atomic_write_bytes` (temporary file in the
same folder, fsync, rename, fsync of the folder), so a reader sees either the old or the new
content, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from .errors import RunDirError

__all__ = ["RunDir", "atomic_write_bytes", "atomic_write_json", "atomic_write_with", "read_json"]

FORMAT_VERSION = 1


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_with(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` then atomically move ``tmp_path`` to ``path``.

    The temporary file lives in the same folder (rename is atomic only within a filesystem) and
    is removed if ``write`` fails, so ``path`` is either untouched or complete.

    Raises:
        OSError: as raised (a full disk, a read-only folder...), with ``path`` as its
            ``filename`` when the failing call named no file, so messages say what could not
            be written.
    """
    path = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        _reraise_naming(exc, path)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            _reraise_naming(exc, path)
        raise
    _fsync_dir(path.parent)


def _reraise_naming(exc: OSError, path: Path) -> NoReturn:
    """Raise ``exc``, or when it names no file (``write`` and ``fsync`` failures such as
    ENOSPC or EIO carry none) the same error, of the same ``OSError`` subclass, naming ``path``."""
    if exc.filename is not None or exc.errno is None:
        raise exc
    raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write_with`)."""
    atomic_write_with(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def read_json(path: Path, what: str) -> Any:
    """Read a JSON file, raising :class:`RunDirError` naming the file when it is unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing {what}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{path}: corrupt {what} ({exc})") from None


class RunDir:
    """Paths of one run directory and its lock."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    config_path = property(lambda self: self.root / "config.py")
    config_json_path = property(lambda self: self.root / "config.json")
    state_path = property(lambda self: self.root / "state.json")
    ledger_path = property(lambda self: self.root / "ledger.jsonl")
    lock_path = property(lambda self: self.root / ".lock")

    def cycle_dir(self, cycle: int) -> Path:
        """``<run>/cycles/NNN`` (not created)."""
        return self.root / "cycles" / f"{cycle:03d}"

    def is_run(self) -> bool:
        """True when the folder looks like an ASL run (has its config and state)."""
        return self.config_json_path.is_file() and self.state_path.is_file()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the run for the duration of the block.

        Raises:
            RunDirError: when another process holds it (two processes must never append to the
                same ledger).
        """
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    raise RunDirError(
                        f"{self.root}: the run is in use by another process (pid {holder}); "
                        "wait for it to finish"
                    ) from None
                raise
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock
