# Example config for `asl-run compare --preset step`: the budget step of the paper's Fig. 1, APU
# buying 1 % or 5 % of the pool's frames per cycle until 20 % are labelled (the preset sets
# budget.step_pct, budget.cycles=None and budget.total_pct=20). Like Fig. 1 it starts from 1 %
# random frames (at least one frame per video, so about 2 % on the synthetic data). The 1 % arm
# trains about 19 times per seed, about 40 minutes on 2 CPU cores:
#   asl-run compare --config examples/configs/compare_step.py --preset step \
#       --seeds 0 1 2 --jobs 2 --out runs/ablation-step
# Its cells differ from Table 1's (another budget), so there is nothing to reuse.
_base_ = ["compare_table1.py"]
budget = dict(init_pct=1.0)
