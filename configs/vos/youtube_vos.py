# YouTube-VOS 2019 (paper §4.5, Table 4) with STCN's backbones, for a GPU. Point task.data_root at
# your copy (train/ with JPEGImages, Annotations and meta.json: specs §C.1, docs/tasks/vos.md) and
# the backbone weights at torchvision ImageNet checkpoints you saved locally; nothing is
# downloaded.
#   asl-run data check --root /path/to/youtube-vos --dataset youtube_vos   # before the first run
#   asl-run --config configs/vos/youtube_vos.py --cfg-options task.data_root=/path/to/youtube-vos \
#       task.key_weights=/path/to/resnet50.pth task.value_weights=/path/to/resnet18.pth
# Local scores come from train videos held out with one in ten categories unseen (the valid
# split's masks beyond first frames are not public). The step count is a starting point, not
# the paper's (it gives none for VOS; STCN's main stage trains 150K steps of batch 4).
task = dict(
    type="vos",
    data_root="/path/to/youtube-vos",
    synthesize_if_missing=False,
    split="train",
    eval_split="holdout",
    val_videos=300,
    unseen_categories=6,  # of 65 training categories
    frame_size=(240, 432),  # 16:9, multiples of 16; STCN trains at 384 x 384 crops of 480p
    backbone="resnet",
    key_weights=None,  # e.g. "/models/resnet50-0676ba61.pth"
    value_weights=None,  # e.g. "/models/resnet18-f37072fd.pth"
    dropout=0.2,
    top_k=20,  # STCN's
    mem_every=5,  # STCN's
    max_objects=2,  # STCN trains on up to 2 objects per sample
    sample_frames=3,
    max_jump=5,
    static_fraction=0.3,
    iterations=20000,
    batch_size=4,
    lr=2e-5,  # STCN: 1e-5 (stage 3) to 2e-5
    lr_schedule="cosine",
    mc_trials=10,
    cache_videos=32,
    device="auto",
)
scorer = dict(type="apu", tau=0.9, sigma=1.3, lam=0.5)
selector = dict(type="global")
loss = dict(type="mgw", sigma=1.3)
oracle = dict(type="simulated")
budget = dict(init_pct=5.0, step_pct=5.0, cycles=3, total_pct=None)  # paper: 5 % initial
seed = 0
