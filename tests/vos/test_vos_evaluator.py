"""The ``vos`` evaluator (asl_vos.evaluator): J / F / J&F of palette-mask folders, seen and
unseen objects, and clear errors naming the file for every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from asl_vos.errors import VosDataError
from asl_vos.evaluator import VosEvaluator, load_meta
from asl_vos.pngio import write_mask

from asl_core import AslUsageError
from asl_core.testing import check_evaluator

SHAPE = (10, 10)


def ids(*objs: tuple[int, tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """A uint8[10, 10] id map with each object ``(id, rows, cols)`` as an inclusive square."""
    out = np.zeros(SHAPE, dtype=np.uint8)
    for obj, (r0, r1), (c0, c1) in objs:
        out[r0 : r1 + 1, c0 : c1 + 1] = obj
    return out


# object 1 of v1: a 4x4 square; in the last predicted frame shifted two columns
A = (1, (2, 5), (2, 5))
A_SHIFTED = (1, (2, 5), (4, 7))
# object 2 of v1 (unseen): a 3x3 square in the bottom-right corner area
B = (2, (7, 8), (7, 8))


def write_video(root: Path, video: str, frames: dict[str, np.ndarray]) -> None:
    (root / video).mkdir(parents=True, exist_ok=True)
    for name, mask in frames.items():
        write_mask(root / video / f"{name}.png", mask)


META = {
    "videos": {
        "v1": {
            "objects": {
                "1": {"category": "cat", "frames": ["00000", "00005", "00010"]},
                "2": {"category": "zebra", "frames": ["00005", "00010"], "unseen": True},
            }
        },
        "v2": {
            "objects": {
                "1": {"category": "dog", "frames": ["00000", "00001"]},
                "3": {"category": "dog", "frames": ["00001"]},
            }
        },
        "not_evaluated": {"objects": {"4": {"category": "owl", "frames": ["00000"]}}},
    }
}


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    """valid/Annotations (+ valid/meta.json) and pred/, two videos, as described in
    :func:`test_known_answer`."""
    gt = tmp_path / "valid" / "Annotations"
    pred = tmp_path / "pred"
    write_video(gt, "v1", {"00000": ids(A), "00005": ids(A, B), "00010": ids(A, B)})
    write_video(
        pred,
        "v1",
        # the given frame 00000 is wrong on purpose: it is never scored
        {"00000": ids(), "00005": ids(A, B), "00010": ids(A_SHIFTED)},
    )
    write_video(gt, "v2", {"00000": ids(A), "00001": ids(A, (3, (7, 8), (0, 1)))})
    # 00002 exists only in the prediction: ignored
    write_video(pred, "v2", {"00000": ids(A), "00001": ids(A), "00002": ids(B)})
    (tmp_path / "valid" / "meta.json").write_text(json.dumps(META))
    return gt, pred


def test_known_answer(dataset: tuple[Path, Path]) -> None:
    """v1/1 (seen): frame 00005 exact (J = F = 1); frame 00010 shifted two columns:
    J = 8/24 = 1/3, F = 5/8 (tolerance ceil(0.008 · 14.14) = 1 px; the rings of rows 1-5,
    cols 1-5 and cols 3-7 match 10 of 16 pixels each way): J = 2/3, F = 13/16.
    v1/2 (unseen) given at 00005, missing from the predicted 00010: J = F = 0.
    v2/1 exact at 00001: J = F = 1. v2/3 appears only on the last frame: skipped.
    J = (2/3 + 0 + 1)/3 = 5/9, F = (13/16 + 0 + 1)/3 = 29/48; seen J = 5/6, F = 29/32;
    unseen J = F = 0; overall = (5/6 + 29/32)/4."""
    gt, pred = dataset
    out = VosEvaluator().evaluate_folders(gt, pred)
    assert out["J"] == pytest.approx(5 / 9)
    assert out["F"] == pytest.approx(29 / 48)
    assert out["J&F"] == pytest.approx((5 / 9 + 29 / 48) / 2)
    assert out["seen"] == pytest.approx(
        {"J": 5 / 6, "F": 29 / 32, "J&F": (5 / 6 + 29 / 32) / 2, "objects": 2}
    )
    assert out["unseen"] == {"J": 0.0, "F": 0.0, "J&F": 0.0, "objects": 1}
    assert out["overall"] == pytest.approx((5 / 6 + 29 / 32) / 4)
    assert (out["objects"], out["skipped_objects"]) == (3, 1)


def test_per_object_entries(dataset: tuple[Path, Path]) -> None:
    """per_object lists every object, skipped ones with frames 0 and None scores."""
    out = VosEvaluator().evaluate_folders(*dataset)
    per = out["per_object"]
    assert set(per) == {"v1/1", "v1/2", "v2/1", "v2/3"}
    assert per["v1/1"] == pytest.approx(
        {
            "J": 2 / 3,
            "F": 13 / 16,
            "J&F": (2 / 3 + 13 / 16) / 2,
            "category": "cat",
            "seen": True,
            "frames": 2,
        }
    )
    assert per["v1/2"]["seen"] is False and per["v1/2"]["frames"] == 1
    assert per["v2/3"] == {
        "J": None,
        "F": None,
        "J&F": None,
        "category": "dog",
        "seen": True,
        "frames": 0,
    }


def test_result_is_strict_json(dataset: tuple[Path, Path]) -> None:
    """The result dumps with allow_nan=False and reads back equal."""
    out = VosEvaluator().evaluate_folders(*dataset)
    assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_without_meta_all_objects_seen(tmp_path: Path) -> None:
    """No meta.json: objects come from the GT PNGs, all seen, no category; the unseen group is
    empty (None) and overall = (J_seen + F_seen)/2. Object 1 exact at frame 1: 1.0."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    write_video(gt, "v", {"00000": ids(A), "00005": ids(A)})
    write_video(pred, "v", {"00000": ids(A), "00005": ids(A)})
    out = VosEvaluator().evaluate_folders(gt, pred)
    assert out["per_object"]["v/1"]["category"] is None
    assert out["unseen"]["J"] is None
    assert out["overall"] == 1.0


