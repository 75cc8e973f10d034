"""Child processes of ``test_kill_matrix.py``: ``asl-run`` with one fault injected.

Usage::

    python kill_child.py SPEC_JSON ASL_RUN_ARGS...     # one run (for trying a spec by hand)
    python kill_child.py --serve                       # fork server (what the test uses)

``SPEC_JSON`` is one of

* ``{"kill": TARGET, "n": N, "when": WHEN, "match": TEXT}``: patch the function named by
  ``TARGET`` (see :data:`TARGETS`) so that its ``N``-th call (1-based; only calls whose path
  argument contains ``TEXT`` count when ``match`` is given) kills this process with
  ``SIGKILL``: ``"enter"`` before the real call, ``"exit"`` after it returned, ``"half"`` half
  way through it (only for targets that write bytes: the ledger write, the checkpoint write);
* ``{"count": PATH}``: no fault; count the calls of every target and write
  ``{target: calls}`` as JSON to ``PATH`` when ``asl-run`` returns (the test draws its random
  kill points from these counts);
* ``{}``: no fault.

then runs ``asl_core.cli.main(ASL_RUN_ARGS)`` and exits with its code (see :func:`serve` for
the server). ``SIGKILL`` cannot be caught, so nothing in the process (no ``finally``, no
``atexit``) runs after it, exactly as when the kernel or a user kills a real run.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: target name -> (module, attribute path of the function, index of its path argument or None)
TARGETS: dict[str, tuple[str, str, int | None]] = {
    "train": ("asl_core.testing", "FakeTask.train", None),
    "evaluate": ("asl_core.testing", "FakeTask.evaluate", None),
    # predict is called once per video (asl_core.scoring), so its calls count videos
    "predict": ("asl_core.testing", "FakeTask.predict", None),
    "save_checkpoint": ("asl_core.testing", "FakeTask.save_checkpoint", 2),
    "stats_put": ("asl_core.statscache", "StatsCache.put", None),
    "ledger_append": ("asl_core.ledger", "Ledger.append", None),
    "ledger_write": ("asl_core.ledger", "Ledger._write", None),
    # the loop writes selection.json (and every other JSON) through this name
    "loop_json": ("asl_core.loop", "atomic_write_json", 0),
    # inside every atomic write of the run directory: the rename, then the folder's fsync
    "replace": ("os", "replace", 1),
    "fsync_dir": ("asl_core.rundir", "_fsync_dir", 0),
    "fsync": ("os", "fsync", None),
    "write_request": ("asl_oracles.exchange_oracle", "ExchangeOracle.write_request", 3),
}

#: seconds a forked child may run (the runs here take about one)
CHILD_TIMEOUT_S = 120

#: what the fork server imports once for all its children (asl-run's own imports and the
#: plugins these runs load)
PRELOAD = (
    "asl_core.cli",
    "asl_core.handoff",
    "asl_core.loop",
    "asl_core.testing",
    "asl_oracles.coco",
    "asl_oracles.exchange_oracle",
    "asl_oracles.simulated",
    "asl_strategies.losses.mgw",
    "asl_strategies.scorers.apu",
    "asl_strategies.selectors.global_greedy",
)


def die() -> None:
    """Kill this process the way ``kill -9`` does."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _owner_and_name(target: str) -> tuple[Any, str]:
    module_name, path, _ = TARGETS[target]
    owner: Any = __import__(module_name, fromlist=["_"])
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    return owner, name


def _half(target: str, real: Callable[..., Any], args: tuple[Any, ...], kwargs: Any) -> None:
    """Do half of a byte-writing call, then die."""
    if target == "ledger_write":
        _self, fd, data = args
        # cut in the middle of the line that holds the middle byte: a cut on a line boundary
        # would tear nothing
        mid = len(data) // 2
        start = data.rfind(b"\n", 0, mid) + 1
        end = data.find(b"\n", mid)
        real(_self, fd, data[: (start + end + 1) // 2])
    elif target == "save_checkpoint":
        real(*args, **kwargs)
        path = Path(args[2])
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        raise SystemExit(f"kill_child: target {target!r} has no 'half' mode")
    die()


def install_kill(target: str, n: int, when: str, match: str | None) -> None:
    """Patch ``target`` to die on its ``n``-th (matching) call (see the module doc)."""
    owner, name = _owner_and_name(target)
    real = getattr(owner, name)
    path_arg = TARGETS[target][2]
    if match is not None and path_arg is None:
        raise SystemExit(f"kill_child: target {target!r} has no path to match")
    calls = 0

    @functools.wraps(real)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        if match is not None and match not in str(args[path_arg]):
            return real(*args, **kwargs)
        calls += 1
        if calls != n:
            return real(*args, **kwargs)
        if when == "enter":
            die()
        if when == "half":
            _half(target, real, args, kwargs)
        result = real(*args, **kwargs)
        die()
        return result

    setattr(owner, name, wrapper)


def install_counters() -> dict[str, int]:
    """Patch every target to count its calls; return the live counts."""
    counts = dict.fromkeys(TARGETS, 0)
    for target in TARGETS:
        owner, name = _owner_and_name(target)
        real = getattr(owner, name)

        def wrapper(*args: Any, _real: Any = real, _target: str = target, **kwargs: Any) -> Any:
            counts[_target] += 1
            return _real(*args, **kwargs)

        setattr(owner, name, functools.wraps(real)(wrapper))
    return counts


def run(spec: dict[str, Any], argv: list[str]) -> int:
    """Install ``spec``'s fault or counters (see the module doc) and run ``asl-run argv``."""
    counts: dict[str, int] | None = None
    if "kill" in spec:
        install_kill(spec["kill"], int(spec["n"]), spec.get("when", "enter"), spec.get("match"))
    elif "count" in spec:
        counts = install_counters()
    from asl_core.cli import main as asl_run

    code = asl_run(argv)
    if counts is not None:
        Path(spec["count"]).write_text(json.dumps(counts))
    return code


def serve() -> None:
    """Fork server: import the toolkit once, then for each request line on stdin
    (``{"spec", "argv", "stdout", "stderr"}``) fork a child that runs :func:`run` with its
    output in those files, wait for it and answer ``{"returncode": N}`` on stdout (``-9`` for
    ``SIGKILL``). Each child is a real, separate process; only the interpreter start and the
    imports (about 0.3 s of the 0.45 s a fresh ``asl-run`` takes) are shared. The server is
    single-threaded, so forking it is safe."""
    for module in PRELOAD:
        __import__(module)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child never returns into this loop
            code = 1
            try:
                signal.alarm(CHILD_TIMEOUT_S)  # a hung child dies (exit -14), the test goes on
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                for fd, name in ((1, "stdout"), (2, "stderr")):
                    out = os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(out, fd)
                code = run(request["spec"], request["argv"])
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        sys.exit(run(json.loads(sys.argv[1]), sys.argv[2:]))
