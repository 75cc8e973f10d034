"""Frame sources (frame folders, .avi files through PyAV), frame-count checks against the
annotations, resizing and mask warnings of asl_action_det.dataset / asl_action_det.video."""

from __future__ import annotations

import logging
from pathlib import Path

import attrs
import numpy as np
import pytest
from asl_action_det.dataset import (
    ActGroundTruth,
    ActionDataset,
    ActorTube,
    resize_masks,
    scale_boxes,
)
from asl_action_det.errors import DatasetError
from asl_action_det.video import FrameFolders, VideoFiles
from scipy.io import savemat

from asl_core import ConfigError, FrozenMap

from .real_layouts import SIZE, write_avi, write_frames
from .test_dataset import H, W, make_gt, tube, write_layout

VIDEO = "Biking/v_Biking_g01_c01"


def one_video_gt(n: int, box=(4, 4, 11, 11)):
    """ACT ground truth of one train and one test video of ``n`` frames at SIZE x SIZE."""
    other = "Biking/v_Biking_g02_c01"
    t = tube(1, n, box)
    tubes = (ActorTube(0, t[:, 0].astype(int) - 1, t[:, 1:]),)
    return ActGroundTruth(
        source="gt.pkl",
        labels=("Biking",),
        nframes=FrozenMap({VIDEO: n, other: n}),
        resolution=FrozenMap({VIDEO: (SIZE, SIZE), other: (SIZE, SIZE)}),
        tubes=FrozenMap({VIDEO: tubes, other: tubes}),
        train_videos=((VIDEO,),),
        test_videos=((other,),),
    )


# --------------------------------------------------------------------------- .avi through PyAV


def test_avi_written_by_pyav_decodes_to_its_frames(tmp_path: Path):
    """VideoFiles counts (header) and decodes every frame of an .avi as uint8 RGB."""
    write_avi(tmp_path / f"{VIDEO}.avi", 7)
    source = VideoFiles(tmp_path)
    assert source.header_count(VIDEO) == 7 and source.count(VIDEO) == 7
    frames = list(source.frames(VIDEO))
    assert len(frames) == 7 and frames[0].shape == (SIZE, SIZE, 3) and frames[0].dtype == np.uint8
    means = [f.mean() for f in frames]
    assert abs(means[5] - 100) < 8  # lossy MPEG-4: frame i is grey 20 * i


def test_dataset_reads_avi_frames_lazily_and_caches_the_video(tmp_path: Path):
    """Nothing decodes before the first read; a read decodes the whole video once."""
    write_avi(tmp_path / "videos" / f"{VIDEO}.avi", 7)
    ds = ActionDataset(
        tmp_path, one_video_gt(7), source=VideoFiles(tmp_path / "videos"), masks_dir=None
    )
    assert ds._frames.get(VIDEO) is None
    frames = ds.read_frames(VIDEO, [6, 0])
    assert frames.shape == (2, SIZE, SIZE, 3)
    assert abs(frames[0].mean() - 120) < 8 and frames[1].mean() < 8
    assert ds._frames.get(VIDEO)[1].all()  # every frame is now cached


@pytest.mark.parametrize("n_file, match", [(5, "decodes to 5 frames"), (9, "more than the 7")])
def test_avi_with_another_frame_count_names_the_file(tmp_path: Path, n_file: int, match: str):
    """An .avi with fewer or more frames than the annotations is a DatasetError naming it."""
    write_avi(tmp_path / f"{VIDEO}.avi", n_file)
    ds = ActionDataset(tmp_path, one_video_gt(7), source=VideoFiles(tmp_path), masks_dir=None)
    with pytest.raises(DatasetError, match=rf"video file .*v_Biking_g01_c01\.avi .*{match}"):
        ds.read_frames(VIDEO, [0])


def test_uncacheable_avi_still_checks_its_frame_count(tmp_path: Path):
    """With a cache too small for the video, the count is still checked while decoding."""
    write_avi(tmp_path / f"{VIDEO}.avi", 5)
    ds = ActionDataset(
        tmp_path, one_video_gt(7), source=VideoFiles(tmp_path), masks_dir=None, cache_bytes=1
    )
    with pytest.raises(DatasetError, match=r"decodes to 5 frames, but gt\.pkl gives"):
        ds.read_frames(VIDEO, [0])


def test_missing_and_corrupt_avi_name_the_file(tmp_path: Path):
    """A missing .avi and one that is not a video are DatasetErrors naming the file."""
    source = VideoFiles(tmp_path)
    with pytest.raises(DatasetError, match=r"missing video file .*v_Biking_g01_c01\.avi"):
        source.count(VIDEO)
    path = tmp_path / f"{VIDEO}.avi"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"RIFF" + bytes(200))
    with pytest.raises(DatasetError, match=r"cannot read video file .*v_Biking_g01_c01\.avi"):
        list(source.frames(VIDEO))


def test_truncated_avi_is_an_error_naming_the_file(tmp_path: Path):
    """An .avi cut short is reported as unreadable or short, always naming the file."""
    path = write_avi(tmp_path / f"{VIDEO}.avi", 7)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    ds = ActionDataset(tmp_path, one_video_gt(7), source=VideoFiles(tmp_path), masks_dir=None)
    with pytest.raises(DatasetError, match=r"v_Biking_g01_c01\.avi"):
        ds.read_frames(VIDEO)


# --------------------------------------------------------------------------- frame folders


