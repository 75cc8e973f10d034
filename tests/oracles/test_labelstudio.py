"""Label Studio JSON exchange: writing tasks, reading exports back (issue 8).

The edited exports below are written by hand from the Label Studio documentation (Video Object
Tracking template, task format): ``videorectangle`` results with 1-based ``sequence`` keyframes
in percent, ``enabled`` lifespans, ``"auto": true`` interpolated keyframes, ``lead_time`` and
``was_cancelled`` on annotations.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asl_oracles.exchange import (
    ExchangeFormatError,
    ExchangeRequest,
    ExchangeVideo,
    ImportedFrame,
    RequestedFrame,
    validate_import,
)
from asl_oracles.labelstudio import (
    box_to_percent,
    from_label_studio_frame,
    label_config_path,
    percent_to_box,
    read_labelstudio,
    to_label_studio_frame,
    write_labelstudio,
)
from pycocotools import mask as mask_utils

from asl_core import FrameRef, Region

A = "walk/a"  # 640x480, 10 frames
B = "b"  # 320x240, 6 frames


def make_request() -> ExchangeRequest:
    """2 videos, 3 requested frames, one context frame, predictions on every requested frame."""
    return ExchangeRequest(
        run="r",
        cycle=1,
        videos={
            A: ExchangeVideo(A, 10, 640, 480),
            B: ExchangeVideo(B, 6, 320, 240, tuple(f"b_{i:03d}.jpg" for i in range(6))),
        },
        categories=("person", "car"),
        requested=[
            RequestedFrame(FrameRef(A, 3), 0.9),
            RequestedFrame(FrameRef(B, 2), 0.7),
            RequestedFrame(FrameRef(A, 7), 0.5),
        ],
        context={FrameRef(A, 0): (Region(0, 0, (64, 48, 192, 240)),)},
        predictions={
            FrameRef(A, 3): (Region(0, 0, (80, 48, 208, 240)), Region(1, 1, (320, 240, 480, 336))),
            FrameRef(A, 7): (Region(0, 0, (96, 48, 224, 240)),),
            FrameRef(B, 2): (Region(0, 1, (32, 24, 96, 72)),),
        },
    )


def written(tmp_path: Path, request: ExchangeRequest | None = None) -> list[dict[str, Any]]:
    path = tmp_path / "tasks.json"
    write_labelstudio(request or make_request(), path)
    return json.loads(path.read_text())


def accepted(task: dict[str, Any], lead_time: float | None = None) -> dict[str, Any]:
    """The annotation Label Studio exports when the annotator submits the prediction as is."""
    ann: dict[str, Any] = {
        "id": 1,
        "result": copy.deepcopy(task["predictions"][0]["result"]),
        "was_cancelled": False,
        "created_at": "2024-05-01T10:00:00.000000Z",
        "updated_at": "2024-05-01T10:00:00.000000Z",
    }
    if lead_time is not None:
        ann["lead_time"] = lead_time
    return ann


def dump(tmp_path: Path, doc: Any, name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def key(frame: int, x: float, y: float, w: float, h: float, **flags: Any) -> dict[str, Any]:
    return {"frame": frame, "x": x, "y": y, "width": w, "height": h, "rotation": 0,
            "time": frame / 25.0, "enabled": True, **flags}  # fmt: skip


# --------------------------------------------------------------------------- conversions


def test_frames_are_one_based_in_label_studio() -> None:
    """Task frame 0 is Label Studio frame 1 and back."""
    assert [to_label_studio_frame(f) for f in (0, 3, 9)] == [1, 4, 10]
    assert [from_label_studio_frame(f) for f in (1, 4, 10)] == [0, 3, 9]


def test_label_studio_frame_zero_is_refused() -> None:
    """There is no Label Studio frame 0."""
    with pytest.raises(ValueError, match="start at 1"):
        from_label_studio_frame(0)


def test_box_to_percent_known_answer() -> None:
    """(80, 48, 208, 240) on 640x480 is x 12.5 %, y 10 %, 20 % wide, 40 % high."""
    assert box_to_percent((80, 48, 208, 240), 640, 480) == (12.5, 10.0, 20.0, 40.0)


def test_percent_to_box_known_answer() -> None:
    """x 12.5 %, y 10 %, 20 % x 40 % on 640x480 is the pixel box (80, 48, 208, 240)."""
    assert percent_to_box(12.5, 10.0, 20.0, 40.0, 640, 480) == (80.0, 48.0, 208.0, 240.0)


def test_percent_to_box_rotated_is_the_envelope() -> None:
    """A 64x48 px box at (320, 240) turned 90 degrees clockwise about its top-left corner
    covers x 272..320, y 240..304."""
    # 64 px = 10 % of 640, 48 px = 10 % of 480; corners (64, 0) -> (0, 64), (0, 48) -> (-48, 0)
    assert percent_to_box(50.0, 50.0, 10.0, 10.0, 640, 480, rotation=90.0) == (
        272.0,
        240.0,
        320.0,
        304.0,
    )


# --------------------------------------------------------------------------- export


def test_write_one_task_per_video_in_request_order(tmp_path: Path) -> None:
    """Tasks follow the first requested frame of each video and carry the asl_* data fields."""
    tasks = written(tmp_path)
    assert [t["data"]["asl_video"] for t in tasks] == [A, B]
    assert tasks[0]["data"] == {
        "video": "walk/a.mp4",
        "asl_video": A,
        "asl_run": "r",
        "asl_cycle": 1,
        "asl_frames": [3, 7],
        "asl_label_studio_frames": [4, 8],
        "asl_scores": {"3": 0.9, "7": 0.5},
    }


def test_write_video_url_template(tmp_path: Path) -> None:
    """``video_url`` is formatted with the video id."""
    path = tmp_path / "tasks.json"
    write_labelstudio(make_request(), path, video_url="/data/local-files/?d=videos/{video}.mp4")
    tasks = json.loads(path.read_text())
    assert tasks[1]["data"]["video"] == "/data/local-files/?d=videos/b.mp4"


def test_write_prediction_score_is_the_best_requested_score(tmp_path: Path) -> None:
    """Each task's prediction score is the highest score of its requested frames."""
    tasks = written(tmp_path)
    assert [t["predictions"][0]["score"] for t in tasks] == [0.9, 0.7]


