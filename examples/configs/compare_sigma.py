# Example config for `asl-run compare --preset sigma`: the width sigma of APU's distance term
# (eq. 2; paper appendix C.1), 0.65, 1.3, 2.6 and 5.2 frames. Only the scorer's sigma changes:
# the MGW loss keeps sigma = 1.3. Four runs per seed:
#   asl-run compare --config examples/configs/compare_sigma.py --preset sigma \
#       --seeds 0 1 2 --jobs 2 --out runs/ablation-sigma
# ("apu, sigma 1.3" trains the same model as Table 1's APU run, but its config spells
# scorer.sigma = 1.3 and --reuse copies only runs whose configs are equal as written, so it is
# run again.)
_base_ = ["compare_table1.py"]
