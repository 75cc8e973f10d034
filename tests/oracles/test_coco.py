"""COCO JSON exchange: writing the requested frames as images, reading annotations back (issue 8).

The edited files below are written by hand from the COCO data format page (images,
annotations with ``bbox`` [x, y, w, h], ``segmentation`` polygons / RLE, ``iscrowd``,
categories).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asl_oracles.coco import (
    is_path_like,
    read_coco,
    rle_area,
    rle_box,
    rle_mask,
    write_coco,
)
from asl_oracles.exchange import (
    ExchangeFormatError,
    ExchangeRequest,
    ExchangeVideo,
    ImportedFrame,
    RequestedFrame,
    validate_import,
)
from PIL import Image
from pycocotools import mask as mask_utils

from asl_core import FrameRef, Region

A = "walk/a"  # 640x480, 10 frames, default frame names 00000.jpg ...
B = "b"  # 320x240, 6 frames named b_000.jpg ...


def b_mask() -> np.ndarray:
    """uint8[240, 320]: the car on frame 2 of video b, rows 24..71, columns 32..95."""
    mask = np.zeros((240, 320), dtype=np.uint8, order="F")
    mask[24:72, 32:96] = 1
    return mask


def encoded(mask: np.ndarray) -> dict[str, Any]:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def make_request(videos: dict[str, ExchangeVideo] | None = None) -> ExchangeRequest:
    """2 videos, 3 requested frames, one context frame, predictions (one with a mask)."""
    return ExchangeRequest(
        run="r",
        cycle=1,
        videos=videos
        or {
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
            FrameRef(B, 2): (Region(0, 1, (32, 24, 96, 72), encoded(b_mask())),),
        },
    )


def written(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "coco.json"
    write_coco(make_request(), path)
    return json.loads(path.read_text())


def dump(tmp_path: Path, doc: Any, name: str = "edited.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


# --------------------------------------------------------------------------- RLE helpers


def test_rle_helpers_agree_with_pycocotools() -> None:
    """Decoding the compressed string, box and area match pycocotools on random masks."""
    rng = np.random.default_rng(0)
    for h, w in ((1, 1), (7, 5), (31, 40)):
        for density in (0.0, 0.3, 0.9):
            mask = (rng.random((h, w)) < density).astype(np.uint8)
            rle = encoded(mask)
            assert np.array_equal(rle_mask(rle), mask.astype(bool))
            assert rle_area(rle) == int(mask_utils.area(mask_utils.encode(np.asfortranarray(mask))))
            if mask.any():
                x, y, bw, bh = mask_utils.toBbox(mask_utils.encode(np.asfortranarray(mask)))
                assert rle_box(rle) == (x, y, x + bw, y + bh)
            else:
                assert rle_box(rle) is None


def test_rle_box_known_answer() -> None:
    """The car's mask has the tight box (32, 24, 96, 72) and 64 x 48 = 3072 pixels."""
    rle = encoded(b_mask())
    assert rle_box(rle) == (32.0, 24.0, 96.0, 72.0)
    assert rle_area(rle) == 3072


@pytest.mark.parametrize(
    ("name", "path_like"),
    [("walk/a", False), ("Basketball/v_Basketball_g01_c01", False), ("a..b", False),
     ("../a", True), ("a/../../b", True), ("/abs", True), ("\\abs", True), ("C:x", True),
     ("", True), ("a\x00b", True)],
)  # fmt: skip
def test_is_path_like(name: str, path_like: bool) -> None:
    """Nested ids are fine; '..' components, absolute names, empty names and NULs are not."""
    assert is_path_like(name) is path_like


# --------------------------------------------------------------------------- export


def test_write_images_known_answer(tmp_path: Path) -> None:
    """One image per requested frame, in request order, with video id and 0-based index."""
    doc = written(tmp_path)
    assert doc["images"] == [
        {"id": 1, "file_name": "walk/a/00003.jpg", "width": 640, "height": 480,
         "video_id": A, "frame_index": 3, "asl_score": 0.9},
        {"id": 2, "file_name": "b/b_002.jpg", "width": 320, "height": 240,
         "video_id": B, "frame_index": 2, "asl_score": 0.7},
        {"id": 3, "file_name": "walk/a/00007.jpg", "width": 640, "height": 480,
         "video_id": A, "frame_index": 7, "asl_score": 0.5},
    ]  # fmt: skip


