# Example config: the third-party scorer of examples/asl-scorer-example on the instant numpy
# task (under a second), a quick check that the plugin is installed and works.
#   asl-run --config examples/configs/fake_motion_margin.py
task = dict(type="fake", num_videos=20, min_frames=30, max_frames=80, train_steps=80)
scorer = dict(type="motion_margin", gamma=2.0)  # weigh the prediction change more
selector = dict(type="global")
loss = dict(type="mgw", sigma=1.3)
budget = dict(init_pct=2.0, step_pct=2.0, cycles=3)
seed = 0
