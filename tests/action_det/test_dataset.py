"""Tests of the ACT-layout loader (asl_action_det.dataset) and the restricted unpickler."""

from __future__ import annotations

import collections
import logging
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asl_action_det import safe_pickle
from asl_action_det.dataset import ActionDataset, DatasetError, load_act_gt
from PIL import Image
from pycocotools import mask as mask_utils
from scipy.io import savemat

from asl_core import ConfigError
from tests.conftest import SHARED_DATA

H, W = 12, 16
REAL_PICKLE = SHARED_DATA / "ucf101-24" / "asl_layout_train_annots_10_labeled.pkl"


def tube(first: int, last: int, box: tuple[float, float, float, float]) -> np.ndarray:
    """An ACT tube array: 1-based frames ``first..last``, the same box on each."""
    frames = np.arange(first, last + 1, dtype=np.float32)[:, None]
    return np.hstack([frames, np.tile(np.asarray(box, dtype=np.float32), (len(frames), 1))])


def make_gt(**changes: Any) -> dict[str, Any]:
    """A valid two-video ground truth (``a/a_0`` with two actors, ``b/b_0`` with one)."""
    gt = {
        "labels": ["a", "b"],
        "gttubes": {
            "a/a_0": {0: [tube(2, 5, (1, 2, 6, 9)), tube(1, 3, (8, 0, 14, 7))]},
            "b/b_0": {1: [tube(1, 4, (0, 0, 15, 11))]},
        },
        "nframes": {"a/a_0": 6, "b/b_0": 4},
        "train_videos": [["a/a_0"]],
        "test_videos": [["b/b_0"]],
        "resolution": {"a/a_0": (H, W), "b/b_0": (H, W)},
    }
    gt.update(changes)
    return gt


def write_layout(root: Path, gt: dict[str, Any], *, masks: bool = False) -> Path:
    """Write frames (pixel value = frame number) for every video of ``gt`` and its pickle."""
    for video, n in gt["nframes"].items():
        folder = root / "Frames" / video
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(1, n + 1):
            Image.fromarray(np.full((H, W, 3), i, dtype=np.uint8)).save(folder / f"{i:05d}.png")
        if masks:
            part = np.zeros((H, W, n), dtype=np.uint8)
            part[3:6, 2:5, :] = 1  # inside actor 0's box of a/a_0
            (root / "puppet_mask" / video).mkdir(parents=True, exist_ok=True)
            savemat(root / "puppet_mask" / video / "puppet_mask.mat", {"part_mask": part})
    with open(root / "GT.pkl", "wb") as f:
        pickle.dump(gt, f, protocol=2)
    return root


def open_layout(root: Path, **kwargs: Any) -> ActionDataset:
    return ActionDataset.from_act_layout(root, "GT.pkl", **kwargs)


# --------------------------------------------------------------------------- reading


def test_records_follow_the_ground_truth(tmp_path: Path):
    """Videos, 0-based tubes, labels and splits come from the pickle."""
    ds = open_layout(write_layout(tmp_path, make_gt()))
    (a,) = ds.videos("train")
    (b,) = ds.videos("test")
    assert (a.id, a.num_frames, a.height, a.width, a.label, a.split) == (
        "a/a_0",
        6,
        H,
        W,
        0,
        "train",
    )
    assert b.split == "test" and b.label == 1
    assert [(t.start, t.end) for t in a.tubes] == [(1, 4), (0, 2)]
    assert a.tubes[0].boxes.dtype == np.float32 and a.tubes[0].boxes.shape == (4, 4)
    assert a.info.num_frames == 6 and a.info.label == 0


def test_read_frames_returns_asked_frames_in_order(tmp_path: Path):
    """read_frames returns uint8 [n, H, W, 3] frames in the asked order, repeats included."""
    ds = open_layout(write_layout(tmp_path, make_gt()))
    frames = ds.read_frames("a/a_0", [3, 0, 3])
    assert frames.shape == (3, H, W, 3) and frames.dtype == np.uint8
    assert frames[:, 0, 0, 0].tolist() == [4, 1, 4]  # pixel value = 1-based frame number
    assert ds.read_frames("a/a_0").shape == (6, H, W, 3)


