# Example config: video object segmentation (paper §4.5) with APU on the synthetic
# YouTube-VOS-layout data, sized for a 2-core CPU (about 4.5 minutes).
#   asl-run --config examples/configs/vos_synthetic_apu_global.py
# The same run as `asl-run --task vos --scorer apu --selector global`. The paper's Table 4 grid
# on it (random, equidistant, Gal, Aghdam, APU; 3 seeds):
#   asl-run compare --config examples/configs/vos_synthetic_apu_global.py --preset table1 \
#       --seeds 0 1 2 --jobs 2 --out runs/table4
# Every task parameter: docs/tasks/vos.md; a real YouTube-VOS config: configs/vos/youtube_vos.py.
task = dict(
    type="vos",
    data_root="data/synthetic_vos",  # generated there on first use
    # the generated dataset's size, default: synth=dict(num_videos=60, min_frames=12,
    #     max_frames=24, size=(64, 112), seed=0)
    eval_split="holdout",  # the valid split's masks are not public: hold out train videos
    val_videos=16,
    unseen_categories=1,  # a category seen only in held-out videos ("unseen" J and F)
    backbone="tiny",  # "resnet": STCN's ResNet-50 / ResNet-18 (for a GPU)
    iterations=600,
    mc_trials=5,
)
scorer = dict(type="apu", tau=0.9, sigma=1.3, lam=0.5)
selector = dict(type="global")
loss = dict(type="mgw", sigma=1.3)
oracle = dict(type="simulated")
budget = dict(init_pct=5.0, step_pct=5.0, cycles=3)  # paper: 5 % initial frames for YouTube-VOS
seed = 0