def test_write_annotations_known_answer(tmp_path: Path) -> None:
    """Predictions become xywh boxes, 1-based categories, track ids, RLE when there is a mask."""
    doc = written(tmp_path)
    assert doc["annotations"] == [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [80.0, 48.0, 128.0, 192.0],
         "segmentation": [], "area": 24576.0, "iscrowd": 0, "track_id": 0},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [320.0, 240.0, 160.0, 96.0],
         "segmentation": [], "area": 15360.0, "iscrowd": 0, "track_id": 1},
        {"id": 3, "image_id": 2, "category_id": 2, "bbox": [32.0, 24.0, 64.0, 48.0],
         "segmentation": encoded(b_mask()), "area": 3072.0, "iscrowd": 0, "track_id": 0},
        {"id": 4, "image_id": 3, "category_id": 1, "bbox": [96.0, 48.0, 128.0, 192.0],
         "segmentation": [], "area": 24576.0, "iscrowd": 0, "track_id": 0},
    ]  # fmt: skip


def test_write_categories_are_one_based(tmp_path: Path) -> None:
    """Category index i is COCO category id i + 1 with the run's name."""
    assert [(c["id"], c["name"]) for c in written(tmp_path)["categories"]] == [
        (1, "person"),
        (2, "car"),
    ]


def test_write_mask_only_region_gets_the_mask_box(tmp_path: Path) -> None:
    """A region with a mask and no box is written with the mask's tight bbox."""
    request = make_request()
    predictions = {FrameRef(B, 2): (Region(0, 1, mask=encoded(b_mask())),)}
    request = ExchangeRequest(request.run, request.cycle, request.videos, request.categories,
                              request.requested, request.context, predictions)  # fmt: skip
    write_coco(request, tmp_path / "c.json")
    (ann,) = json.loads((tmp_path / "c.json").read_text())["annotations"]
    assert ann["bbox"] == [32.0, 24.0, 64.0, 48.0] and ann["area"] == 3072.0


def test_write_frames(tmp_path: Path) -> None:
    """With frames_dir and read_frame each requested frame is written at frames_dir/file_name."""
    colours = {(A, 3): (200, 10, 10), (B, 2): (10, 200, 10), (A, 7): (10, 10, 200)}
    request = make_request()

    def read_frame(video: str, index: int) -> np.ndarray:
        v = request.videos[video]
        return np.full((v.height, v.width, 3), colours[video, index], dtype=np.uint8)

    frames_dir = tmp_path / "frames"
    write_coco(request, tmp_path / "coco.json", frames_dir=frames_dir, read_frame=read_frame)
    files = sorted(str(p.relative_to(frames_dir)) for p in frames_dir.rglob("*") if p.is_file())
    assert files == ["b/b_002.jpg", "walk/a/00003.jpg", "walk/a/00007.jpg"]
    with Image.open(frames_dir / "walk/a/00003.jpg") as image:
        assert image.format == "JPEG" and image.size == (640, 480)
        pixels = np.asarray(image.convert("RGB"), dtype=np.int32)
    assert np.abs(pixels - np.array(colours[A, 3])).max() <= 3  # JPEG is lossy


def test_write_frames_keeps_a_png_name_as_png(tmp_path: Path) -> None:
    """A frame whose dataset name ends in .png is written as PNG under that name."""
    videos = {A: ExchangeVideo(A, 10, 640, 480),
              B: ExchangeVideo(B, 6, 320, 240, tuple(f"{i}.png" for i in range(6)))}  # fmt: skip
    request = make_request(videos)
    write_coco(
        request,
        tmp_path / "coco.json",
        frames_dir=tmp_path / "f",
        read_frame=lambda v, i: np.zeros((videos[v].height, videos[v].width, 3), np.uint8),
    )
    with Image.open(tmp_path / "f" / "b" / "2.png") as image:
        assert image.format == "PNG"


