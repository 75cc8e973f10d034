# Action detection on the embedded synthetic dataset, sized for a 2-core CPU.
#   asl-run --config configs/action_det/synthetic.py
# The dataset is generated into task.data_root on first use (or: asl-run data synth --out DIR).
task = dict(
    type="action_det",
    data_root="data/synthetic_actions",
    gt_file="SynthActions-GT.pkl",
    synth=dict(num_train=200, num_test=50, min_frames=32, max_frames=64, size=64, seed=0),
    target="mask",  # pixel-wise ground truth (J-HMDB style)
    clip_len=8,  # paper: 8-frame clips at stride 2
    clip_stride=2,
    encoder="tiny",
    dropout=0.3,
    dropout_in="head",
    iterations=400,  # about 60 s on 2 cores (docs/benchmarks.md)
    batch_size=4,
    lr=1e-3,
    lr_schedule="cosine",  # decays to 0 over the cycle: far less seed-to-seed noise
    mc_trials=10,  # T of eq. 1
)
scorer = dict(type="apu", tau=0.9, sigma=1.3, lam=0.5)  # paper §3.1 / §4 values
selector = dict(type="global")
loss = dict(type="mgw", sigma=1.3)  # paper §4: sigma = 1.3
oracle = dict(type="simulated")
# the out-of-the-box schedule (asl-run's defaults); the paper starts UCF-101 at 1 %
budget = dict(init_pct=5.0, step_pct=5.0, cycles=3, total_pct=None)
seed = 0
