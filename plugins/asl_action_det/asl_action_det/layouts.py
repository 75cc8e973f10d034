"""Open a dataset folder in one of the supported layouts as an :class:`.dataset.ActionDataset`.

Three formats (``task.dataset`` and the ``asl-run data`` tools of the same names):

``"act"``
    ACT ground-truth pickle (``gt_file``: ``UCF101v2-GT.pkl``, ``JHMDB-GT.pkl``, the synthetic
    ``SynthActions-GT.pkl``) with frame folders; puppet masks when ``masks_dir`` exists.
``"ucf101_24"``
    UCF-101-24 from the corrected annotations (``trainAnnot.mat`` + ``testAnnot.mat``, or
    ``finalAnnots.mat`` + ``testlist01.txt``), from the official ASL pickles
    (``training_annots.pkl`` + ``testing_annots.pkl``; their video lengths are counted in the
    frame folders or video files), or from ACT's ``UCF101v2-GT.pkl`` (``gt_file``). Boxes only.
``"jhmdb21"``
    J-HMDB-21 from ACT's ``JHMDB-GT.pkl`` (``gt_file``) or, with ``gt_file=None``, from the
    release's split files and puppet masks (:func:`.jhmdb.jhmdb_ground_truth`); pixel-wise
    ground truth from ``puppet_mask``.

Frames come from frame folders (``frames_dir`` + ``frame_pattern``) or, when ``videos_dir`` is
set, from video files ``<videos_dir>/<class>/<video><video_ext>`` decoded with PyAV.
Relative paths are relative to the dataset folder.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen, validators

from asl_core import ConfigError, Progress

from .dataset import ActionDataset, as_frame_size, load_act_gt
from .video import FrameFolders, VideoFiles, check_pattern

__all__ = [
    "DATASETS",
    "LAYOUT_DEFAULTS",
    "DatasetLayout",
    "as_frame_size",
    "open_dataset",
    "source_of",
]

log = logging.getLogger(__name__)

DATASETS = ("act", "ucf101_24", "jhmdb21")

#: Each format's default layout (the public releases' folder names; docs/datasets.md).
LAYOUT_DEFAULTS: dict[str, dict[str, Any]] = {
    "act": {},
    "ucf101_24": {
        "train_annotations": "trainAnnot.mat",
        "test_annotations": "testAnnot.mat",
        "frames_dir": "rgb-images",
        "frame_pattern": "{:05d}.jpg",
        "masks_dir": None,
    },
    "jhmdb21": {"gt_file": "JHMDB-GT.pkl"},
}


@frozen
class DatasetLayout:
    """Where a dataset's files are (paths relative to the dataset folder, or absolute).

    Attributes:
        gt_file: ACT ground-truth pickle (``act``; ``ucf101_24`` when no
            ``train_annotations``; ``jhmdb21``, where ``None`` builds the ground truth from the
            split files and masks).
        train_annotations: ``ucf101_24``: ``trainAnnot.mat``, ``finalAnnots.mat`` or an ASL
            pickle (``training_annots.pkl``).
        test_annotations: ``ucf101_24``: ``testAnnot.mat`` or ``testing_annots.pkl``.
        split_list: ``ucf101_24``: a list of test videos (``testlist01.txt``) that splits a
            single ``train_annotations`` file (``finalAnnots.mat``) in two.
        splits_dir: ``jhmdb21``: folder of ``<class>_test_split<k>.txt``.
        frames_dir, frame_pattern: frame folders ``<frames_dir>/<video>/<pattern % n>``.
        videos_dir, video_ext: read ``<videos_dir>/<video><video_ext>`` with PyAV instead of
            frame folders (``None``: frame folders).
        masks_dir: puppet masks ``<masks_dir>/<video>/puppet_mask.mat``; ``None`` = boxes only.
        split: 1-based train/test split (J-HMDB has 3).
        frame_size: ``(H, W)`` to resize every frame (masks, boxes) to; ``None`` = the files'.
        resolution: ``(H, W)`` of the files, for formats that do not store it (the UCF-101-24
            ``.mat`` and ASL pickles: 240 x 320).
    """

    gt_file: str | None = None
    train_annotations: str | None = None
    test_annotations: str | None = None
    split_list: str | None = None
    splits_dir: str = "splits"
    frames_dir: str = "Frames"
    frame_pattern: str = field(default="{:05d}.png")
    videos_dir: str | None = None
    video_ext: str = ".avi"
    masks_dir: str | None = "puppet_mask"
    split: int = field(default=1, converter=int, validator=validators.ge(1))
    frame_size: tuple[int, int] | None = field(default=None, converter=as_frame_size)
    resolution: tuple[int, int] = field(
        default=(240, 320), converter=as_frame_size, validator=validators.instance_of(tuple)
    )

    @frame_pattern.validator
    def _check_pattern(self, attribute: Any, value: str) -> None:
        try:
            check_pattern(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @classmethod
    def for_dataset(cls, dataset: str, overrides: Mapping[str, Any] | None = None) -> DatasetLayout:
        """The default layout of ``dataset`` with ``overrides`` applied.

        Raises:
            ConfigError: for an unknown dataset, key or value.
        """
        from asl_core import parse_params

        if dataset not in LAYOUT_DEFAULTS:
            raise ConfigError(f"unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
        return parse_params(
            cls, {**LAYOUT_DEFAULTS[dataset], **dict(overrides or {})}, where=f"dataset {dataset!r}"
        )


def _path(root: Path, value: str, key: str, where: str) -> Path:
    path = Path(value).expanduser()
    path = path if path.is_absolute() else root / path
    if not path.exists():
        raise ConfigError(f"{path}: not found ({where}.{key})")
    return path


def source_of(root: str | Path, layout: DatasetLayout) -> FrameFolders | VideoFiles:
    """The frame source a layout names under ``root``."""
    root = Path(root)
    if layout.videos_dir is not None:
        return VideoFiles(root / layout.videos_dir, layout.video_ext)
    return FrameFolders(root / layout.frames_dir, layout.frame_pattern)


def _counts(source: FrameFolders | VideoFiles, videos: Any) -> dict[str, int]:
    return {v: source.count(v) for v in videos}


def open_dataset(
    dataset: str,
    root: str | Path,
    layout: DatasetLayout,
    *,
    where: str = "task",
    cache_bytes: int = 512 * 2**20,
    progress: Progress | None = None,
) -> ActionDataset:
    """Open ``root`` as a ``dataset`` (``"act"``, ``"ucf101_24"`` or ``"jhmdb21"``).

    Args:
        dataset: the format (module docstring).
        root: the dataset folder.
        layout: where its files are.
        where: the config section the layout's keys come from, for messages.
        cache_bytes: bound of the decoded-frames cache.
        progress: reports slow steps (reading every J-HMDB mask).

    Returns:
        The dataset; ``initial_labels`` holds an ASL pickle's annotated frames.

    Raises:
        ConfigError: for an unknown format, a missing file or folder the layout names, or a
            combination of keys that does not describe train and test videos.
        DatasetError: when an annotation file is unreadable or inconsistent (naming it).
    """
    from .annotations import assemble_ground_truth, read_video_list, split_by_list
    from .jhmdb import jhmdb_ground_truth
    from .ucf101 import UCF101_24_CLASSES, load_ucf_annotations

    root = Path(root).expanduser()
    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
    if not root.is_dir():
        raise ConfigError(f"{root}: dataset folder not found ({where}.data_root)")
    source = source_of(root, layout)
    if not source.folder.is_dir():
        key = "videos_dir" if isinstance(source, VideoFiles) else "frames_dir"
        raise ConfigError(f"{source.folder}: folder not found ({where}.{key})")
    initial = None
    if dataset == "act":
        if layout.gt_file is None:
            raise ConfigError(f"dataset 'act' needs {where}.gt_file (an ACT ground-truth pickle)")
        gt = load_act_gt(_path(root, layout.gt_file, "gt_file", where))
    elif dataset == "ucf101_24" and layout.train_annotations is not None:
        kw = {"resolution": layout.resolution}
        train = load_ucf_annotations(
            _path(root, layout.train_annotations, "train_annotations", where), **kw
        )
        if layout.test_annotations is not None and layout.split_list is not None:
            raise ConfigError(
                f"{where}.split_list splits a single annotation file (finalAnnots.mat); it "
                f"cannot be combined with {where}.test_annotations"
            )
        if layout.test_annotations is not None:
            test = load_ucf_annotations(
                _path(root, layout.test_annotations, "test_annotations", where), **kw
            )
        elif layout.split_list is not None:
            listed = _path(root, layout.split_list, "split_list", where)
            train, test = split_by_list(train, read_video_list(listed), str(listed))
        else:
            raise ConfigError(
                f"dataset 'ucf101_24' needs test videos: set {where}.test_annotations "
                f"(testAnnot.mat) or {where}.split_list (testlist01.txt, splitting "
                f"finalAnnots.mat)"
            )
        if train.nframes is None:
            train = train.with_nframes(_counts(source, train.videos), str(source.folder))
        if test.nframes is None:
            test = test.with_nframes(_counts(source, test.videos), str(source.folder))
        gt = assemble_ground_truth(train, test)
        initial = train.labelled
    elif dataset == "ucf101_24":
        if layout.gt_file is None:
            raise ConfigError(
                f"dataset 'ucf101_24' needs {where}.train_annotations (trainAnnot.mat, "
                f"finalAnnots.mat, training_annots.pkl) or {where}.gt_file (UCF101v2-GT.pkl)"
            )
        gt = load_act_gt(_path(root, layout.gt_file, "gt_file", where))
        if gt.labels != UCF101_24_CLASSES:
            log.warning("%s: the classes differ from UCF-101-24's 24 classes", gt.source)
    elif layout.gt_file is not None:  # jhmdb21 from ACT's pickle
        gt = load_act_gt(_path(root, layout.gt_file, "gt_file", where))
    else:  # jhmdb21 from the release's split files and masks
        if layout.masks_dir is None:
            raise ConfigError(
                f"dataset 'jhmdb21' without {where}.gt_file builds its ground truth from the "
                f"puppet masks: set {where}.masks_dir"
            )
        _path(root, layout.splits_dir, "splits_dir", where)
        _path(root, layout.masks_dir, "masks_dir", where)
        gt = jhmdb_ground_truth(
            root,
            splits_dir=layout.splits_dir,
            masks_dir=layout.masks_dir,
            count_frames=source.count,
            progress=progress,
        )
    if dataset == "jhmdb21" and (
        layout.masks_dir is None or not (root / layout.masks_dir).is_dir()
    ):
        log.warning(
            "%s: no puppet masks under %s: J-HMDB's pixel-wise ground truth falls back to boxes",
            root,
            layout.masks_dir,
        )
    return ActionDataset(
        root,
        gt,
        split=layout.split,
        masks_dir=layout.masks_dir,
        source=source,
        frame_size=layout.frame_size,
        initial_labels=initial,
        cache_bytes=cache_bytes,
    )
