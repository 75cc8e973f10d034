"""Run the performance benchmarks one after another (issue 9: one command runs them all).

Each benchmark is its own script (``python benchmarks/<name>.py --help``); this runs them as
child processes with the arguments below (``--quick``: their short versions), passes
``--record`` on so each appends its table to ``docs/benchmarks.md``, and prints how long each
took and whether it succeeded. A failing benchmark does not stop the others; the exit code is
1 if any failed. Quality measurements that go to ``docs/results.md`` (pseudo-label quality,
vos learning, uncertainty diagnosis) and the GPU smoke test are not performance benchmarks and
are left out unless named with ``--only``.

    python benchmarks/run_all.py [--quick] [--record] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: name → (full arguments, quick arguments)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "bench_global_selection": ([], ["--quick", "--repeat", "1"]),
    "bench_action_det_mc": ([], ["--repeat", "1"]),
    "bench_action_det_cycle": ([], ["--skip-full", "--iterations", "50"]),
    "bench_metrics": ([], ["--quick"]),
    "bench_main_job": ([], ["--", "--cycles", "1"]),
    "bench_distributed": ([], ["--quick"]),
    "bench_long_video": ([], ["--quick"]),
    "bench_data_loading": ([], ["--quick"]),
}

#: runnable with --only, not part of the default set (quality results or GPU-only)
EXTRA: dict[str, tuple[list[str], list[str]]] = {
    "bench_pseudo_labels": ([], ["--quick"]),
    "bench_vos_learning": ([], ["--iterations", "50"]),
    "gpu_smoke": ([], ["--device", "cpu", "--size", "112", "--batch", "2"]),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the short version of each benchmark")
    ap.add_argument("--record", action="store_true", help="each appends its table to the docs")
    ap.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=sorted({*BENCHMARKS, *EXTRA}),
        help="run only these (also the ones left out by default)",
    )
    args = ap.parse_args()
    table = {**BENCHMARKS, **EXTRA}
    names = args.only or list(BENCHMARKS)
    results = []
    for name in names:
        full, quick = table[name]
        extra = list(quick if args.quick else full)
        # --record goes before a "--" that hands the rest to asl-run (bench_main_job)
        if args.record:
            cut = extra.index("--") if "--" in extra else len(extra)
            extra = [*extra[:cut], "--record", *extra[cut:]]
        cmd = [sys.executable, str(HERE / f"{name}.py"), *extra]
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        start = time.perf_counter()
        code = subprocess.run(cmd, check=False).returncode
        results.append((name, code, time.perf_counter() - start))
    print("\n| benchmark | status | seconds |\n|---|---|---|")
    for name, code, seconds in results:
        print(f"| {name} | {'ok' if code == 0 else f'failed ({code})'} | {seconds:.0f} |")
    return 1 if any(code for _, code, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
