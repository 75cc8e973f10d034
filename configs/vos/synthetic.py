# Video object segmentation (paper §4.5, Table 4) on the embedded synthetic YouTube-VOS-layout
# dataset, sized for a 2-core CPU (docs/tasks/vos.md, docs/benchmarks.md).
#   asl-run --config configs/vos/synthetic.py
# These are the task's defaults written out; `asl-run --task vos` runs the same.
task = dict(
    type="vos",
    data_root="data/synthetic_vos",  # generated on first use (or: asl-run data synth --dataset synthetic_vos)
    synth=dict(num_videos=60, min_frames=12, max_frames=24, size=(64, 112), seed=0),
    eval_split="holdout",  # valid ground truth is not public: hold out train videos
    val_videos=16,
    unseen_categories=1,  # a category only in held-out videos: the "unseen" objects
    backbone="tiny",
    dropout=0.2,
    top_k=20,
    mem_every=5,
    sample_frames=3,  # STCN: 3-frame samples
    max_jump=3,
    static_fraction=0.5,  # affine warps of single labelled frames (STCN stage 0)
    iterations=600,
    batch_size=4,
    lr=1e-3,
    mc_trials=5,
)
scorer = dict(type="apu", tau=0.9, sigma=1.3, lam=0.5)
selector = dict(type="global")
loss = dict(type="mgw", sigma=1.3)
oracle = dict(type="simulated")
budget = dict(
    init_pct=5.0, step_pct=5.0, cycles=3, total_pct=None
)  # paper: 5 % initial for YouTube-VOS
seed = 0
