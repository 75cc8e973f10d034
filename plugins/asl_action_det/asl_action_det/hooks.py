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
    """The embedded synthetic action dataset, and stats/check/labels of the real datasets."""
    register(
        "synthetic_actions",
        "asl_action_det.synth:SyntheticActionsDataset",
        summary="articulated actors whose classes differ by motion; J-HMDB layout + ACT pickle",
    )
    register(
        "ucf101_24",
        "asl_action_det.datatools:Ucf101DatasetTool",
        summary="UCF-101-24: corrected .mat annotations, ASL pickles or UCF101v2-GT.pkl; stats, check, labels",
    )
    register(
        "jhmdb21",
        "asl_action_det.datatools:Jhmdb21DatasetTool",
        summary="J-HMDB-21: JHMDB-GT.pkl or split files, PNG frames, puppet masks; stats, check, labels",
    )
    register(
        "act",
        "asl_action_det.datatools:ActDatasetTool",
        summary="any folder in the ACT layout (*-GT.pkl and frame folders); stats, check, labels",
    )


@hookimpl
def register_evaluators(register: RegisterFn) -> None:
    """Box-detection frame-AP / video-AP over ACT-format detection files (``asl-run eval``)."""
    register(
        "act",
        "asl_action_det.act_eval:ActEvaluator",
        summary="frame-AP and video-AP of ACT-format detections; presets act (ACT) and voc",
    )
