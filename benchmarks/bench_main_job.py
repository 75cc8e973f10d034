"""The main job end to end: ``asl-run --task action_det --scorer apu --selector global``.

Runs exactly what ``make demo`` runs (in a fresh temporary work directory, on the synthetic data
in ``data/synthetic_actions``, generated first if missing) as a child process, and reports the
whole run's wall-clock time, the child's peak resident memory, and the seconds of each phase
summed over the cycles (from the run's ``summary.json``). Targets (issue 4): the whole run within
8 minutes and 3 GB on a 2-core CPU. ``--task vos`` times the default video-object-segmentation
run the same way (issue 7: the same targets), on ``data/synthetic_vos``.

    python benchmarks/bench_main_job.py [--task action_det|vos] [--record] [-- extra arguments]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, markdown_table, record

#: task → the metric the table ends with
HEADLINE = {"action_det": "v-mAP@0.5", "vos": "J&F"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=sorted(HEADLINE), default="action_det", help="which task")
    ap.add_argument("--record", action="store_true", help="append the table to docs/benchmarks.md")
    ap.add_argument("extra", nargs="*", help="more asl-run arguments (after --)")
    args = ap.parse_args()
    asl_run = Path(sys.executable).with_name("asl-run")
    work = Path(tempfile.mkdtemp(prefix="asl-main-job-"))
    try:
        run_dir = work / "run"
        command = ["--task", args.task, "--scorer", "apu", "--selector", "global"]
        cmd = [str(asl_run), *command, *args.extra, "--work-dir", str(run_dir), "--quiet"]
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        summary = json.loads((run_dir / "summary.json").read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    phases: dict[str, float] = {}
    for cycle in summary["cycles"]:
        for name, sec in cycle.get("seconds", {}).items():
            phases[name] = phases.get(name, 0.0) + sec
    last = summary["cycles"][-1]
    metric = HEADLINE[args.task]
    curve = " → ".join(f"{c['metrics'].get(metric, float('nan')):.3f}" for c in summary["cycles"])
    rows = [[f"phase: {name} (all cycles)", f"{sec:.1f}"] for name, sec in phases.items()]
    rows += [
        ["whole run, wall clock (s)", f"{wall:.1f}"],
        ["whole run (min)", f"{wall / 60:.2f}"],
        ["peak resident memory (MiB)", f"{peak_mib:.0f}"],
        ["cycles", str(len(summary["cycles"]))],
        ["final labelled frames (%)", f"{last['labelled_pct']:.1f}"],
        [f"{metric} by cycle", curve],
    ]
    table = markdown_table(["main job", "value"], rows)
    print(table)
    if args.record:
        record(
            f"Main job: asl-run --task {args.task} --scorer apu --selector global",
            table,
            ("What `make demo` runs" if args.task == "action_det" else "The default vos run")
            + ", as a child process in a fresh work directory (dataset already generated). "
            "Targets: at most 8 minutes and 3 GB on 2 CPU cores.",
        )


if __name__ == "__main__":
    main()
