# Example config for `asl-run compare --preset granularity`: frame-level vs sample-level
# selection, the paper's Fig. 6c-d. apu+videos labels whole videos ranked by mean APU score
# (the `video` selector) with the same budget; apu+frames is Table 1's APU run, reused:
#   asl-run compare --config examples/configs/compare_granularity.py --preset granularity \
#       --seeds 0 1 2 --jobs 2 --reuse runs/table1 --out runs/ablation-granularity
_base_ = ["compare_table1.py"]
