# Example config for `asl-run compare --preset table1` (the default preset): the paper's Table 1
# and Fig. 5 grid, random, equidistant, Gal, Aghdam and APU selection, every one trained with the
# MGW loss, on the synthetic action data; 15 runs of about 7 minutes each on 2 CPU cores:
#   asl-run compare --config examples/configs/compare_table1.py --preset table1 \
#       --seeds 0 1 2 --jobs 2 --out runs/table1
# A preset gives each method a few overrides of this shared config (asl_core/grid.py PRESETS;
# docs/cli.md "Comparing strategies"). This config is exactly what `asl-run compare --task
# action_det` runs, the grid of docs/results.md, and the ablation configs (compare_loss.py ...)
# start from it: their APU runs equal this grid's, so `--reuse runs/table1` copies them.
task = dict(type="action_det")  # the task's defaults: synthetic data, tiny encoder, CPU sizes
selector = dict(type="global")
loss = dict(type="mgw", sigma=1.3)
oracle = dict(type="simulated")
budget = dict(init_pct=5.0, step_pct=5.0, cycles=3)  # 5 % random, then +5 % three times