def test_write_sequences_known_answer(tmp_path: Path) -> None:
    """Track 0 of walk/a has keyframes at the context frame and both requested frames,
    interpolated between them and ending at the last; track 1 lives on frame 3 only."""
    t0, t1 = written(tmp_path)[0]["predictions"][0]["result"]
    assert (t0["id"], t0["type"], t0["from_name"], t0["to_name"]) == (
        "t0",
        "videorectangle",
        "box",
        "video",
    )
    assert t0["value"]["labels"] == ["person"] and t1["value"]["labels"] == ["car"]
    assert t0["value"]["framesCount"] == 10
    assert [(k["frame"], k["enabled"]) for k in t0["value"]["sequence"]] == [
        (1, True),
        (4, True),
        (8, False),
    ]
    assert [(k["x"], k["y"], k["width"], k["height"]) for k in t0["value"]["sequence"]] == [
        (10.0, 10.0, 20.0, 40.0),
        (12.5, 10.0, 20.0, 40.0),
        (15.0, 10.0, 20.0, 40.0),
    ]
    assert [(k["frame"], k["enabled"]) for k in t1["value"]["sequence"]] == [(4, False)]
    assert t1["value"]["sequence"][0]["time"] == 4 / 25.0


def test_write_label_config_next_to_the_tasks(tmp_path: Path) -> None:
    """``tasks.label_config.xml`` is a View with the Video, VideoRectangle and one Label per
    category."""
    path = tmp_path / "tasks.json"
    write_labelstudio(make_request(), path, fps=30)
    assert label_config_path(path) == tmp_path / "tasks.label_config.xml"
    root = ET.fromstring(label_config_path(path).read_text())
    assert root.tag == "View"
    video = root.find("Video")
    assert video is not None and video.attrib == {
        "name": "video",
        "value": "$video",
        "framerate": "30",
    }
    rect = root.find("VideoRectangle")
    assert rect is not None and rect.attrib == {"name": "box", "toName": "video"}
    assert [e.attrib["value"] for e in root.iter("Label")] == ["person", "car"]