@pytest.mark.parametrize(
    ("video_id", "frame_names"),
    [("../b", ()), ("b", tuple(f"../{i}.jpg" for i in range(6)))],
    ids=["video-id", "frame-name"],
)
def test_write_frames_refuses_path_like_names(
    tmp_path: Path, video_id: str, frame_names: tuple[str, ...]
) -> None:
    """A video id or frame name with '..' is refused before anything lands outside frames_dir."""
    request = ExchangeRequest(
        run="r",
        cycle=1,
        videos={video_id: ExchangeVideo(video_id, 6, 320, 240, frame_names)},
        categories=("person", "car"),
        requested=[RequestedFrame(FrameRef(video_id, 2), 0.7)],
    )
    with pytest.raises(ExchangeFormatError, match="looks like a path"):
        write_coco(
            request,
            tmp_path / "out" / "c.json",
            frames_dir=tmp_path / "out" / "frames",
            read_frame=lambda v, i: np.zeros((240, 320, 3), np.uint8),
        )
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_write_frames_needs_both_arguments(tmp_path: Path) -> None:
    """frames_dir without read_frame is a ValueError."""
    with pytest.raises(ValueError, match="both"):
        write_coco(make_request(), tmp_path / "c.json", frames_dir=tmp_path)


def test_write_frames_checks_the_pixels(tmp_path: Path) -> None:
    """read_frame giving the wrong shape is a ValueError naming the frame."""
    with pytest.raises(ValueError, match=r"read_frame\('walk/a', 3\)"):
        write_coco(
            make_request(),
            tmp_path / "c.json",
            frames_dir=tmp_path / "f",
            read_frame=lambda v, i: np.zeros((4, 4, 3), np.uint8),
        )


# --------------------------------------------------------------------------- import


def test_round_trip_unchanged(tmp_path: Path) -> None:
    """Reading the written file back gives the predictions, masks included, as human frames."""
    request = make_request()
    write_coco(request, tmp_path / "coco.json")
    result = read_coco(tmp_path / "coco.json", request)
    assert result.frames == tuple(
        ImportedFrame(r.ref, request.predictions[r.ref], True, None) for r in request.requested
    )
    assert result.warnings == ()


POLYGON = [10.0, 10.0, 50.0, 10.0, 50.0, 40.0, 10.0, 40.0]


def edited(tmp_path: Path) -> Path:
    """The annotator moved a box, drew a car as a polygon and emptied the image of video b."""
    doc = written(tmp_path)
    doc["annotations"][0]["bbox"] = [88.0, 48.0, 128.0, 192.0]  # the person was 8 px right
    doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] != 2]  # no car on b
    doc["annotations"].append(
        {"id": 17, "image_id": 3, "category_id": 2, "bbox": [10.0, 10.0, 40.0, 30.0],
         "segmentation": [POLYGON], "area": 1200.0, "iscrowd": 0}  # new: no track_id
    )  # fmt: skip
    return dump(tmp_path, doc)


def test_annotator_edits(tmp_path: Path) -> None:
    """Changed bbox, added polygon annotation (new track 2) and an emptied image come back
    exactly; every image is a human frame."""
    polygon_rle = mask_utils.merge(mask_utils.frPyObjects([POLYGON], 480, 640))
    result = read_coco(edited(tmp_path), make_request())
    assert result.frames == (
        ImportedFrame(
            FrameRef(A, 3),
            (Region(0, 0, (88, 48, 216, 240)), Region(1, 1, (320, 240, 480, 336))),
            True,
            None,
        ),
        ImportedFrame(FrameRef(B, 2), (), True, None),
        ImportedFrame(
            FrameRef(A, 7),
            (Region(0, 0, (96, 48, 224, 240)), Region(2, 1, (10, 10, 50, 40), polygon_rle)),
            True,
            None,
        ),
    )


