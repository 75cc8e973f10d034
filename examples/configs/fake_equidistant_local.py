# Example config: the numpy `fake` task with equidistant scoring and per-video (local) selection.
#   asl-run --config examples/configs/fake_equidistant_local.py
# Anything not set here comes from asl_core/configs/default.py; see docs/configs.md.
task = dict(type="fake", num_videos=20, min_frames=30, max_frames=80, train_steps=80)
scorer = dict(type="equidistant")
selector = dict(type="local")
loss = dict(type="mgw", sigma=1.3)
budget = dict(init_pct=2.0, step_pct=2.0, cycles=4)
seed = 1
