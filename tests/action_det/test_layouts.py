"""Opening UCF-101-24 and J-HMDB-21 folders (asl_action_det.layouts, asl_action_det.jhmdb) and
training the action_det task on them, on tiny datasets written in the real layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from asl_action_det.errors import DatasetError
from asl_action_det.jhmdb import JHMDB21_CLASSES, mask_boxes, read_splits
from asl_action_det.layouts import DatasetLayout, open_dataset
from asl_action_det.task import ActionDetParams, ActionDetTask

from asl_core import ConfigError, FrameRef, LabelState, NullProgress
from asl_core.testing import FakeOracle

from .real_layouts import (
    JHMDB_VIDEOS,
    SIZE,
    UCF_TEST,
    UCF_TRAIN,
    make_jhmdb_root,
    make_ucf_root,
    puppet_mask,
    write_ucf_act_pickle,
)

TINY = (SIZE, SIZE)


@pytest.fixture(scope="module")
def ucf_root(tmp_path_factory) -> Path:
    return make_ucf_root(tmp_path_factory.mktemp("ucf") / "UCF101_24", videos=True)


@pytest.fixture(scope="module")
def jhmdb_root(tmp_path_factory) -> Path:
    return make_jhmdb_root(tmp_path_factory.mktemp("jhmdb") / "JHMDB", act_pickle=True)


def ucf(root: Path, **keys) -> object:
    layout = DatasetLayout.for_dataset("ucf101_24", {"resolution": TINY, **keys})
    return open_dataset("ucf101_24", root, layout)


# --------------------------------------------------------------------------- UCF-101-24


def test_ucf_default_layout_reads_train_and_test_mats(ucf_root: Path):
    """trainAnnot.mat + testAnnot.mat + rgb-images JPEGs: one split, lengths from num_imgs."""
    ds = ucf(ucf_root)
    assert [v.id for v in ds.videos("train")] == [v for v, _, _ in UCF_TRAIN]
    assert [v.num_frames for v in ds.videos("test")] == [n for _, n, _ in UCF_TEST]
    assert ds.labels[2] == "Biking" and ds.video("Biking/v_Biking_g01_c01").label == 2
    assert ds.read_frames("Biking/v_Biking_g01_c01", [0, 10])[:, 0, 0, 0].tolist() == [1, 11]
    assert ds.initial_labels is None


def test_ucf_final_annotations_split_by_testlist(ucf_root: Path):
    """finalAnnots.mat + testlist01.txt give the same split as the two files."""
    ds = ucf(
        ucf_root,
        train_annotations="finalAnnots.mat",
        test_annotations=None,
        split_list="testlist01.txt",
    )
    assert [v.id for v in ds.videos("test")] == [v for v, _, _ in UCF_TEST]
    assert {v.id for v in ds.videos("train")} == {v for v, _, _ in UCF_TRAIN}


def test_ucf_asl_pickles_take_lengths_from_frames_and_expose_labels(ucf_root: Path):
    """ASL pickles: lengths counted in the frame folders; annotated frames as initial labels."""
    ds = ucf(
        ucf_root, train_annotations="training_annots.pkl", test_annotations="testing_annots.pkl"
    )
    assert [v.num_frames for v in ds.videos("train")] == [n for _, n, _ in UCF_TRAIN]
    labels = ds.initial_labels
    assert isinstance(labels, LabelState)
    assert labels.labelled("Basketball/v_Basketball_g01_c01").tolist() == [1, 4, 7]
    assert labels.labelled("Basketball/v_Basketball_g03_c01").size == 0  # test videos: none


def test_ucf_avi_videos_decode_through_pyav(ucf_root: Path):
    """videos_dir=UCF101_Videos reads the .avi files instead of frame folders."""
    ds = ucf(ucf_root, videos_dir="UCF101_Videos")
    frames = ds.read_frames("Biking/v_Biking_g01_c01")
    assert frames.shape == (11, SIZE, SIZE, 3)
    assert abs(frames[3].mean() - 60) < 8


def test_ucf_act_pickle_is_read_through_gt_file(tmp_path: Path):
    """With gt_file and no train_annotations, UCF-101-24 comes from ACT's UCF101v2-GT.pkl."""
    root = make_ucf_root(tmp_path / "UCF")
    write_ucf_act_pickle(root / "UCF101v2-GT.pkl")
    ds = ucf(root, train_annotations=None, test_annotations=None, gt_file="UCF101v2-GT.pkl")
    assert [v.id for v in ds.videos("test")] == [v for v, _, _ in UCF_TEST]
    from_mat = ucf(root)
    for v, _, _ in UCF_TRAIN + UCF_TEST:
        assert ds.video(v).tubes == from_mat.video(v).tubes


