# Defaults of every ASL run. A user config (``--config``) is merged over this file; see
# docs/configs.md. The default task is the tiny numpy-only ``fake`` task of
# ``asl_core.testing``, so that the core runs (and its tests pass) without any plugin package;
# the main job names its task: asl-run --task action_det --scorer apu --selector global.
task = dict(type="fake")
scorer = dict(type="random")
selector = dict(type="global")
loss = dict(type="mgw", sigma=1.3)
oracle = dict(type="simulated")
# step_cost/total_cost: budgets in annotation cost (the oracle's unit) instead of frames
budget = dict(init_pct=5.0, step_pct=5.0, cycles=3, total_pct=None, step_cost=None, total_cost=None)
seed = 0
