"""UCF-101-24 annotation readers on the real files of ../shared/data/ucf101-24 and on tiny files
written in the same layouts (asl_action_det.ucf101, asl_action_det.annotations)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from asl_action_det.annotations import (
    assemble_ground_truth,
    read_video_list,
    split_by_list,
    tube_stats,
)
from asl_action_det.errors import DatasetError
from asl_action_det.ucf101 import (
    UCF101_24_CLASSES,
    load_asl_pickle,
    load_ucf_annotations,
    load_ucf_mat,
    xywh_to_inclusive,
)
from scipy.io import savemat

from tests.conftest import SHARED_DATA

from .real_layouts import UCF_TEST, UCF_TRAIN, write_asl_pickle, write_ucf_mat

SHARED = SHARED_DATA / "ucf101-24"
TRAIN_MAT = SHARED / "trainAnnot.mat"
TEST_MAT = SHARED / "testAnnot.mat"
TEST_LIST = SHARED / "testlist01.txt"
ASL_PICKLE = SHARED / "asl_layout_train_annots_10_labeled.pkl"

real = pytest.mark.skipif(not TRAIN_MAT.is_file(), reason="the real UCF-101-24 files are absent")


@pytest.fixture(scope="module")
def train_mat():
    return load_ucf_mat(TRAIN_MAT)


@pytest.fixture(scope="module")
def test_mat():
    return load_ucf_mat(TEST_MAT)


# --------------------------------------------------------------------------- the real files


@real
def test_train_annotations_hold_2284_videos_and_395868_frames(train_mat):
    """trainAnnot.mat: 2,284 videos, 395,868 frames, 3,143 tubes, the 24 classes."""
    assert len(train_mat.videos) == 2284
    assert sum(train_mat.nframes.values()) == 395_868
    assert sum(len(t) for t in train_mat.tubes.values()) == 3143
    assert train_mat.labels == UCF101_24_CLASSES and len(UCF101_24_CLASSES) == 24


@real
def test_test_annotations_match_testlist01(test_mat):
    """testAnnot.mat holds exactly the 910 videos that testlist01.txt names (1,315 tubes)."""
    listed = read_video_list(TEST_LIST)
    assert len(listed) == 910 and set(listed) == set(test_mat.videos)
    assert sum(len(t) for t in test_mat.tubes.values()) == 1315


@real
def test_first_tube_is_converted_to_0_based_frames_and_inclusive_boxes(train_mat):
    """The first video's tube: sf=70, ef=115 (1-based) become frames 69..114; x y w h
    (37, 98, 52, 105) becomes the inclusive box (37, 98, 88, 202); class 1 becomes 0."""
    video = "Basketball/v_Basketball_g08_c01"
    assert train_mat.videos[0] == video and train_mat.nframes[video] == 171
    (tube,) = train_mat.tubes[video]
    assert (tube.start, tube.end, tube.frames.size, tube.label) == (69, 114, 46, 0)
    assert tube.boxes[0].tolist() == [37, 98, 88, 202]


@real
def test_last_tube_is_converted_to_0_based_frames_and_inclusive_boxes(train_mat):
    """The last video's tube: sf=1, ef=150, class 24 become frames 0..149 and label 23; its last
    box x y w h (1, 1, 58, 216) becomes (1, 1, 58, 216) inclusive."""
    video = "WalkingWithDog/v_WalkingWithDog_g25_c04"
    assert train_mat.videos[-1] == video and train_mat.nframes[video] == 205
    (tube,) = train_mat.tubes[video]
    assert (tube.start, tube.end, tube.label) == (0, 149, 23)
    assert tube.boxes[-1].tolist() == [1, 1, 58, 216]


@real
@pytest.mark.parametrize("which", ["train", "test"])
def test_real_boxes_frames_and_classes_stay_in_range(which, train_mat, test_mat):
    """Every tube lies inside its video, every box inside the 320 x 240 frame, every class
    in 0..23; the extreme boxes touch the right and bottom edges (x + w = 320, y + h = 240)."""
    ann = train_mat if which == "train" else test_mat
    tubes = [t for ts in ann.tubes.values() for t in ts]
    assert all(0 <= t.start <= t.end < ann.nframes[v] for v, ts in ann.tubes.items() for t in ts)
    boxes = np.concatenate([t.boxes for t in tubes])
    assert boxes[:, 0].min() >= 0 and boxes[:, 1].min() >= 0
    assert boxes[:, 2].max() == 319 and boxes[:, 3].max() == 239
    assert np.all(boxes[:, 2] >= boxes[:, 0]) and np.all(boxes[:, 3] >= boxes[:, 1])
    assert {t.label for t in tubes} == set(range(24))


@real
def test_real_asl_pickle_loads_with_its_annotated_frames(train_mat):
    """The real ASL-layout pickle: 215 videos, 274 tubes identical to trainAnnot.mat's, and its
    annotated frames exposed as labels inside the tubes."""
    ann = load_asl_pickle(ASL_PICKLE)
    assert len(ann.videos) == 215 and ann.nframes is None
    assert sum(len(t) for t in ann.tubes.values()) == 274
    for video, tubes in ann.tubes.items():
        assert tubes == train_mat.tubes[video]
        labelled = ann.labelled.labelled(video)
        inside = np.zeros(train_mat.nframes[video], dtype=bool)
        for t in tubes:
            inside[t.frames] = True
        assert labelled.size and inside[labelled].all()
    assert ann.labelled.num_labelled == 29_479


@real
def test_stats_of_the_real_train_file(train_mat):
    """tube_stats counts videos, frames, tubes and actor boxes of trainAnnot.mat."""
    row = tube_stats(train_mat.tubes, train_mat.videos, train_mat.nframes)
    assert row["videos"] == 2284 and row["frames"] == 395_868 and row["tubes"] == 3143
    assert row["actor_boxes"] == sum(t.frames.size for ts in train_mat.tubes.values() for t in ts)
    assert row["max_actors"] >= 2 and row["frames_with_actor"] <= row["frames"]


@real
def test_real_train_and_test_assemble_into_one_split(train_mat, test_mat):
    """trainAnnot.mat + testAnnot.mat make one split of 2,284 train and 910 test videos."""
    gt = assemble_ground_truth(train_mat, test_mat)
    assert (len(gt.train_videos[0]), len(gt.test_videos[0]), len(gt.nframes)) == (2284, 910, 3194)
    assert gt.resolution[gt.train_videos[0][0]] == (240, 320)


# --------------------------------------------------------------------------- conventions


def test_uint8_widths_are_added_without_wrapping():
    """x + w of uint8 values above 255 is computed in int64 (MATLAB stored small integers)."""
    boxes = np.array([[200, 10, 100, 250]], dtype=np.uint8)
    assert xywh_to_inclusive(boxes).tolist() == [[200, 10, 299, 259]]


def test_uint8_mat_boxes_past_255_load_unwrapped(tmp_path: Path):
    """A .mat tube with uint8 x = 200, w = 100 gives x2 = 299, not (200 + 100) % 256 - 1."""
    path = write_ucf_mat(
        tmp_path / "a.mat", [("Biking/v_Biking_g01_c01", 5, [(1, 5, 3, (200, 20, 100, 30))])]
    )
    (tube,) = load_ucf_mat(path).tubes["Biking/v_Biking_g01_c01"]
    assert tube.boxes[0].tolist() == [200, 20, 299, 49] and tube.label == 2


def test_mat_written_in_the_real_layout_loads(tmp_path: Path):
    """The tiny train file: frames 1-based → 0-based, classes 1-based → 0-based, lengths kept."""
    ann = load_ucf_mat(write_ucf_mat(tmp_path / "t.mat", UCF_TRAIN), resolution=(32, 32))
    assert ann.videos == tuple(v for v, _, _ in UCF_TRAIN)
    assert dict(ann.nframes) == {v: n for v, n, _ in UCF_TRAIN}
    second = ann.tubes["Basketball/v_Basketball_g02_c01"]
    assert [(t.start, t.end, t.label) for t in second] == [(0, 8, 0), (2, 4, 0)]
    assert second[0].boxes[0].tolist() == [8, 2, 19, 21]


def test_boxes_outside_the_frame_are_clipped_with_one_warning(tmp_path: Path, caplog):
    """A box reaching past the frame is clipped to it, with one warning naming the file."""
    path = write_ucf_mat(
        tmp_path / "a.mat", [("Biking/v_Biking_g01_c01", 3, [(1, 3, 3, (20, 20, 20, 20))])]
    )
    with caplog.at_level("WARNING"):
        (tube,) = load_ucf_mat(path, resolution=(32, 32)).tubes["Biking/v_Biking_g01_c01"]
    assert tube.boxes[0].tolist() == [20, 20, 31, 31]
    assert "a.mat: clipped 3 box(es) of 1 video(s)" in caplog.text


def test_asl_pickle_in_the_real_layout_matches_the_mat(tmp_path: Path):
    """The same videos as an ASL pickle give the same tubes; annotated frames become labels."""
    mat = load_ucf_mat(write_ucf_mat(tmp_path / "t.mat", UCF_TRAIN), resolution=(32, 32))
    pkl = load_asl_pickle(write_asl_pickle(tmp_path / "t.pkl", UCF_TRAIN), resolution=(32, 32))
    assert dict(pkl.tubes) == dict(mat.tubes) and pkl.nframes is None
    assert pkl.labelled.labelled("Biking/v_Biking_g01_c01").tolist() == [3, 6, 9]
    filled = pkl.with_nframes(mat.nframes, "the .mat")
    assert filled.nframes == mat.nframes


def test_lengths_shorter_than_the_tubes_are_refused(tmp_path: Path):
    """A counted length that ends before the last annotated frame is a DatasetError."""
    pkl = load_asl_pickle(write_asl_pickle(tmp_path / "t.pkl", UCF_TRAIN), resolution=(32, 32))
    counts = {v: 3 for v in pkl.videos}
    with pytest.raises(DatasetError, match=r"annotated up to frame 8 .* only 3 frames"):
        pkl.with_nframes(counts, "rgb-images")


def test_final_annotations_split_by_the_test_list(tmp_path: Path):
    """finalAnnots.mat + testlist01.txt: listed videos are test, the rest train, in file order;
    names of the list that are not annotated (other UCF-101 classes) are ignored."""
    final = load_ucf_mat(
        write_ucf_mat(tmp_path / "f.mat", UCF_TEST[:1] + UCF_TRAIN + UCF_TEST[1:]),
        resolution=(32, 32),
    )
    listing = tmp_path / "testlist01.txt"
    listing.write_text(
        "\n".join([v for v, _, _ in UCF_TEST] + ["ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"])
    )
    train, test = split_by_list(final, read_video_list(listing), str(listing))
    assert train.videos == tuple(v for v, _, _ in UCF_TRAIN)
    assert test.videos == tuple(v for v, _, _ in UCF_TEST)
    gt = assemble_ground_truth(train, test)
    assert gt.train_videos == (train.videos,) and gt.test_videos == (test.videos,)


def test_a_video_in_train_and_test_is_refused(tmp_path: Path):
    """Assembling parts that share a video is a DatasetError naming both files."""
    a = load_ucf_mat(write_ucf_mat(tmp_path / "a.mat", UCF_TRAIN), resolution=(32, 32))
    b = load_ucf_mat(write_ucf_mat(tmp_path / "b.mat", UCF_TRAIN[:1]), resolution=(32, 32))
    with pytest.raises(DatasetError, match=r"a\.mat and .*b\.mat"):
        assemble_ground_truth(a, b)


# --------------------------------------------------------------------------- bad input


@real
def test_truncated_mat_names_the_file(tmp_path: Path):
    """A .mat cut in half is a DatasetError naming the file."""
    path = tmp_path / "trainAnnot.mat"
    path.write_bytes(TRAIN_MAT.read_bytes()[:100_000])
    with pytest.raises(DatasetError, match=r"cannot read .*trainAnnot\.mat"):
        load_ucf_mat(path)


def test_text_file_named_mat_names_the_file(tmp_path: Path):
    """A file that is not a MATLAB file is a DatasetError naming it."""
    path = tmp_path / "annots.mat"
    path.write_text("Basketball/v_Basketball_g01_c01 1 2 3\n")
    with pytest.raises(DatasetError, match=r"annots\.mat as a MATLAB file"):
        load_ucf_mat(path)


@pytest.mark.parametrize(
    "drop, match",
    [("tubes", r"annot lacks field\(s\) \['tubes'\]"), ("boxes", r"lack field\(s\) \['boxes'\]")],
)
def test_mat_with_a_missing_field_names_it(tmp_path: Path, drop: str, match: str):
    """A .mat without one of annot's or a tube's fields is a DatasetError naming the field."""
    path = write_ucf_mat(tmp_path / "a.mat", UCF_TRAIN, drop=drop)
    with pytest.raises(DatasetError, match=r"a\.mat.*" + match):
        load_ucf_mat(path)


def test_mat_without_annot_names_what_it_holds(tmp_path: Path):
    """A .mat without the variable annot lists the variables it has."""
    savemat(tmp_path / "a.mat", {"boxes": np.zeros((2, 4))})
    with pytest.raises(DatasetError, match=r"no variable 'annot' \(found: \['boxes'\]\)"):
        load_ucf_mat(tmp_path / "a.mat")


@pytest.mark.parametrize(
    "tube, match",
    [
        ((3, 12, 1, (1, 1, 4, 4)), r"tube frames sf=3\.\.ef=12 .* do not fit its 10 frames"),
        ((1, 4, 25, (1, 1, 4, 4)), r"class 25 is not in 1\.\.24"),
        ((1, 4, 1, (1, 1, 0, 4)), r"a box has a width or height below 1"),
    ],
)
def test_inconsistent_mat_tubes_are_refused(tmp_path: Path, tube, match: str):
    """Frames outside the video, an unknown class or an empty box are DatasetErrors."""
    path = write_ucf_mat(tmp_path / "a.mat", [("Basketball/v_Basketball_g01_c01", 10, [tube])])
    with pytest.raises(
        DatasetError, match=r"a\.mat: video 'Basketball/v_Basketball_g01_c01': " + match
    ):
        load_ucf_mat(path, resolution=(32, 32))


def test_malicious_asl_pickle_is_refused_without_running(tmp_path: Path):
    """An annotation pickle that would call os.system is refused, naming the file."""
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "training_annots.pkl"
    path.write_bytes(pickle.dumps([("Biking/v", [Exploit()])], protocol=4))
    with pytest.raises(
        DatasetError, match=r"refusing to load .*system from .*training_annots\.pkl"
    ):
        load_asl_pickle(path)
    assert not marker.exists()


def test_truncated_asl_pickle_names_the_file(tmp_path: Path):
    """A truncated ASL pickle is a DatasetError naming the file."""
    path = write_asl_pickle(tmp_path / "t.pkl", UCF_TRAIN)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DatasetError, match=r"cannot read pickle .*t\.pkl"):
        load_asl_pickle(path)


def test_act_pickle_given_as_asl_pickle_gets_a_hint(tmp_path: Path):
    """An ACT ground-truth dict where an ASL list is expected points at task.gt_file."""
    path = tmp_path / "UCF101v2-GT.pkl"
    path.write_bytes(pickle.dumps({"gttubes": {}, "labels": []}, protocol=2))
    with pytest.raises(DatasetError, match=r"got a dict \(this is an ACT ground-truth pickle"):
        load_asl_pickle(path)


def test_annotated_frame_outside_its_tube_is_refused(tmp_path: Path):
    """An annotated frame outside start..end is a DatasetError naming file and video."""
    boxes = np.ones((3, 4), dtype=np.int32)
    items = [("Biking/v_x", [(np.int64(2), np.int64(4), np.int64(2), boxes, [np.int64(7)])])]
    path = tmp_path / "t.pkl"
    path.write_bytes(pickle.dumps(items, protocol=5))
    with pytest.raises(DatasetError, match=r"t\.pkl: video 'Biking/v_x': annotated frame 7"):
        load_asl_pickle(path)


def test_unknown_suffix_names_the_formats(tmp_path: Path):
    """load_ucf_annotations accepts .mat and .pkl only, saying so."""
    with pytest.raises(DatasetError, match=r"a\.json: unknown annotation format '\.json'"):
        load_ucf_annotations(tmp_path / "a.json")


def test_missing_annotation_file_names_it(tmp_path: Path):
    """A missing .mat or .pkl is a DatasetError naming the path."""
    with pytest.raises(DatasetError, match=r"not found: .*none\.mat"):
        load_ucf_mat(tmp_path / "none.mat")
    with pytest.raises(DatasetError, match=r"not found: .*none\.pkl"):
        load_asl_pickle(tmp_path / "none.pkl")


def test_split_list_naming_no_annotated_video_is_refused(tmp_path: Path):
    """A test list that matches none of the annotated videos is a DatasetError."""
    ann = load_ucf_mat(write_ucf_mat(tmp_path / "f.mat", UCF_TRAIN), resolution=(32, 32))
    listing = tmp_path / "list.txt"
    listing.write_text("Other/v_Other_g01_c01\n")
    with pytest.raises(DatasetError, match=r"none of the 1 videos of .*list\.txt"):
        split_by_list(ann, read_video_list(listing), str(listing))
