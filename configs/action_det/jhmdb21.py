# J-HMDB-21 as in the paper (§4, Table 1-2): 3 % initial frames, +3 % per cycle, up to 9 %.
# Placeholder with the paper's values: the J-HMDB loader details (three splits, real PNG frames
# at 320x240) and the I3D encoder arrive with issue 6. Point task.data_root
# at your copy of the dataset; nothing is downloaded.
task = dict(
    type="action_det",
    data_root="/path/to/JHMDB",
    gt_file="JHMDB-GT.pkl",
    frames_dir="Frames",
    frame_pattern="{:05d}.png",
    masks_dir="puppet_mask",
    split=1,
    synthesize_if_missing=False,
    target="mask",  # pixel-wise puppet masks; pseudo-label = nearest labelled mask
    clip_len=8,
    clip_stride=2,
    encoder="tiny",  # the paper uses I3D (Charades weights): issue 6
    dropout=0.5,
    iterations=22000,
    batch_size=8,
    lr=5e-5,
    mc_trials=10,
    device="auto",
)
scorer = dict(type="apu", tau=0.9, sigma=1.3, lam=0.5)  # paper §3.1 / §4
selector = dict(type="global")
loss = dict(type="mgw", sigma=1.3)
oracle = dict(type="simulated")
budget = dict(init_pct=3.0, step_pct=3.0, cycles=2, total_pct=None)
seed = 0