def test_read_frames_returns_a_copy_of_the_cache(tmp_path: Path):
    """Writing into returned frames does not change what the next read returns."""
    ds = open_layout(write_layout(tmp_path, make_gt()))
    ds.read_frames("a/a_0")[:] = 0
    assert ds.read_frames("a/a_0", [5])[0, 0, 0, 0] == 6


def test_frame_cache_stays_within_its_bound(tmp_path: Path):
    """With a cache smaller than a video, frames are still read correctly and nothing is kept."""
    ds = open_layout(write_layout(tmp_path, make_gt()), cache_bytes=H * W * 3)
    assert ds.read_frames("a/a_0", [2])[0, 0, 0, 0] == 3
    assert ds._frames._bytes == 0
    roomy = open_layout(tmp_path, cache_bytes=H * W * 3 * 7)  # room for one video only
    roomy.read_frames("a/a_0")
    roomy.read_frames("b/b_0")
    assert roomy._frames._bytes <= roomy._frames.max_bytes
    assert roomy._frames.get("a/a_0") is None


def test_frame_index_outside_the_video_raises(tmp_path: Path):
    """A frame index outside 0..F-1 raises IndexError."""
    ds = open_layout(write_layout(tmp_path, make_gt()))
    with pytest.raises(IndexError, match=r"0\.\.5"):
        ds.read_frames("a/a_0", [6])


def test_missing_frame_file_names_the_file(tmp_path: Path):
    """A missing frame file raises DatasetError naming that file."""
    root = write_layout(tmp_path, make_gt())
    (root / "Frames" / "a/a_0" / "00003.png").unlink()
    ds = open_layout(root)
    with pytest.raises(DatasetError, match=r"missing frame file .*a_0/00003\.png"):
        ds.read_frames("a/a_0")
    with pytest.raises(DatasetError, match=r"00003\.png"):
        ds.verify()


def test_truncated_png_names_the_file(tmp_path: Path):
    """A truncated PNG raises DatasetError naming that file."""
    root = write_layout(tmp_path, make_gt())
    path = root / "Frames" / "a/a_0" / "00002.png"
    noise = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)  # incompressible, so a cut lands inside the pixel data
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"cannot read frame file .*a_0/00002\.png"):
        open_layout(root).read_frames("a/a_0", [1])


def test_frame_of_the_wrong_size_names_the_file(tmp_path: Path):
    """A frame whose size differs from the ground truth's resolution raises DatasetError."""
    root = write_layout(tmp_path, make_gt())
    Image.fromarray(np.zeros((5, 5, 3), dtype=np.uint8)).save(root / "Frames/b/b_0/00001.png")
    with pytest.raises(DatasetError, match=r"b_0/00001\.png is 5x5"):
        open_layout(root).read_frames("b/b_0", [0])


# --------------------------------------------------------------------------- bad ground truth


def test_tube_outside_the_video_names_file_and_video(tmp_path: Path):
    """A tube whose frames pass the video's end raises DatasetError naming file and video."""
    gt = make_gt()
    gt["gttubes"]["b/b_0"][1] = [tube(2, 5, (0, 0, 3, 3))]
    write_layout(tmp_path, gt)
    with pytest.raises(DatasetError, match=r"GT\.pkl: video 'b/b_0': tube frames 2\.\.5 .* 1\.\.4"):
        load_act_gt(tmp_path / "GT.pkl")


def test_tube_with_a_gap_is_rejected(tmp_path: Path):
    """A tube whose frames are not consecutive raises DatasetError."""
    gt = make_gt()
    gt["gttubes"]["a/a_0"][0][0] = np.delete(tube(1, 5, (0, 0, 3, 3)), 2, axis=0)
    write_layout(tmp_path, gt)
    with pytest.raises(DatasetError, match="consecutive"):
        load_act_gt(tmp_path / "GT.pkl")


def test_tube_of_the_wrong_shape_is_rejected(tmp_path: Path):
    """A tube array that is not (n, 5) raises DatasetError naming the video."""
    gt = make_gt()
    gt["gttubes"]["a/a_0"][0][1] = np.zeros((3, 4), dtype=np.float32)
    write_layout(tmp_path, gt)
    with pytest.raises(DatasetError, match=r"'a/a_0'.*\(n, 5\)"):
        load_act_gt(tmp_path / "GT.pkl")


