# Example config: the third-party scorer of examples/asl-scorer-example on the action task.
#   pip install -e examples/asl-scorer-example     # once (`make install` does it)
#   asl-run --config examples/configs/action_det_synthetic_motion_margin.py
# Everything but the scorer comes from the main-job example; compare the two with
#   asl-run compare --config examples/configs/action_det_synthetic_apu_global.py \
#       --methods apu motion_margin --seeds 0 1 2 --out runs/cmp-motion-margin
_base_ = ["action_det_synthetic_apu_global.py"]
# margin uncertainty x (1 + gamma * prediction change to the neighbour frames), mixed with
# APU's distance term (examples/asl-scorer-example/README.md)
scorer = dict(type="motion_margin", tau=0.9, gamma=1.0, sigma=1.3, lam=0.5)
