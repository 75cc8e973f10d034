# Example config for `asl-run compare --preset loss`: the sparse loss of the paper's Fig. 4, APU
# selection trained with MGW (eq. 4), interpolation or masking. The apu+mgw runs are Table 1's
# APU runs, copied from a finished Table 1 grid (compare_table1.py) instead of run again:
#   asl-run compare --config examples/configs/compare_loss.py --preset loss \
#       --seeds 0 1 2 --jobs 2 --reuse runs/table1 --out runs/ablation-loss
# The preset switches `loss` per method: the interpolation and masking arms drop the shared
# config's loss parameters (sigma, MGW's), the mgw arm keeps them.
_base_ = ["compare_table1.py"]