def test_boxes_outside_the_image_are_clipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """Boxes beyond the image are clipped to it and a warning names the file and video."""
    gt = make_gt()
    gt["gttubes"]["b/b_0"][1] = [tube(1, 4, (-3, 2, W + 5, H + 1))]
    write_layout(tmp_path, gt)
    with caplog.at_level(logging.WARNING):
        loaded = load_act_gt(tmp_path / "GT.pkl")
    assert loaded.tubes["b/b_0"][0].boxes[0].tolist() == [0, 2, W - 1, H - 1]
    assert "GT.pkl" in caplog.text and "'b/b_0'" in caplog.text and "clipped 4 box" in caplog.text


def test_inverted_box_is_rejected(tmp_path: Path):
    """A box with x2 < x1 raises DatasetError."""
    gt = make_gt()
    gt["gttubes"]["b/b_0"][1] = [tube(1, 2, (5, 0, 2, 3))]
    write_layout(tmp_path, gt)
    with pytest.raises(DatasetError, match="x2 < x1"):
        load_act_gt(tmp_path / "GT.pkl")


def test_empty_video_is_rejected(tmp_path: Path):
    """A video with nframes 0 raises DatasetError naming file and video."""
    gt = make_gt()
    gt["nframes"]["b/b_0"] = 0
    gt["gttubes"].pop("b/b_0")
    write_layout(tmp_path, gt)
    with pytest.raises(DatasetError, match=r"GT\.pkl: video 'b/b_0' is empty"):
        load_act_gt(tmp_path / "GT.pkl")


def test_missing_key_is_rejected(tmp_path: Path):
    """A ground truth without one of the six keys raises DatasetError listing it."""
    gt = make_gt()
    del gt["resolution"]
    write_layout(tmp_path, gt)
    with pytest.raises(DatasetError, match=r"missing key\(s\) \['resolution'\]"):
        load_act_gt(tmp_path / "GT.pkl")


def test_split_video_unknown_to_nframes_is_rejected(tmp_path: Path):
    """A split listing a video that nframes lacks raises DatasetError."""
    write_layout(tmp_path, make_gt(test_videos=[["b/b_0", "c/c_0"]]))
    with pytest.raises(DatasetError, match="'c/c_0' of test_videos"):
        load_act_gt(tmp_path / "GT.pkl")


def test_missing_ground_truth_file_is_a_dataset_error(tmp_path: Path):
    """A missing pickle raises DatasetError naming it."""
    with pytest.raises(DatasetError, match=r"not found: .*nope\.pkl"):
        ActionDataset.from_act_layout(tmp_path, "nope.pkl")


def test_unknown_split_is_a_config_error(tmp_path: Path):
    """Asking for a split the ground truth lacks raises ConfigError."""
    write_layout(tmp_path, make_gt())
    with pytest.raises(ConfigError, match=r"split 2 does not exist; choose 1\.\.1"):
        open_layout(tmp_path, split=2)


def test_ground_truth_is_read_with_the_restricted_unpickler(tmp_path: Path):
    """A ground-truth pickle that would run a command is refused and the command never runs."""
    marker = tmp_path / "ran"
    (tmp_path / "GT.pkl").write_bytes(pickle.dumps(_Exploit(f"touch {marker}"), protocol=2))
    with pytest.raises(DatasetError, match=r"refusing to load .*system from .*GT\.pkl"):
        load_act_gt(tmp_path / "GT.pkl")
    assert not marker.exists()


# --------------------------------------------------------------------------- masks and regions


def test_gt_mask_without_puppet_masks_fills_the_boxes(tmp_path: Path):
    """Without a mask folder, gt_mask is the union of the tubes' filled (inclusive) boxes."""
    ds = open_layout(write_layout(tmp_path, make_gt()))
    mask = ds.gt_mask("a/a_0")
    assert mask.shape == (6, H, W) and mask.dtype == bool
    expected = np.zeros((H, W), dtype=bool)
    expected[2:10, 1:7] = True  # actor 0: x 1..6, y 2..9
    expected[0:8, 8:15] = True  # actor 1: x 8..14, y 0..7
    assert np.array_equal(mask[1], expected)
    assert not mask[5, :, 8:].any()  # actor 1's tube ends at frame 2 (0-based)