def test_write_track_with_changing_category_splits_results(tmp_path: Path) -> None:
    """A track predicted as person then car becomes two results, each ending where the other
    starts."""
    request = make_request()
    predictions = dict(request.predictions)
    predictions[FrameRef(A, 7)] = (Region(0, 1, (96, 48, 224, 240)),)
    request = ExchangeRequest(
        request.run, request.cycle, request.videos, request.categories, request.requested,
        request.context, predictions,
    )  # fmt: skip
    results = written(tmp_path, request)[0]["predictions"][0]["result"]
    by_id = {r["id"]: r["value"] for r in results}
    assert set(by_id) == {"t0-c0", "t0-c1", "t1"}
    assert [(k["frame"], k["enabled"]) for k in by_id["t0-c0"]["sequence"]] == [
        (1, True),
        (4, False),
    ]
    assert [(k["frame"], k["enabled"]) for k in by_id["t0-c1"]["sequence"]] == [(8, False)]


def test_write_mask_only_region_as_its_box(tmp_path: Path) -> None:
    """A predicted region with a mask and no box is drawn as the mask's tight box."""
    mask = np.zeros((240, 320), dtype=np.uint8, order="F")
    mask[24:72, 32:96] = 1  # box (32, 24, 96, 72): 10 %, 10 %, 20 %, 20 % of 320x240
    rle = mask_utils.encode(mask)
    request = make_request()
    predictions = dict(request.predictions)
    predictions[FrameRef(B, 2)] = (Region(0, 1, mask=rle),)
    request = ExchangeRequest(
        request.run, request.cycle, request.videos, request.categories, request.requested,
        request.context, predictions,
    )  # fmt: skip
    (result,) = written(tmp_path, request)[1]["predictions"][0]["result"]
    (item,) = result["value"]["sequence"]
    assert (item["x"], item["y"], item["width"], item["height"]) == (10.0, 10.0, 20.0, 20.0)


# --------------------------------------------------------------------------- import


def test_round_trip_of_accepted_predictions(tmp_path: Path) -> None:
    """Submitting the predictions unchanged imports exactly the predicted boxes on the
    requested frames, as human frames; the context frame is not imported."""
    tasks = written(tmp_path)
    for task in tasks:
        task["annotations"] = [accepted(task)]
    request = make_request()
    result = read_labelstudio(dump(tmp_path, tasks), request)
    assert result.frames == (
        ImportedFrame(FrameRef(A, 3), request.predictions[FrameRef(A, 3)], True, None),
        ImportedFrame(FrameRef(A, 7), request.predictions[FrameRef(A, 7)], True, None),
        ImportedFrame(FrameRef(B, 2), request.predictions[FrameRef(B, 2)], True, None),
    )
    assert result.warnings == ()


def edited_export(tmp_path: Path) -> Path:
    """What an annotator sends back (the scenario of :func:`test_annotator_edits`)."""
    task_a, task_b = written(tmp_path)
    ann = accepted(task_a, lead_time=12.0)
    t0, t1 = ann["result"]
    # the person was further right on frame 4 and leaves the scene after it (lifespan off) ...
    t0["value"]["sequence"][1].update(x=15.0, enabled=False)
    # ... the car stays: its lifespan continues to a new keyframe on frame 8; the export lists
    # the interpolated frame 6 as an auto keyframe (interpolate_key_frames)
    t1["value"]["sequence"][0]["enabled"] = True
    t1["value"]["sequence"] += [
        key(6, 55.0, 50.0, 25.0, 20.0, auto=True),
        key(8, 60.0, 50.0, 25.0, 20.0, enabled=False),
    ]
    # ... and a new person appears on frame 8 only
    ann["result"].append(
        {
            "id": "Xk3_9aQ",
            "type": "videorectangle",
            "from_name": "box",
            "to_name": "video",
            "origin": "manual",
            "value": {
                "labels": ["person"],
                "framesCount": 10,
                "duration": 0.4,
                "sequence": [key(8, 0.0, 0.0, 10.0, 10.0, enabled=False)],
            },
        }
    )
    task_a["annotations"] = [ann]
    ann_b = accepted(task_b, lead_time=4.0)
    ann_b["result"][0]["value"]["sequence"][0]["x"] = 12.5  # the car was 8 px further right
    task_b["annotations"] = [ann_b]
    return dump(tmp_path, [task_a, task_b])


