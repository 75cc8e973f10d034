"""Entry point of the video-object-segmentation plugin: lazy factories only (no torch at import)."""

from __future__ import annotations

from asl_core import RegisterFn, hookimpl


@hookimpl
def register_tasks(register: RegisterFn) -> None:
    """Semi-supervised VOS (paper §4.5): STCN-style memory network from sparse frame labels."""
    register(
        "vos",
        "asl_vos.task:VosTask",
        summary="STCN-style video object segmentation on YouTube-VOS; synthetic by default; J, F, J&F",
    )


@hookimpl
def register_datasets(register: RegisterFn) -> None:
    """The synthetic VOS dataset and the YouTube-VOS layout (synth, stats, check)."""
    register(
        "youtube_vos",
        "asl_vos.datatools:YouTubeVosDatasetTool",
        summary="YouTube-VOS 2018/2019 layout (JPEGImages, palette Annotations, meta.json); stats, check",
    )
    register(
        "synthetic_vos",
        "asl_vos.datatools:SyntheticVosDataset",
        summary="textured shapes moving, occluding, entering and leaving; the YouTube-VOS layout",
    )


@hookimpl
def register_evaluators(register: RegisterFn) -> None:
    """J, F and J&F of palette-mask prediction folders (``asl-run eval vos``)."""
    register(
        "vos",
        "asl_vos.evaluator:VosEvaluator",
        summary="region J and boundary F (DAVIS Python definitions), seen / unseen; YouTube-VOS layout",
    )
