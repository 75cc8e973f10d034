"""Entry point of the action-detection plugin: lazy factories only (no torch at import)."""

from __future__ import annotations

from asl_core import RegisterFn, hookimpl


@hookimpl
def register_tasks(register: RegisterFn) -> None:
    """The paper's task: capsule action detector trained from sparse frame labels."""
    register(
        "action_det",
        "asl_action_det.task:ActionDetTask",
        summary="capsule action detector (paper §3.3) on an ACT-style dataset; synthetic by default",
    )


@hookimpl
def register_datasets(register: RegisterFn) -> None:
    """The embedded synthetic action dataset (J-HMDB-like layout, ACT ground-truth pickle)."""
    register(
        "synthetic_actions",
        "asl_action_det.synth:SyntheticActionsDataset",
        summary="articulated actors whose classes differ by motion; J-HMDB layout + ACT pickle",
    )


@hookimpl
def register_evaluators(register: RegisterFn) -> None:
    """Box-detection frame-AP / video-AP over ACT-format detection files (``asl-run eval``)."""
    register(
        "act",
        "asl_action_det.act_eval:ActEvaluator",
        summary="frame-AP and video-AP of ACT-format detections; presets act (ACT) and voc",
    )