def test_annotator_edits(tmp_path: Path) -> None:
    """Moved box, disabled lifespan, added keyframe, auto keyframe, new track and lead_time
    come back as exactly these frames (percent -> pixels on 640x480 / 320x240)."""
    result = read_labelstudio(edited_export(tmp_path), make_request())
    assert result.frames == (
        ImportedFrame(
            FrameRef(A, 3),
            (Region(0, 0, (96, 48, 224, 240)), Region(1, 1, (320, 240, 480, 336))),
            human=True,
            seconds=6.0,
        ),
        # Label Studio frame 6: only the auto keyframe of the car; the person's lifespan ended
        ImportedFrame(FrameRef(A, 5), (Region(1, 1, (352, 240, 512, 336)),), False, None),
        ImportedFrame(
            FrameRef(A, 7),
            (
                Region(0, 0, (96, 48, 224, 240)),
                Region(1, 1, (384, 240, 544, 336)),
                Region(2, 0, (0, 0, 64, 48)),  # new track: one more than the known 0 and 1
            ),
            human=True,
            seconds=6.0,
        ),
        ImportedFrame(FrameRef(B, 2), (Region(0, 1, (40, 24, 104, 72)),), True, 4.0),
    )
    assert result.warnings == ()


def test_import_through_validate_import(tmp_path: Path) -> None:
    """validate_import keeps the three human frames in request order and drops the auto one."""
    request = make_request()
    result = read_labelstudio(edited_export(tmp_path), request)
    keep, warnings = validate_import(result, request, source="export.json")
    assert [f.ref for f in keep] == [FrameRef(A, 3), FrameRef(B, 2), FrameRef(A, 7)]
    assert all(f.human for f in keep)
    assert sum(f.seconds for f in keep if f.seconds is not None) == 16.0
    assert warnings == []


def test_track_between_keyframes_is_interpolated(tmp_path: Path) -> None:
    """A frame listed only by another track gets an enabled track's linearly interpolated box."""
    task = written(tmp_path)[0]
    ann = accepted(task)
    t0, t1 = ann["result"]
    t0["value"]["sequence"] = [key(4, 10.0, 10.0, 20.0, 40.0), key(8, 20.0, 10.0, 20.0, 40.0)]
    t1["value"]["sequence"] = [key(6, 50.0, 50.0, 25.0, 20.0, enabled=False)]
    task["annotations"] = [ann]
    frames = {
        f.ref.frame: f for f in read_labelstudio(dump(tmp_path, [task]), make_request()).frames
    }
    # frame 6 is halfway: x = 15 % of 640 = 96 px
    assert frames[5].regions == (
        Region(0, 0, (96, 48, 224, 240)),
        Region(1, 1, (320, 240, 480, 336)),
    )


def test_enabled_last_keyframe_runs_to_the_end(tmp_path: Path) -> None:
    """After an enabled last keyframe the track stays, with that keyframe's box."""
    task = written(tmp_path)[0]
    ann = accepted(task)
    t0, t1 = ann["result"]
    t0["value"]["sequence"] = [key(2, 10.0, 10.0, 20.0, 40.0)]  # enabled, never ended
    t1["value"]["sequence"] = [key(9, 50.0, 50.0, 25.0, 20.0, enabled=False)]
    task["annotations"] = [ann]
    frames = {
        f.ref.frame: f for f in read_labelstudio(dump(tmp_path, [task]), make_request()).frames
    }
    assert frames[8].regions == (
        Region(0, 0, (64, 48, 192, 240)),
        Region(1, 1, (320, 240, 480, 336)),
    )


def test_latest_submitted_annotation_is_used(tmp_path: Path) -> None:
    """Of three annotations the newest not cancelled one counts."""
    task = written(tmp_path)[1]
    old, new, cancelled = accepted(task), accepted(task), accepted(task)
    new["updated_at"] = "2024-05-02T09:00:00Z"
    new["result"][0]["value"]["sequence"][0]["x"] = 20.0
    cancelled.update(was_cancelled=True, updated_at="2024-05-03T09:00:00Z", result=[])
    task["annotations"] = [new, cancelled, old]
    (frame,) = read_labelstudio(dump(tmp_path, [task]), make_request()).frames
    assert frame.regions == (Region(0, 1, (64, 24, 128, 72)),)