def test_explicit_meta_path(dataset: tuple[Path, Path], tmp_path: Path) -> None:
    """An explicit meta file replaces the one next to gt: here it marks v1/1 unseen."""
    meta = json.loads(json.dumps(META))
    meta["videos"]["v1"]["objects"]["1"]["unseen"] = True
    path = tmp_path / "other_meta.json"
    path.write_text(json.dumps(meta))
    out = VosEvaluator().evaluate_folders(*dataset, meta=path)
    assert out["unseen"]["objects"] == 2
    assert out["per_object"]["v1/1"]["seen"] is False


def test_frames_ordered_by_number(tmp_path: Path) -> None:
    """Frames 9 and 10 (not zero-padded) are ordered 9, 10: the object is given at 9 and
    scored at 10, where the prediction is empty (J = 0); name order would have scored 9."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    write_video(gt, "v", {"9": ids(A), "10": ids(A)})
    write_video(pred, "v", {"9": ids(A), "10": ids()})
    out = VosEvaluator().evaluate_folders(gt, pred)
    assert out["J"] == 0.0


def test_meta_first_frame_is_the_given_frame(tmp_path: Path) -> None:
    """meta lists object 1 from frame 00005 although it is visible at 00000: 00000 and
    00005 are not scored, 00010 is (exact: J = 1, one frame)."""
    gt, pred = tmp_path / "valid" / "Annotations", tmp_path / "pred"
    write_video(gt, "v", {"00000": ids(A), "00005": ids(A), "00010": ids(A)})
    write_video(pred, "v", {"00000": ids(), "00005": ids(), "00010": ids(A)})
    meta = {"videos": {"v": {"objects": {"1": {"frames": ["00005", "00010"]}}}}}
    (tmp_path / "valid" / "meta.json").write_text(json.dumps(meta))
    out = VosEvaluator().evaluate_folders(gt, pred)
    assert out["per_object"]["v/1"]["frames"] == 1
    assert out["J"] == 1.0


def test_progress_counts_videos(dataset: tuple[Path, Path]) -> None:
    """progress.start gets the number of videos, advance is called once per video."""
    calls: list[tuple[str, object]] = []

    class Recorder:
        def start(self, total: int | None, description: str = "") -> None:
            calls.append(("start", (total, description)))

        def advance(self, n: int = 1) -> None:
            calls.append(("advance", n))

    VosEvaluator().evaluate_folders(*dataset, progress=Recorder())
    assert calls == [("start", (2, "videos")), ("advance", 1), ("advance", 1)]


def test_void_id(tmp_path: Path) -> None:
    """With void_id=255, GT void pixels are ignored and not counted as an object."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    truth = ids(A)
    truth[0, :] = 255
    write_video(gt, "v", {"0": truth, "1": truth})
    write_video(pred, "v", {"0": ids(A), "1": ids(A)})
    out = VosEvaluator().evaluate_folders(gt, pred, void_id=255)
    assert set(out["per_object"]) == {"v/1"}
    assert out["J"] == 1.0


