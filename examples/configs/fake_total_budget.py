# Example config: stop at a total budget instead of a cycle count, with the masking loss.
#   asl-run --config examples/configs/fake_total_budget.py
_base_ = ["fake_equidistant_local.py"]
scorer = dict(type="random")
selector = dict(type="global")
loss = dict(_delete_=True, type="masking")  # replace the base section, do not merge
budget = dict(cycles=None, total_pct=12.0, step_pct=3.0)