def test_gt_mask_reads_the_puppet_mask(tmp_path: Path):
    """With puppet masks, gt_mask is part_mask > 0 moved to [F, H, W]."""
    ds = open_layout(write_layout(tmp_path, make_gt(), masks=True))
    mask = ds.gt_mask("a/a_0")
    assert mask.shape == (6, H, W)
    assert mask.sum() == 6 * 9 and mask[:, 3:6, 2:5].all()


def test_short_puppet_mask_repeats_its_last_slice_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """A puppet mask with fewer slices than frames is clamped to its last slice, with a warning."""
    root = write_layout(tmp_path, make_gt(), masks=True)
    part = np.zeros((H, W, 2), dtype=np.uint8)
    part[0, 0, 1] = 1
    savemat(root / "puppet_mask/b/b_0/puppet_mask.mat", {"part_mask": part})
    with caplog.at_level(logging.WARNING):
        mask = open_layout(root).gt_mask("b/b_0")
    assert mask[:, 0, 0].tolist() == [False, True, True, True]
    assert "puppet_mask.mat has 2 slices for the 4 frames" in caplog.text


def test_mask_of_the_wrong_size_names_the_file(tmp_path: Path):
    """A puppet mask whose H x W differs from the video's raises DatasetError naming it."""
    root = write_layout(tmp_path, make_gt(), masks=True)
    savemat(root / "puppet_mask/b/b_0/puppet_mask.mat", {"part_mask": np.zeros((3, 3, 4))})
    with pytest.raises(DatasetError, match=r"b_0/puppet_mask\.mat: part_mask must be H x W x T"):
        open_layout(root).gt_mask("b/b_0")


# pycocotools' decode warns under numpy 2 (its Cython __array__); encode, used by the loader, does not
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_frame_regions_convert_boxes_and_cut_masks_by_box(tmp_path: Path):
    """Regions carry exclusive-end boxes (x2 + 1) and the puppet mask restricted to the box."""
    ds = open_layout(write_layout(tmp_path, make_gt(), masks=True))
    regions = ds.frame_regions("a/a_0", 1)
    assert [(r.track_id, r.category) for r in regions] == [(0, 0), (1, 0)]
    assert regions[0].box == (1.0, 2.0, 7.0, 10.0)
    assert regions[1].box == (8.0, 0.0, 15.0, 8.0)
    decoded = [
        mask_utils.decode({"size": list(r.mask["size"]), "counts": r.mask["counts"].encode()})
        for r in regions
    ]
    assert decoded[0].sum() == 9 and decoded[0][3:6, 2:5].all()
    assert decoded[1].sum() == 0  # the puppet pixels lie outside actor 1's box
    assert ds.frame_regions("a/a_0", 3) == regions[:1]  # actor 1's tube ended at frame 2
    assert ds.frame_regions("a/a_0", 5) == ()


def test_frame_without_actor_has_no_region(tmp_path: Path):
    """A frame outside every tube gives an empty tuple."""
    gt = make_gt()
    gt["gttubes"]["b/b_0"][1] = [tube(2, 3, (0, 0, 3, 3))]
    ds = open_layout(write_layout(tmp_path, gt))
    assert ds.frame_regions("b/b_0", 0) == ()
    assert len(ds.frame_regions("b/b_0", 1)) == 1


# --------------------------------------------------------------------------- restricted unpickler