def test_polygon_mask_covers_the_polygon(tmp_path: Path) -> None:
    """The polygon 40 x 30 px square becomes a mask whose box is that square."""
    frame = read_coco(edited(tmp_path), make_request()).frames[2]
    mask = dict(frame.regions[1].mask)
    assert rle_box(mask) == (10.0, 10.0, 50.0, 40.0)


def test_import_through_validate_import(tmp_path: Path) -> None:
    """validate_import keeps all three frames (the empty one too), in request order."""
    request = make_request()
    keep, warnings = validate_import(read_coco(edited(tmp_path), request), request, source="e")
    assert [(f.ref, len(f.regions)) for f in keep] == [
        (FrameRef(A, 3), 2),
        (FrameRef(B, 2), 0),
        (FrameRef(A, 7), 2),
    ]
    assert warnings == []


def test_uncompressed_rle_is_converted(tmp_path: Path) -> None:
    """An RLE with a list of run lengths reads as the same compressed mask."""
    doc = written(tmp_path)
    flat = b_mask().T.ravel()  # column-major
    changes = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()  # starts with zeros
    doc["annotations"][2]["segmentation"] = {"size": [240, 320], "counts": runs}
    result = read_coco(dump(tmp_path, doc), make_request())
    assert result.frames[1].regions == make_request().predictions[FrameRef(B, 2)]


def test_file_name_fallback(tmp_path: Path) -> None:
    """Without video_id / frame_index the images map through '<video>/<frame name>'."""
    doc = written(tmp_path)
    for image in doc["images"]:
        del image["video_id"], image["frame_index"]
    result = read_coco(dump(tmp_path, doc), make_request())
    assert [f.ref for f in result.frames] == [FrameRef(A, 3), FrameRef(B, 2), FrameRef(A, 7)]


def test_annotation_without_bbox_uses_the_mask_box(tmp_path: Path) -> None:
    """An annotation with only a segmentation gets the mask's tight box."""
    doc = written(tmp_path)
    del doc["annotations"][2]["bbox"]
    result = read_coco(dump(tmp_path, doc), make_request())
    assert result.frames[1].regions[0].box == (32.0, 24.0, 96.0, 72.0)


# --------------------------------------------------------------------------- malformed


def _set(getter: Callable[[Any], dict[str, Any]], k: str, v: Any) -> Callable[[Any], None]:
    return lambda doc: getter(doc).__setitem__(k, v)


def _image(doc: Any) -> dict[str, Any]:
    return doc["images"][1]


def _ann(doc: Any) -> dict[str, Any]:
    return doc["annotations"][2]  # the car with a mask on image 2


def _drop(getter: Callable[[Any], dict[str, Any]], *keys: str) -> Callable[[Any], None]:
    def mutate(doc: Any) -> None:
        for k in keys:
            del getter(doc)[k]

    return mutate


def _no_drawing(doc: Any) -> None:
    del _ann(doc)["bbox"]
    _ann(doc)["segmentation"] = []


def _fallback(file_name: str) -> Callable[[Any], None]:
    def mutate(doc: Any) -> None:
        del doc["images"][1]["video_id"], doc["images"][1]["frame_index"]
        doc["images"][1]["file_name"] = file_name

    return mutate