def test_task_without_submitted_annotation_warns(tmp_path: Path) -> None:
    """A task whose only annotation was cancelled imports nothing and says so."""
    task = written(tmp_path)[1]
    task["annotations"] = [dict(accepted(task), was_cancelled=True)]
    result = read_labelstudio(dump(tmp_path, [task]), make_request())
    assert result.frames == ()
    assert len(result.warnings) == 1 and "no submitted annotation" in result.warnings[0]


def test_requested_frame_without_human_keyframe_warns(tmp_path: Path) -> None:
    """A requested frame nobody put a keyframe on is named in the warnings."""
    task = written(tmp_path)[0]
    ann = accepted(task)
    ann["result"] = ann["result"][1:]  # only the car, on Label Studio frame 4
    task["annotations"] = [ann]
    result = read_labelstudio(dump(tmp_path, [task]), make_request())
    assert [f.ref.frame for f in result.frames] == [3]
    (warning,) = result.warnings
    assert "[7]" in warning and "[8]" in warning and "no human keyframe" in warning


def test_single_task_object_is_accepted(tmp_path: Path) -> None:
    """A file holding one task object (not a list) reads like a list of one."""
    task = written(tmp_path)[1]
    task["annotations"] = [accepted(task)]
    result = read_labelstudio(dump(tmp_path, task), make_request())
    assert [f.ref for f in result.frames] == [FrameRef(B, 2)]


def test_other_run_is_a_warning(tmp_path: Path) -> None:
    """A task exported for another run or cycle imports with a warning naming both."""
    task = written(tmp_path)[1]
    task["annotations"] = [accepted(task)]
    task["data"]["asl_cycle"] = 0
    result = read_labelstudio(dump(tmp_path, [task]), make_request())
    (warning,) = result.warnings
    assert "cycle 0" in warning and "cycle 1" in warning


def test_rotated_box_warns(tmp_path: Path) -> None:
    """A rotated keyframe is imported as its envelope with a warning."""
    task = written(tmp_path)[1]
    ann = accepted(task)
    ann["result"][0]["value"]["sequence"][0]["rotation"] = 90
    task["annotations"] = [ann]
    result = read_labelstudio(dump(tmp_path, [task]), make_request())
    # 64x48 px at (32, 24) turned 90 degrees about (32, 24): x -16..32, y 24..88
    assert result.frames[0].regions == (Region(0, 1, (-16, 24, 32, 88)),)
    assert len(result.warnings) == 1 and "envelope" in result.warnings[0]


# --------------------------------------------------------------------------- malformed


def valid_doc() -> list[dict[str, Any]]:
    item = key(4, 10.0, 10.0, 20.0, 40.0, enabled=False)
    result = {"id": "t0", "type": "videorectangle", "from_name": "box", "to_name": "video",
              "value": {"labels": ["person"], "sequence": [item]}}  # fmt: skip
    return [
        {
            "data": {"video": "a.mp4", "asl_video": A, "asl_run": "r", "asl_cycle": 1},
            "annotations": [{"result": [result], "was_cancelled": False, "lead_time": 3.0}],
        }
    ]


def seq_item(doc: list[dict[str, Any]]) -> dict[str, Any]:
    return doc[0]["annotations"][0]["result"][0]["value"]["sequence"][0]


def _set(getter: Callable[[Any], dict[str, Any]], k: str, v: Any) -> Callable[[Any], None]:
    return lambda doc: getter(doc).__setitem__(k, v)


def _drop(getter: Callable[[Any], dict[str, Any]], k: str) -> Callable[[Any], None]:
    return lambda doc: getter(doc).__delitem__(k)


