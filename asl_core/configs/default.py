# Defaults of every ASL run. A user config (``--config``) is merged over this file; see
# docs/configs.md. Until the action-detection task lands the default task is the tiny
# numpy-only ``fake`` task of ``asl_core.testing``.
task = dict(type="fake")
scorer = dict(type="random")
selector = dict(type="global")
loss = dict(type="mgw", sigma=1.3)
oracle = dict(type="simulated")
budget = dict(init_pct=5.0, step_pct=5.0, cycles=3, total_pct=None)
seed = 0