# --------------------------------------------------------------------------- errors


def test_missing_gt_folder(tmp_path: Path) -> None:
    """A missing ground-truth folder is a VosDataError naming it."""
    with pytest.raises(VosDataError, match="nope"):
        VosEvaluator().evaluate_folders(tmp_path / "nope", tmp_path)


def test_gt_file_instead_of_folder(tmp_path: Path) -> None:
    """A file given as the ground-truth folder is a VosDataError naming it."""
    path = tmp_path / "gt.png"
    path.write_bytes(b"x")
    with pytest.raises(VosDataError, match=r"gt\.png: ground-truth is a file, not a folder"):
        VosEvaluator().evaluate_folders(path, tmp_path)


def test_missing_pred_folder(dataset: tuple[Path, Path], tmp_path: Path) -> None:
    """A missing prediction folder is a VosDataError naming it."""
    with pytest.raises(VosDataError, match="no_pred"):
        VosEvaluator().evaluate_folders(dataset[0], tmp_path / "no_pred")


def test_empty_gt_folder(tmp_path: Path) -> None:
    """A ground-truth folder without video folders is refused, naming it."""
    (tmp_path / "gt").mkdir()
    with pytest.raises(VosDataError, match="gt: no video folders"):
        VosEvaluator().evaluate_folders(tmp_path / "gt", tmp_path)


def test_video_without_masks(tmp_path: Path) -> None:
    """A video folder with no PNG is refused, naming the folder."""
    (tmp_path / "gt" / "v").mkdir(parents=True)
    with pytest.raises(VosDataError, match=r"gt[/\\]v: no PNG masks"):
        VosEvaluator().evaluate_folders(tmp_path / "gt", tmp_path)


def test_missing_pred_file(dataset: tuple[Path, Path]) -> None:
    """A GT frame without a predicted file: the error names the missing prediction file."""
    gt, pred = dataset
    (pred / "v1" / "00005.png").unlink()
    with pytest.raises(VosDataError, match=r"pred[/\\]v1[/\\]00005\.png: predicted mask not found"):
        VosEvaluator().evaluate_folders(gt, pred)


def test_missing_pred_video(dataset: tuple[Path, Path]) -> None:
    """A whole video missing from the predictions names its first expected file."""
    gt, pred = dataset
    for f in (pred / "v2").iterdir():
        f.unlink()
    (pred / "v2").rmdir()
    with pytest.raises(VosDataError, match=r"v2[/\\]00000\.png"):
        VosEvaluator().evaluate_folders(gt, pred)


def test_size_mismatch(dataset: tuple[Path, Path]) -> None:
    """A prediction of another size: the error names both files and both sizes."""
    gt, pred = dataset
    write_mask(pred / "v1" / "00005.png", np.zeros((10, 12), np.uint8))
    with pytest.raises(
        VosDataError, match=r"00005\.png: predicted mask is 12x10.*00005\.png is 10x10"
    ):
        VosEvaluator().evaluate_folders(gt, pred)


def test_gt_id_not_in_meta(dataset: tuple[Path, Path]) -> None:
    """A GT id that meta does not list for the video names the PNG and the id."""
    gt, pred = dataset
    write_mask(gt / "v1" / "00010.png", ids(A, B, (5, (0, 0), (0, 0))))
    with pytest.raises(
        VosDataError, match=r"00010\.png: object ids \[5\] are not listed for video 'v1'"
    ):
        VosEvaluator().evaluate_folders(gt, pred)


def test_extra_predicted_id(dataset: tuple[Path, Path]) -> None:
    """A predicted id that is neither in the GT nor in meta is an error naming the file."""
    gt, pred = dataset
    write_mask(pred / "v2" / "00001.png", ids(A, (9, (0, 0), (0, 0))))
    with pytest.raises(VosDataError, match=r"v2[/\\]00001\.png: predicted object ids \[9\]"):
        VosEvaluator().evaluate_folders(gt, pred)