#: case -> (mutation of valid_doc(): edits in place, or returns a replacement; expected text)
MALFORMED: dict[str, tuple[Callable[[Any], Any], str]] = {
    "top-level number": (lambda doc: 42, "list of tasks"),
    "task not an object": (lambda doc: [1], "task 0"),
    "no data": (lambda doc: [{"annotations": []}], "task 0: the task has no 'data'"),
    "no asl_video": (_set(lambda d: d[0]["data"], "asl_video", None), "asl_video is missing"),
    "unknown video": (_set(lambda d: d[0]["data"], "asl_video", "zzz"), "unknown video 'zzz'"),
    "annotations not a list": (_set(lambda d: d[0], "annotations", {}), "must be a list"),
    "result not a list": (
        _set(lambda d: d[0]["annotations"][0], "result", "x"),
        "annotation 0: 'result'",
    ),
    "value not an object": (
        _set(lambda d: d[0]["annotations"][0]["result"][0], "value", [1]),
        "result 0 (id 't0'): 'value'",
    ),
    "no label": (
        _set(lambda d: d[0]["annotations"][0]["result"][0]["value"], "labels", []),
        "result 0 (id 't0'): no label",
    ),
    "unknown label": (
        _set(lambda d: d[0]["annotations"][0]["result"][0]["value"], "labels", ["dog"]),
        "unknown label 'dog'",
    ),
    "sequence not a list": (
        _set(lambda d: d[0]["annotations"][0]["result"][0]["value"], "sequence", None),
        "value.sequence",
    ),
    "non-numeric x": (_set(seq_item, "x", "12%"), "sequence item 0: 'x' must be a finite number"),
    "missing height": (_drop(seq_item, "height"), "'height' must be a finite"),
    "fractional frame": (_set(seq_item, "frame", 2.5), "sequence item 0: 'frame' must be an int"),
    "string frame": (_set(seq_item, "frame", "4"), "'frame' must be an integer"),
    "frame 0": (_set(seq_item, "frame", 0), "frame 0: Label Studio frames start at 1"),
    "negative width": (_set(seq_item, "width", -1.0), "negative width"),
    "enabled not a bool": (_set(seq_item, "enabled", "yes"), "'enabled' must be true or false"),
    "negative lead_time": (
        _set(lambda d: d[0]["annotations"][0], "lead_time", -2),
        "annotation 0: lead_time",
    ),
    "frame twice": (
        lambda doc: doc[0]["annotations"][0]["result"][0]["value"]["sequence"].append(
            dict(seq_item(doc))
        ),
        "Label Studio frame 4 appears twice",
    ),
    "two tasks of one video": (lambda doc: doc.append(copy.deepcopy(doc[0])), "task 1"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_export_names_file_and_place(tmp_path: Path, case: str) -> None:
    """Every malformed export raises ExchangeFormatError naming the file and where."""
    mutate, expected = MALFORMED[case]
    doc = valid_doc()
    changed = mutate(doc)
    path = dump(tmp_path, doc if changed is None else changed)
    with pytest.raises(ExchangeFormatError) as info:
        read_labelstudio(path, make_request())
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_valid_doc_of_the_malformed_cases_reads(tmp_path: Path) -> None:
    """The export the malformed cases start from is itself fine."""
    result = read_labelstudio(dump(tmp_path, valid_doc()), make_request())
    assert result.frames == (
        ImportedFrame(FrameRef(A, 3), (Region(0, 0, (64, 48, 192, 240)),), True, 3.0),
    )


@pytest.mark.parametrize(
    "text",
    ["this is not JSON", json.dumps(valid_doc())[:-40], '[{"data": {"asl_video": NaN}}]', ""],
    ids=["not-json", "truncated", "nan", "empty"],
)
def test_not_json_names_the_file(tmp_path: Path, text: str) -> None:
    """Text that is not (strict) JSON is refused with the file's name."""
    path = tmp_path / "export.json"
    path.write_text(text)
    with pytest.raises(ExchangeFormatError, match=r"export\.json"):
        read_labelstudio(path, make_request())


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    """A file that does not exist is an ExchangeFormatError naming it."""
    with pytest.raises(ExchangeFormatError, match=r"nothere\.json: no such file"):
        read_labelstudio(tmp_path / "nothere.json", make_request())


@pytest.mark.parametrize("video_id", ["../walk/a", "/walk/a", "walk/../../etc", "C:\\videos\\a"])
def test_path_like_video_id_is_refused(tmp_path: Path, video_id: str) -> None:
    """data.asl_video with '..' components or absolute is refused before any lookup."""
    doc = valid_doc()
    doc[0]["data"]["asl_video"] = video_id
    with pytest.raises(ExchangeFormatError, match="looks like a path"):
        read_labelstudio(dump(tmp_path, doc), make_request())