class _Exploit:
    """Pickles to a call of ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


PAYLOAD = {
    "labels": ["x", "y"],
    "array": np.arange(12, dtype=np.float32).reshape(3, 4),
    "ints": np.array([[1, 2], [3, 4]], dtype=np.int64).T,  # non-contiguous
    "bools": np.array([True, False]),
    "scalars": (np.int64(7), np.float32(0.5), np.int32(-1), np.bool_(True)),
    "builtins": [1, 2.5, 3j, b"raw", frozenset({1}), {2}, slice(1, 3), True, None],
    "ordered": collections.OrderedDict(a=1),
    "empty": np.zeros((0, 5), dtype=np.float32),
}


def _assert_same(a: Any, b: Any) -> None:
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    elif isinstance(a, dict):
        assert type(a) is type(b) and a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        assert type(a) is type(b) and a == b


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_safe_pickle_loads_numpy_arrays_scalars_and_builtins(tmp_path: Path, protocol: int):
    """Arrays, numpy scalars and builtin containers written with protocols 2-5 load unchanged."""
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(PAYLOAD, protocol=protocol))
    _assert_same(PAYLOAD, safe_pickle.load(path))


def test_safe_pickle_refuses_os_system_without_running_it(tmp_path: Path):
    """A pickle whose __reduce__ calls os.system is refused by name and the command never runs."""
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"x": _Exploit(f"touch {marker}")}, protocol=4))
    with pytest.raises(safe_pickle.UnsafePickleError) as info:
        safe_pickle.load(path)
    assert str(info.value) == f"refusing to load {os.system.__module__}.system from {path}"
    assert not marker.exists()


@pytest.mark.parametrize(
    "module, name", [("builtins", "eval"), ("builtins", "getattr"), ("subprocess", "Popen")]
)
def test_safe_pickle_refuses_globals_outside_the_allow_list(module: str, name: str):
    """Builtins that run code and any other module's names are refused."""
    data = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"."
    with pytest.raises(safe_pickle.UnsafePickleError, match=f"refusing to load {module}.{name}"):
        safe_pickle.loads(data)


def test_safe_pickle_refuses_a_non_text_codec():
    """The protocol-2 bytes helper (_codecs.encode) accepts only text codecs."""
    data = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x04\x00\x00\x00zlib\x86R."
    with pytest.raises(safe_pickle.UnsafePickleError, match="zlib"):
        safe_pickle.loads(data)


def _python2_array_pickle(values: np.ndarray) -> bytes:
    """A protocol-2 pickle of an int32 array as Python 2's cPickle writes it (str buffers)."""

    def binstring(s: bytes) -> bytes:
        return b"U" + bytes([len(s)]) + s  # SHORT_BINSTRING: a Python 2 str

    raw = values.astype("<i4").tobytes()
    return b"".join(
        [
            b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01",
            b"K\x00\x85",
            binstring(b"b"),
            b"\x87R(K\x01",
            b"K" + bytes([values.size]) + b"\x85",
            b"cnumpy\ndtype\n",
            binstring(b"i4"),
            b"K\x00K\x01\x87R(K\x03",
            binstring(b"<"),
            b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89",
            b"T" + struct.pack("<I", len(raw)) + raw,  # BINSTRING: the buffer as a Python 2 str
            b"tb.",
        ]
    )


def test_safe_pickle_reads_python2_numpy_pickles():
    """A Python-2 numpy pickle (numpy.core path, str buffer) loads through latin-1."""
    values = np.array([0, 1, 255, 256, -1], dtype=np.int32)
    _assert_same(values, safe_pickle.loads(_python2_array_pickle(values)))


def test_safe_pickle_reports_corrupt_data_with_the_source():
    """Truncated data raises UnsafePickleError naming the source."""
    data = pickle.dumps(PAYLOAD, protocol=2)[:50]
    with pytest.raises(safe_pickle.UnsafePickleError, match=r"cannot read pickle in\.pkl"):
        safe_pickle.loads(data, source="in.pkl")


@pytest.mark.skipif(not REAL_PICKLE.is_file(), reason="the real UCF101-24 pickle is not available")
def test_safe_pickle_loads_the_real_asl_layout_pickle():
    """The real ASL-layout UCF101-24 annotation pickle loads: (video, [tuples of numpy values])."""
    data = safe_pickle.load(REAL_PICKLE)
    assert isinstance(data, list) and len(data) > 100
    video, annots = data[0]
    assert isinstance(video, str) and "/" in video
    first = annots[0]
    assert isinstance(first[0], np.int64)
    assert any(isinstance(v, np.ndarray) and v.dtype == np.int32 for v in first)
    assert all(isinstance(v, str) and isinstance(a, list) for v, a in data)