@pytest.mark.parametrize(
    "keys, match",
    [
        ({"test_annotations": None}, r"needs test videos: set task\.test_annotations"),
        ({"split_list": "testlist01.txt"}, r"cannot be combined with task\.test_annotations"),
        ({"train_annotations": "none.mat"}, r"none\.mat: not found \(task\.train_annotations\)"),
        ({"train_annotations": None, "gt_file": None}, r"needs task\.train_annotations"),
        ({"frames_dir": "Frames"}, r"Frames: folder not found \(task\.frames_dir\)"),
    ],
)
def test_ucf_layout_mistakes_are_config_errors(ucf_root: Path, keys: dict, match: str):
    """Keys that do not describe train and test videos, or name missing paths, say which key."""
    with pytest.raises(ConfigError, match=match):
        ucf(ucf_root, **keys)


def test_unknown_dataset_is_a_config_error():
    """task.dataset must be one of the three formats."""
    with pytest.raises(ConfigError, match="unknown dataset 'ucf24'"):
        DatasetLayout.for_dataset("ucf24")
    from asl_core import parse_params

    with pytest.raises(ConfigError, match="dataset"):
        parse_params(ActionDetParams, {"dataset": "ucf24"})


# --------------------------------------------------------------------------- J-HMDB-21


def test_jhmdb_splits_follow_the_split_files(jhmdb_root: Path):
    """read_splits: ids 1 = train, 2 = test, for each of the three splits."""
    splits = read_splits(jhmdb_root / "splits")
    assert len(splits) == 3
    for k in range(3):
        train, test = splits[k]
        want = {f"{c}/{v}": ids[k] for c, v, _, _, ids in JHMDB_VIDEOS}
        assert set(train) == {v for v, i in want.items() if i == 1}
        assert set(test) == {v for v, i in want.items() if i == 2}


def test_jhmdb_missing_split_file_and_bad_line_name_the_file(tmp_path: Path):
    """A missing split file, or a line that is not '<video>.avi <id>', names the file."""
    root = make_jhmdb_root(tmp_path / "J")
    (root / "splits" / "wave_test_split2.txt").unlink()
    with pytest.raises(DatasetError, match=r"missing split file .*wave_test_split2\.txt"):
        read_splits(root / "splits")
    (root / "splits" / "wave_test_split2.txt").write_text("x.avi 7\n")
    with pytest.raises(DatasetError, match=r"wave_test_split2\.txt, line 1: expected"):
        read_splits(root / "splits")


def test_jhmdb_from_act_pickle_uses_masks_and_the_chosen_split(jhmdb_root: Path):
    """JHMDB-GT.pkl: split 2 picks its own train videos; gt_mask is the puppet mask."""
    layout = DatasetLayout.for_dataset("jhmdb21", {"split": 2})
    ds = open_dataset("jhmdb21", jhmdb_root, layout)
    assert {v.id for v in ds.videos("train")} == {
        f"{c}/{v}" for c, v, _, _, ids in JHMDB_VIDEOS if ids[1] == 1
    }
    mask = ds.gt_mask("brush_hair/hair_a")
    assert np.array_equal(mask, np.transpose(puppet_mask(8) > 0, (2, 0, 1)))


def test_jhmdb_raw_release_gives_the_act_pickle_tubes(jhmdb_root: Path):
    """Without JHMDB-GT.pkl, the split files and masks give the same tubes, lengths, splits."""
    act = open_dataset("jhmdb21", jhmdb_root, DatasetLayout.for_dataset("jhmdb21"))
    raw = open_dataset(
        "jhmdb21", jhmdb_root, DatasetLayout.for_dataset("jhmdb21", {"gt_file": None})
    )
    assert dict(raw.gt.tubes) == dict(act.gt.tubes)
    assert dict(raw.gt.nframes) == dict(act.gt.nframes)
    for k in range(3):
        assert set(raw.gt.train_videos[k]) == set(act.gt.train_videos[k])
    assert raw.labels == JHMDB21_CLASSES


def test_mask_boxes_trim_empty_ends_and_fill_inner_gaps():
    """The tube runs from the first to the last non-empty frame; an empty inner frame keeps the
    previous box; frames past the last slice use that slice."""
    part = np.zeros((6, 8, 4), dtype=bool)
    part[1:3, 2:4, 1] = True  # frame 1
    part[2:5, 3:7, 3] = True  # frame 3 (frame 2 empty)
    frames, boxes = mask_boxes(part, 6)
    assert frames.tolist() == [1, 2, 3, 4, 5]
    assert boxes.tolist() == [[2, 1, 3, 2], [2, 1, 3, 2]] + [[3, 2, 6, 4]] * 3
    assert mask_boxes(np.zeros((2, 2, 3), dtype=bool), 3) is None


