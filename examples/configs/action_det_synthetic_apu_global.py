# Example config: the main job, APU selection over the whole pool on the synthetic action data.
#   asl-run --config examples/configs/action_det_synthetic_apu_global.py
# The same run as `asl-run --task action_det --scorer apu --selector global` (about 7 minutes on
# 2 CPU cores); change a value here or with --cfg-options, e.g. task.iterations=100 for a quick
# look. Every task parameter: docs/tasks/action_det.md; every plugin's: docs/configs.md.
task = dict(
    type="action_det",
    data_root="data/synthetic_actions",  # generated there on first use (about 8 s)
    # the generated dataset's size, default: synth=dict(num_train=200, num_test=50,
    #     min_frames=32, max_frames=64, size=64, seed=0)
    target="mask",  # pixel-wise ground truth, J-HMDB style ("box": UCF-101-24 style)
    encoder="tiny",  # "i3d" is the paper's encoder (configs/action_det/ucf101_24_i3d.py)
    iterations=400,  # training steps per cycle; the model is retrained from scratch each cycle
    mc_trials=10,  # T of eq. 1: Monte-Carlo dropout passes over every pool frame
)
scorer = dict(type="apu", tau=0.9, sigma=1.3, lam=0.5)  # paper §3.1 / §4 values
selector = dict(type="global")  # one budget over all frames of all videos (§4.4)
loss = dict(type="mgw", sigma=1.3)  # max-Gaussian weighted loss, eq. 4
oracle = dict(type="simulated")  # reveals the ground truth; cost = 2 clicks per actor
budget = dict(init_pct=5.0, step_pct=5.0, cycles=3)  # 5 % random, then +5 % three times
seed = 0
