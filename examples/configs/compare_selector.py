# Example config for `asl-run compare --preset selector`: global vs local selection, the paper's
# Fig. 6a-b. `global` spends each cycle's budget over all frames of all videos; `local` gives
# every video the same share (§4.4). apu+global is Table 1's APU run, reused:
#   asl-run compare --config examples/configs/compare_selector.py --preset selector \
#       --seeds 0 1 2 --jobs 2 --reuse runs/table1 --out runs/ablation-selector
_base_ = ["compare_table1.py"]