def test_jhmdb_raw_without_masks_dir_is_a_config_error(jhmdb_root: Path):
    """Building J-HMDB ground truth from the release needs the puppet masks."""
    layout = DatasetLayout.for_dataset("jhmdb21", {"gt_file": None, "masks_dir": None})
    with pytest.raises(ConfigError, match=r"set task\.masks_dir"):
        open_dataset("jhmdb21", jhmdb_root, layout)


# --------------------------------------------------------------------------- the task


def _train_a_few_steps(task: ActionDetTask) -> dict[str, float]:
    """Label two frames of every training video, train 2 steps, evaluate."""
    from asl_strategies.losses.mgw import MGWLoss

    refs = [FrameRef(v.id, f) for v in task.pool() for f in (1, v.num_frames - 2)]
    annotations = {a.ref: a for a in FakeOracle().annotate(refs, task)}
    rng = np.random.default_rng(0)
    model = task.train(
        task.build_model(rng),
        LabelState.from_frames(refs),
        annotations,
        MGWLoss(),
        rng,
        NullProgress(),
    )
    return task.evaluate(model, rng, NullProgress())


TINY_TRAINING = {"iterations": 2, "batch_size": 2, "mc_trials": 2, "encoder": "tiny"}


@pytest.mark.parametrize("encoder", ["tiny", "i3d"])
def test_task_trains_on_the_ucf_layout(ucf_root: Path, encoder: str):
    """task.dataset='ucf101_24' on rgb-images + .mat files trains and evaluates (box targets),
    with the tiny encoder and with I3D (random init, tiny frames)."""
    params = ActionDetParams(
        dataset="ucf101_24",
        data_root=str(ucf_root),
        train_annotations="trainAnnot.mat",
        test_annotations="testAnnot.mat",
        frames_dir="rgb-images",
        frame_pattern="{:05d}.jpg",
        masks_dir=None,
        resolution=TINY,
        target="box",
        synthesize_if_missing=False,
        **{**TINY_TRAINING, "encoder": encoder},
    )
    task = ActionDetTask(params)
    assert task.num_classes == 24 and (task.height, task.width) == TINY
    metrics = _train_a_few_steps(task)
    assert 0.0 <= metrics["accuracy"] <= 1.0


@pytest.mark.parametrize("encoder", ["tiny", "i3d"])
def test_task_trains_on_the_jhmdb_layout_at_a_resized_frame_size(jhmdb_root: Path, encoder: str):
    """task.dataset='jhmdb21' from the raw release (masks, splits, PNG frames), resized to 16 x
    24, trains and evaluates with pixel-wise (mask) targets, with the tiny encoder and I3D."""
    params = ActionDetParams(
        dataset="jhmdb21",
        data_root=str(jhmdb_root),
        gt_file=None,
        target="mask",
        frame_size=(16, 24),
        synthesize_if_missing=False,
        **{**TINY_TRAINING, "encoder": encoder},
    )
    task = ActionDetTask(params)
    assert task.num_classes == 21 and (task.height, task.width) == (16, 24)
    (region,) = task.ground_truth([FrameRef("catch/catch_a", 7)])[0]
    assert region.mask is not None and region.category == JHMDB21_CLASSES.index("catch")
    metrics = _train_a_few_steps(task)
    assert 0.0 <= metrics["accuracy"] <= 1.0


def test_missing_weights_file_fails_before_reading_the_dataset(tmp_path: Path):
    """task.encoder_weights naming no file is a ConfigError, raised before the dataset loads."""
    params = ActionDetParams(
        dataset="ucf101_24",
        data_root=str(tmp_path / "absent"),
        encoder="i3d",
        encoder_weights="/path/to/rgb_charades.pt",
    )
    with pytest.raises(ConfigError, match=r"rgb_charades\.pt: I3D weights file not found"):
        ActionDetTask(params)


def test_real_dataset_folder_is_never_synthesized(tmp_path: Path):
    """A missing UCF folder is a ConfigError even with synthesize_if_missing left on."""
    params = ActionDetParams(dataset="ucf101_24", data_root=str(tmp_path / "UCF"))
    with pytest.raises(ConfigError, match="dataset folder not found"):
        ActionDetTask(params)
    assert not (tmp_path / "UCF").exists()