def test_extra_predicted_id_without_meta(tmp_path: Path) -> None:
    """Without meta the allowed ids are the video's GT ids."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    write_video(gt, "v", {"0": ids(A), "1": ids(A)})
    write_video(pred, "v", {"0": ids(A), "1": ids(A, B)})
    with pytest.raises(
        VosDataError, match=r"1\.png: predicted object ids \[2\] are not in the ground truth"
    ):
        VosEvaluator().evaluate_folders(gt, pred)


def test_unreadable_gt_mask(dataset: tuple[Path, Path]) -> None:
    """A GT PNG of garbage bytes is a VosDataError naming it."""
    gt, pred = dataset
    (gt / "v2" / "00001.png").write_bytes(b"not a png")
    with pytest.raises(VosDataError, match=r"v2[/\\]00001\.png: unreadable"):
        VosEvaluator().evaluate_folders(gt, pred)


def test_rgb_prediction_refused(dataset: tuple[Path, Path]) -> None:
    """An RGB prediction (colours, not ids) is refused naming the file."""
    from PIL import Image

    gt, pred = dataset
    Image.new("RGB", (10, 10)).save(pred / "v1" / "00005.png")
    with pytest.raises(VosDataError, match=r"00005\.png: a RGB image is not an object-id mask"):
        VosEvaluator().evaluate_folders(gt, pred)


def test_bad_meta_json(dataset: tuple[Path, Path]) -> None:
    """A meta.json that is not JSON is refused, naming it."""
    gt, pred = dataset
    (gt.parent / "meta.json").write_text("{not json")
    with pytest.raises(VosDataError, match=r"meta\.json: unreadable meta file"):
        VosEvaluator().evaluate_folders(gt, pred)


def test_missing_explicit_meta(dataset: tuple[Path, Path], tmp_path: Path) -> None:
    """An explicit meta path that does not exist is refused, naming it."""
    with pytest.raises(VosDataError, match=r"gone\.json: meta file not found"):
        VosEvaluator().evaluate_folders(*dataset, meta=tmp_path / "gone.json")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"videos": []}, '"videos" object'),
        ({"videos": {"v": {}}}, '"objects" object'),
        ({"videos": {"v": {"objects": {"x": {}}}}}, "1..255"),
        ({"videos": {"v": {"objects": {"1": {"frames": [0]}}}}}, '"frames"'),
        ({"videos": {"v": {"objects": {"1": {"unseen": "yes"}}}}}, '"unseen"'),
    ],
)
def test_meta_schema_errors(tmp_path: Path, entry: dict, problem: str) -> None:
    """Each schema violation is a VosDataError naming the file and the problem."""
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(entry))
    with pytest.raises(VosDataError, match=r"meta\.json") as info:
        load_meta(path)
    assert problem in str(info.value)


# --------------------------------------------------------------------------- protocol


def test_conformance(tmp_path: Path) -> None:
    """The asl_core evaluator checks pass (missing / garbage GT named, picklable)."""
    check_evaluator(VosEvaluator, tmp_dir=tmp_path)


def test_evaluate_files_refuses_a_file(tmp_path: Path) -> None:
    """A ground-truth file (not a folder) is an AslUsageError naming it and the usage."""
    gt = tmp_path / "GT.pkl"
    gt.write_bytes(b"x")
    with pytest.raises(AslUsageError, match=r"GT\.pkl: is not a folder.*--gt DIR --pred DIR"):
        VosEvaluator().evaluate_files(
            gt, tmp_path, None, preset="youtube_vos", thresholds=[0.5], split=None
        )


def test_evaluate_files_needs_a_prediction_folder(dataset: tuple[Path, Path]) -> None:
    """A GT folder with no prediction folder is an AslUsageError."""
    with pytest.raises(AslUsageError, match="not a prediction folder"):
        VosEvaluator().evaluate_files(
            dataset[0], None, None, preset="youtube_vos", thresholds=[0.5], split=None
        )


def test_evaluate_files_delegates_to_folders(dataset: tuple[Path, Path]) -> None:
    """Folders given to evaluate_files give the evaluate_folders result (meta found next to
    gt); detection options are ignored."""
    gt, pred = dataset
    out = VosEvaluator().evaluate_files(gt, pred, None, preset="act", thresholds=[0.5], split="1")
    assert out == VosEvaluator().evaluate_folders(gt, pred)