def test_frame_folder_with_an_extra_frame_is_an_error(tmp_path: Path):
    """A folder holding more frame files than the annotations give is a DatasetError."""
    write_frames(tmp_path / "Frames" / VIDEO, 8, "png")
    ds = ActionDataset(tmp_path, one_video_gt(7), masks_dir=None)
    with pytest.raises(DatasetError, match=r"frame folder .*v_Biking_g01_c01 holds 8 frames"):
        ds.read_frames(VIDEO, [0])


def test_frame_numbers_ignore_other_files(tmp_path: Path):
    """Only names the pattern makes count as frames (a Thumbs.db or flow image does not)."""
    folder = tmp_path / VIDEO
    write_frames(folder, 3, "jpg")
    (folder / "Thumbs.db").write_bytes(b"x")
    (folder / "00004.png").write_bytes(b"x")
    assert FrameFolders(tmp_path, "{:05d}.jpg").frame_numbers(VIDEO).tolist() == [1, 2, 3]


def test_missing_frame_folder_names_it(tmp_path: Path):
    """Reading a video whose folder does not exist names the folder."""
    ds = ActionDataset(tmp_path, one_video_gt(7), masks_dir=None)
    with pytest.raises(
        DatasetError, match=r"missing frame folder .*Frames/Biking/v_Biking_g01_c01"
    ):
        ds.read_frames(VIDEO, [0])


# --------------------------------------------------------------------------- frame_size


def test_frame_size_resizes_frames_boxes_and_masks(tmp_path: Path):
    """With frame_size=(16, 24) frames, boxes and box masks are all at 16 x 24."""
    write_frames(tmp_path / "Frames" / VIDEO, 7, "png")
    ds = ActionDataset(tmp_path, one_video_gt(7), masks_dir=None, frame_size=(16, 24))
    record = ds.video(VIDEO)
    assert (record.height, record.width) == (16, 24)
    assert ds.read_frames(VIDEO, [2]).shape == (1, 16, 24, 3)
    # inclusive 4..11 of 32 pixels: edges 4..12 scale to 2..6 rows and 3..9 columns
    assert record.tubes[0].boxes[0].tolist() == [3, 2, 8, 5]
    mask = ds.gt_mask(VIDEO)[0]
    assert mask.shape == (16, 24) and mask.sum() == (8 - 3 + 1) * (5 - 2 + 1)
    assert ds.gt.resolution[VIDEO] == (SIZE, SIZE)  # the files' size is kept


def test_scale_boxes_keeps_boxes_inside_and_non_empty():
    """Scaled boxes stay inside the new frame and never invert, even a 1-pixel box."""
    boxes = np.array([[0, 0, 31, 31], [10, 10, 10, 10], [30, 0, 31, 1]], dtype=np.float32)
    out = scale_boxes(boxes, (32, 32), (7, 5))
    assert np.all(out[:, 2] >= out[:, 0]) and np.all(out[:, 3] >= out[:, 1])
    assert out[:, [0, 2]].max() <= 4 and out[:, [1, 3]].max() <= 6
    assert out[0].tolist() == [0, 0, 4, 6]


def test_resize_masks_is_nearest_neighbour():
    """Halving a mask keeps the pixels at the centres of each 2 x 2 block."""
    mask = np.zeros((1, 4, 4), dtype=bool)
    mask[0, 2:, 2:] = True
    assert resize_masks(mask, (2, 2))[0].tolist() == [[False, False], [False, True]]


def test_bad_frame_size_is_a_config_error(tmp_path: Path):
    """frame_size must be two positive sizes."""
    with pytest.raises(ConfigError, match="frame_size"):
        ActionDataset(tmp_path, one_video_gt(7), frame_size=(0, 4))


# --------------------------------------------------------------------------- masks


def test_short_mask_warns_once_per_video(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """A mask with fewer slices than frames warns once, even when the mask is read again."""
    root = write_layout(tmp_path, make_gt(), masks=True)
    savemat(root / "puppet_mask/b/b_0/puppet_mask.mat", {"part_mask": np.ones((H, W, 2))})
    ds = ActionDataset.from_act_layout(root, "GT.pkl")
    with caplog.at_level(logging.WARNING):
        ds.gt_mask("b/b_0")
        ds.clear_cache()
        ds.gt_mask("b/b_0")
    assert caplog.text.count("has 2 slices for the 4 frames") == 1


def test_mask_file_without_part_mask_names_the_file(tmp_path: Path):
    """A puppet-mask file lacking part_mask is a DatasetError naming it."""
    root = write_layout(tmp_path, make_gt(), masks=True)
    savemat(root / "puppet_mask/b/b_0/puppet_mask.mat", {"other": np.ones((2, 2))})
    ds = ActionDataset.from_act_layout(root, "GT.pkl")
    with pytest.raises(DatasetError, match=r"b_0/puppet_mask\.mat has no variable 'part_mask'"):
        ds.gt_mask("b/b_0")


@pytest.mark.parametrize("bad", ["../outside", "/abs/video", "Biking/../../x", ""])
def test_video_ids_that_would_leave_the_dataset_are_refused(tmp_path: Path, bad: str):
    """An annotation file's video id becomes a frame-folder path: one that could reach
    outside the dataset is refused, naming the file, before anything is read."""
    gt = one_video_gt(5)
    gt = attrs.evolve(
        gt,
        nframes=FrozenMap({bad: 5}),
        resolution=FrozenMap({bad: (SIZE, SIZE)}),
        tubes=FrozenMap({bad: gt.tubes[VIDEO]}),
        train_videos=((bad,),),
        test_videos=((),),
    )
    with pytest.raises(DatasetError, match=r"gt\.pkl: video id .* not a relative name"):
        ActionDataset(tmp_path, gt, masks_dir=None)