#: case -> (mutation of the written file: edits in place, or returns a replacement; text)
MALFORMED: dict[str, tuple[Callable[[Any], Any], str]] = {
    "top-level list": (lambda doc: [doc], "one JSON object"),
    "images not a list": (_set(lambda d: d, "images", {}), "'images' and 'annotations'"),
    "no categories": (_drop(lambda d: d, "categories"), "'categories' must be a list"),
    "unknown category name": (
        _set(lambda d: d["categories"][1], "name", "dog"),
        "category 1 (id 2): unknown category name 'dog'",
    ),
    "category id twice": (_set(lambda d: d["categories"][1], "id", 1), "id 1 appears twice"),
    "image without id": (_set(_image, "id", "two"), "image 1: needs an integer 'id'"),
    "image id twice": (_set(_image, "id", 1), "image id 1: the id appears twice"),
    "unknown video": (_set(_image, "video_id", "zzz"), "image id 2: unknown video 'zzz'"),
    "path-like video": (_set(_image, "video_id", "../b"), "image id 2: video id '../b' looks"),
    "frame_index not int": (_set(_image, "frame_index", "2"), "image id 2: 'video_id' must"),
    "negative frame_index": (_set(_image, "frame_index", -1), "negative frame_index"),
    "width differs": (_set(_image, "width", 640), "image id 2: width 640 differs"),
    "file_name of no video": (_fallback("c/b_002.jpg"), "does not name a video"),
    "file_name of no frame": (_fallback("b/00002.jpg"), "is not a frame name of video 'b'"),
    "path-like file_name": (_fallback("../b/b_002.jpg"), "looks like a path"),
    "unknown image_id": (_set(_ann, "image_id", 9), "annotation id 3: unknown image_id 9"),
    "unknown category_id": (_set(_ann, "category_id", 3), "annotation id 3: category_id 3"),
    "bbox of 3": (_set(_ann, "bbox", [1, 2, 3]), "annotation id 3: 'bbox' must be 4 numbers"),
    "bbox text": (_set(_ann, "bbox", "1,2,3,4"), "'bbox' must be 4 numbers"),
    "bbox negative": (_set(_ann, "bbox", [1, 2, -3, 4]), "negative width or height"),
    "RLE size": (
        _set(lambda d: _ann(d)["segmentation"], "size", [480, 640]),
        "annotation id 3: RLE size [480, 640]",
    ),
    "RLE bad string": (
        _set(lambda d: _ann(d)["segmentation"], "counts", "~~"),
        "malformed RLE: character '~'",
    ),
    "RLE short runs": (
        _set(lambda d: _ann(d)["segmentation"], "counts", [10, 5]),
        "malformed RLE: the runs cover 15 pixels",
    ),
    "RLE counts float": (
        _set(lambda d: _ann(d)["segmentation"], "counts", [0.5]),
        "RLE counts must be integers",
    ),
    "polygon too short": (_set(_ann, "segmentation", [[1, 2, 3, 4]]), "polygon 0 must be"),
    "polygon text": (_set(_ann, "segmentation", [["a"] * 6]), "polygon 0 must be"),
    "segmentation text": (_set(_ann, "segmentation", "x"), "polygons or an RLE object"),
    "negative track": (_set(_ann, "track_id", -1), "track_id -1 is not an integer >= 0"),
    "track twice": (
        _set(lambda d: d["annotations"][1], "track_id", 0),
        "annotation id 2: track 0 appears twice on image 1",
    ),
    "nothing to draw": (
        _no_drawing,
        "needs a 'bbox' or a non-empty 'segmentation'",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_names_file_and_place(tmp_path: Path, case: str) -> None:
    """Every malformed COCO file raises ExchangeFormatError naming the file and where."""
    mutate, expected = MALFORMED[case]
    doc = written(tmp_path)
    changed = mutate(doc)
    path = dump(tmp_path, doc if changed is None else changed)
    with pytest.raises(ExchangeFormatError) as info:
        read_coco(path, make_request())
    assert str(path) in str(info.value)
    assert expected in str(info.value)


@pytest.mark.parametrize("cut", [1, 100, -30], ids=["one-char", "middle", "near-end"])
def test_truncated_file_names_the_file(tmp_path: Path, cut: int) -> None:
    """A truncated file is refused as not JSON, naming it."""
    text = json.dumps(written(tmp_path))
    path = tmp_path / "cut.json"
    path.write_text(text[:cut])
    with pytest.raises(ExchangeFormatError, match=r"cut\.json: not valid JSON"):
        read_coco(path, make_request())


def test_written_file_is_not_changed_by_the_cases(tmp_path: Path) -> None:
    """The malformed cases start from a file that reads fine (deep copies, no shared state)."""
    doc = written(tmp_path)
    before = copy.deepcopy(doc)
    read_coco(dump(tmp_path, doc), make_request())
    assert doc == before
