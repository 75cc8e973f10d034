"""Does a trained model's uncertainty point at its errors? A diagnosis for APU (issue 5).

Uncertainty sampling (``gal``, ``aghdam``, ``apu``) can only beat random selection if the
frames it ranks high are frames the model gets wrong, and labelling them helps. This script
checks the first half of that on a finished (or partly finished) run, with the run's own
checkpoint, pool and labels:

1. loads the model trained in cycle ``--cycle`` and predicts ``T`` Monte-Carlo dropout trials
   on every pool video (``task.predict``, exactly what the loop's selection sees);
2. per frame: ``U`` of eq. 1 (``asl_strategies.scorers.apu.frame_uncertainty``, the run's
   ``tau``), the distance ``d`` to the nearest frame labelled so far, and the model's **error**
   on it: ``1 - IoU`` of the mean foreground probability thresholded at 0.5 against the true
   actor mask (``dataset.gt_mask``; a frame with no actor on either side has error 0);
3. over the unlabelled frames of the pool: Spearman's rank correlation of ``U`` and of ``d``
   with the error, pooled and within videos (mean over videos with 5+ unlabelled frames), and
   the mean error of the top ``--top`` % of frames by ``U``, by the APU score of eq. 3
   (computed once, without the selectors' re-scoring after each pick) and by distance, against
   the mean of all unlabelled frames (what random selection gets on average);
4. the frames with ``U = 0`` (no pixel above the non-activity threshold): how many, how many
   of them show an actor (missed actors: APU ranks them last on uncertainty) and their error;
5. what U prefers: the mean true actor area (share of the frame) of the top frames by ``U``
   against that of all unlabelled frames showing an actor, and Spearman's rho of ``U`` with the
   actor area (frames with an actor and ``U > 0``). U is a mean over *active* pixels, so a
   frame whose active region is mostly a blurry mask boundary scores high.

    python benchmarks/diagnose_uncertainty.py runs/table1/runs/apu-seed0 --cycle 0
    python benchmarks/diagnose_uncertainty.py RUN [RUN ...] --cycle 0 --record   # docs/results.md

Reads the run; writes nothing there. Needs the action_det task (its ground-truth masks).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, markdown_table, record, whole_outputs

from asl_core import MC_PROBS
from asl_core.ledger import Ledger
from asl_core.loop import build_components, labels_up_to, open_run, phase_rng
from asl_core.plugins import default_plugin_manager


def frame_table(run_root: Path, cycle: int) -> dict[str, np.ndarray]:
    """Per pool frame: video position, U, distance to the nearest label, error, actor, labelled."""
    from asl_strategies._frames import nearest_labelled_distance
    from asl_strategies.scorers.apu import DEFAULT_TAU, frame_uncertainty

    run, cfg, _ = open_run(run_root)
    comps = build_components(cfg, default_plugin_manager())
    task = comps.task
    pool = list(task.pool())
    labels = labels_up_to(Ledger(run.ledger_path).read(), cycle)
    ckpt = run.cycle_dir(cycle) / f"model{task.checkpoint_suffix}"
    if not ckpt.is_file():
        raise SystemExit(f"{ckpt}: no checkpoint for cycle {cycle}")
    model = task.load_checkpoint(ckpt)
    tau = float(cfg["scorer"].get("tau", DEFAULT_TAU))
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("video", "u", "dist", "error", "actor", "area", "labelled")
    }
    position = {v.id: i for i, v in enumerate(pool)}
    for index, video in enumerate(pool):
        # the generator the loop gives this video in this cycle
        rng = phase_rng(int(cfg["seed"]), cycle, "predict", index)
        video_id = video.id
        probs = whole_outputs(task, model, video, rng)[MC_PROBS]
        n = probs.shape[1]
        lab = labels.labelled(video_id)
        pred = probs[:, :, 1].mean(axis=0) > 0.5  # [F, H, W]
        gt = task.dataset.gt_mask(video_id).astype(bool)
        inter = (pred & gt).sum(axis=(1, 2))
        union = (pred | gt).sum(axis=(1, 2))
        iou = np.divide(inter, union, out=np.ones(n), where=union > 0)
        is_lab = np.zeros(n, dtype=bool)
        is_lab[lab] = True
        cols["video"].append(np.full(n, position[video_id]))
        cols["u"].append(frame_uncertainty(probs, tau, video=video_id))
        cols["dist"].append(nearest_labelled_distance(n, lab))
        cols["error"].append(1.0 - iou)
        cols["actor"].append(gt.any(axis=(1, 2)))
        cols["area"].append(gt.mean(axis=(1, 2)))
        cols["labelled"].append(is_lab)
    return {k: np.concatenate(v) for k, v in cols.items()}


def _within_video_rho(x: np.ndarray, y: np.ndarray, video: np.ndarray) -> float:
    rhos = []
    for v in np.unique(video):
        m = video == v
        if m.sum() >= 5 and np.ptp(x[m]) > 0 and np.ptp(y[m]) > 0:
            rhos.append(spearmanr(x[m], y[m]).statistic)
    return float(np.mean(rhos)) if rhos else float("nan")


def diagnose(t: dict[str, np.ndarray], top_pct: float, sigma: float, lam: float) -> dict:
    """The numbers of one run (unlabelled frames only)."""
    free = ~t["labelled"]
    u, d, err, video, actor, area = (
        t[k][free] for k in ("u", "dist", "error", "video", "actor", "area")
    )
    k = max(1, round(free.sum() * top_pct / 100))
    u_hat = (u - u.min()) / np.ptp(u) if np.ptp(u) > 0 else np.zeros_like(u)
    dist_term = 1.0 - np.exp(-0.5 * (np.minimum(d, 1e6) / sigma) ** 2)
    apu = lam * u_hat + (1 - lam) * dist_term
    # stable sorts, so ties keep pool order as the selectors do
    top = {
        name: err[np.argsort(-score, kind="stable")[:k]].mean()
        for name, score in (("U", u), ("APU", apu), ("distance", d))
    }
    zero = u == 0
    shown = actor & ~zero
    return {
        "area_all": float(area[actor].mean()),
        "area_top_u": float(area[np.argsort(-u, kind="stable")[:k]].mean()),
        "rho_u_area": float(spearmanr(u[shown], area[shown]).statistic),
        "frames": int(free.sum()),
        "mean_error": float(err.mean()),
        "rho_u": float(spearmanr(u, err).statistic),
        "rho_u_video": _within_video_rho(u, err, video),
        "rho_d": float(spearmanr(d, err).statistic),
        "rho_d_video": _within_video_rho(d, err, video),
        "top": {kk: float(v) for kk, v in top.items()},
        "u_zero": int(zero.sum()),
        "u_zero_actor": int((zero & actor).sum()),
        "u_zero_error": float(err[zero].mean()) if zero.any() else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="run directories (action_det)")
    p.add_argument("--cycle", type=int, default=0, help="the cycle whose model is diagnosed")
    p.add_argument("--top", type=float, default=5.0, help="top %% of frames compared (default 5)")
    p.add_argument("--record", action="store_true", help="append the table to docs/results.md")
    args = p.parse_args(argv)
    rows = []
    for root in args.runs:
        _, cfg, _ = open_run(root)
        sigma = float(cfg["scorer"].get("sigma", 1.3))
        lam = float(cfg["scorer"].get("lam", 0.5))
        r = diagnose(frame_table(root, args.cycle), args.top, sigma, lam)
        rows.append(
            [
                root.name,
                f"{r['frames']:,}",
                f"{r['mean_error']:.3f}",
                f"{r['top']['U']:.3f}",
                f"{r['top']['APU']:.3f}",
                f"{r['top']['distance']:.3f}",
                f"{r['rho_u']:+.2f} / {r['rho_u_video']:+.2f}",
                f"{r['rho_d']:+.2f} / {r['rho_d_video']:+.2f}",
                f"{r['u_zero']:,} ({r['u_zero_actor']:,}, {r['u_zero_error']:.2f})",
                f"{100 * r['area_top_u']:.1f} / {100 * r['area_all']:.1f}",
                f"{r['rho_u_area']:+.2f}",
            ]
        )
    headers = [
        "run",
        "unlabelled frames",
        "mean error (random)",
        f"top {args.top:g} % by U",
        f"top {args.top:g} % by APU",
        f"top {args.top:g} % by distance",
        "ρ(U, error) pooled / in video",
        "ρ(d, error) pooled / in video",
        "U = 0 frames (with actor, error)",
        f"actor area %: top {args.top:g} % by U / frames with an actor",
        "ρ(U, actor area)",
    ]
    table = markdown_table(headers, rows)
    print(table)
    if args.record:
        record(
            f"Uncertainty vs error of the cycle-{args.cycle} model",
            table,
            "Error = 1 - IoU of the thresholded mean foreground probability with the true "
            "mask, on unlabelled pool frames. See the script's docstring.",
            path=ROOT / "docs" / "results.md",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
