"""CVAT XML 1.1 exchange (asl_oracles.cvat): writing, reading back, safety and malformed files.

The "annotated" fixtures are written by hand as CVAT exports look (public CVAT XML 1.1 format
documentation): ``<meta><task>`` with CVAT's own fields, tracks renumbered by CVAT, interpolated
``keyframe="0"`` boxes between keyframes and an ``outside="1"`` keyframe closing each track.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from asl_oracles.cvat import read_cvat, write_cvat
from asl_oracles.exchange import (
    ExchangeFormatError,
    ExchangeRequest,
    ExchangeVideo,
    ImportedFrame,
    RequestedFrame,
    validate_import,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_util

from asl_core import FrameRef, Region

PERSON, BALL = 0, 1


def _request(**changes: object) -> ExchangeRequest:
    """Two videos; a:0 labelled (person, track 0); a:5, a:10, b:3 requested; a:5 pre-filled
    with a person (track 0) and a ball (track 1)."""
    values: dict[str, object] = dict(
        run="demo",
        cycle=2,
        videos={"a": ExchangeVideo("a", 20, 64, 48), "b": ExchangeVideo("b", 8, 32, 32)},
        categories=("person", "ball"),
        requested=[
            RequestedFrame(FrameRef("a", 5), 0.9),
            RequestedFrame(FrameRef("a", 10), 0.5),
            RequestedFrame(FrameRef("b", 3), 0.4),
        ],
        context={FrameRef("a", 0): (Region(0, PERSON, (10, 10, 20, 30)),)},
        predictions={
            FrameRef("a", 5): (
                Region(0, PERSON, (12, 10, 22, 30)),
                Region(1, BALL, (40, 5, 50, 15)),
            )
        },
    )
    values.update(changes)
    return ExchangeRequest(**values)  # type: ignore[arg-type]


def _one_video_request() -> ExchangeRequest:
    """Video a only, with its own frame file names."""
    names = tuple(f"img{i:03d}.png" for i in range(20))
    return _request(
        videos={"a": ExchangeVideo("a", 20, 64, 48, names)},
        requested=[RequestedFrame(FrameRef("a", 5), 0.9), RequestedFrame(FrameRef("a", 10), 0.5)],
    )


_CVAT_META_A = """
  <meta>
    <task>
      <id>12</id>
      <name>a</name>
      <size>20</size>
      <mode>interpolation</mode>
      <overlap>5</overlap>
      <bugtracker></bugtracker>
      <created>2024-03-01 10:00:00.000000+00:00</created>
      <updated>2024-03-01 11:00:00.000000+00:00</updated>
      <subset>default</subset>
      <start_frame>0</start_frame>
      <stop_frame>19</stop_frame>
      <frame_filter></frame_filter>
      <segments>
        <segment>
          <id>30</id>
          <start>0</start>
          <stop>19</stop>
          <url>http://localhost:8080/api/jobs/30</url>
        </segment>
      </segments>
      <owner>
        <username>annotator</username>
        <email></email>
      </owner>
      <assignee></assignee>
      <labels>
        <label>
          <name>person</name>
          <color>#fa3253</color>
          <type>any</type>
          <attributes></attributes>
        </label>
        <label>
          <name>ball</name>
          <color>#33ddff</color>
          <type>any</type>
          <attributes></attributes>
        </label>
      </labels>
      <original_size>
        <width>64</width>
        <height>48</height>
      </original_size>
    </task>
    <dumped>2024-03-01 11:05:00.000000+00:00</dumped>
  </meta>"""

# Video a after annotation, as CVAT exports it. The annotator moved the pre-filled person on
# frame 5 from x 12..22 to 14..24 (CVAT then interpolates frames 1-4 from the labelled frame
# 0), deleted the pre-filled ball of frame 5 (its track is gone), and drew a ball on requested
# frame 10 that moves to frame 12 (frame 11 interpolated, closed at 13). CVAT renumbered the
# tracks: the new ball is 0, the person 1.
ANNOTATED_A = f"""<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>{_CVAT_META_A}
  <track id="0" label="ball" source="manual">
    <box frame="10" keyframe="1" outside="0" occluded="0" xtl="40.00" ytl="20.00" xbr="50.00" ybr="30.00" z_order="0">
    </box>
    <box frame="11" keyframe="0" outside="0" occluded="0" xtl="42.00" ytl="20.00" xbr="52.00" ybr="30.00" z_order="0">
    </box>
    <box frame="12" keyframe="1" outside="0" occluded="0" xtl="44.00" ytl="20.00" xbr="54.00" ybr="30.00" z_order="0">
    </box>
    <box frame="13" keyframe="1" outside="1" occluded="0" xtl="44.00" ytl="20.00" xbr="54.00" ybr="30.00" z_order="0">
    </box>
  </track>
  <track id="1" label="person" source="manual">
    <box frame="0" keyframe="1" outside="0" occluded="0" xtl="10.00" ytl="10.00" xbr="20.00" ybr="30.00" z_order="0">
    </box>
    <box frame="1" keyframe="0" outside="0" occluded="0" xtl="10.80" ytl="10.00" xbr="20.80" ybr="30.00" z_order="0">
    </box>
    <box frame="2" keyframe="0" outside="0" occluded="0" xtl="11.60" ytl="10.00" xbr="21.60" ybr="30.00" z_order="0">
    </box>
    <box frame="3" keyframe="0" outside="0" occluded="0" xtl="12.40" ytl="10.00" xbr="22.40" ybr="30.00" z_order="0">
    </box>
    <box frame="4" keyframe="0" outside="0" occluded="0" xtl="13.20" ytl="10.00" xbr="23.20" ybr="30.00" z_order="0">
    </box>
    <box frame="5" keyframe="1" outside="0" occluded="0" xtl="14.00" ytl="10.00" xbr="24.00" ybr="30.00" z_order="0">
    </box>
    <box frame="6" keyframe="1" outside="1" occluded="0" xtl="14.00" ytl="10.00" xbr="24.00" ybr="30.00" z_order="0">
    </box>
  </track>
</annotations>
"""

# Video b: the annotator drew a person on requested frame 3 (a one-frame track, closed at 4).
ANNOTATED_B = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>13</id>
      <name>b</name>
      <size>8</size>
      <mode>interpolation</mode>
      <overlap>0</overlap>
      <bugtracker></bugtracker>
      <start_frame>0</start_frame>
      <stop_frame>7</stop_frame>
      <frame_filter></frame_filter>
      <labels>
        <label><name>person</name><type>any</type><attributes></attributes></label>
        <label><name>ball</name><type>any</type><attributes></attributes></label>
      </labels>
      <original_size><width>32</width><height>32</height></original_size>
    </task>
    <dumped>2024-03-01 11:06:00.000000+00:00</dumped>
  </meta>
  <track id="0" label="person" source="manual">
    <box frame="3" keyframe="1" outside="0" occluded="0" xtl="1.00" ytl="2.00" xbr="11.00" ybr="12.00" z_order="0">
    </box>
    <box frame="4" keyframe="1" outside="1" occluded="0" xtl="1.00" ytl="2.00" xbr="11.00" ybr="12.00" z_order="0">
    </box>
  </track>
</annotations>
"""


def _annotated_folder(tmp_path: Path) -> Path:
    """Export the request, then replace the files by the annotated CVAT exports."""
    out = tmp_path / "export"
    write_cvat(_request(), out)
    assert sorted(p.name for p in out.iterdir()) == ["a.xml", "b.xml"]
    (out / "a.xml").write_text(ANNOTATED_A)
    (out / "b.xml").write_text(ANNOTATED_B)
    return out


def _by_ref(frames: tuple[ImportedFrame, ...] | list[ImportedFrame]) -> dict:
    return {(f.ref.video, f.ref.frame): f for f in frames}


def _tracks_xml(body: str, *, name: str = "a", meta_extra: str = "", width: int = 64) -> str:
    """A small CVAT for video 1.1 file for video ``name`` with ``body`` after the meta."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>1</id>
      <name>{name}</name>
      <mode>interpolation</mode>{meta_extra}
      <original_size><width>{width}</width><height>48</height></original_size>
    </task>
  </meta>{body}
</annotations>
"""


def _box(frame: int, box: str = "1,1,5,5", *, keyframe: int = 1, outside: int = 0) -> str:
    x1, y1, x2, y2 = box.split(",")
    return (
        f'<box frame="{frame}" keyframe="{keyframe}" outside="{outside}" occluded="0" '
        f'xtl="{x1}" ytl="{y1}" xbr="{x2}" ybr="{y2}" z_order="0"></box>'
    )


def _read_text(tmp_path: Path, text: str, request: ExchangeRequest, name: str = "x.xml"):
    path = tmp_path / name
    path.write_text(text)
    return read_cvat(path, request)


# --------------------------------------------------------------------------- writing


def test_write_tracks_layout(tmp_path: Path) -> None:
    """The tracks file of video a has CVAT's 1.1 header, the labels, the frame size, and one
    track per (track, category) with keyframes on the context and pre-filled frames and an
    outside keyframe closing it."""
    write_cvat(_request(), tmp_path / "out")
    root = ET.parse(tmp_path / "out" / "a.xml").getroot()
    assert root.tag == "annotations" and root.findtext("version") == "1.1"
    task = root.find("meta/task")
    assert task is not None
    assert (task.findtext("name"), task.findtext("size"), task.findtext("mode")) == (
        "a",
        "20",
        "interpolation",
    )
    assert [n.text for n in task.iterfind("labels/label/name")] == ["person", "ball"]
    assert (task.findtext("original_size/width"), task.findtext("original_size/height")) == (
        "64",
        "48",
    )
    tracks = root.findall("track")
    assert [(t.get("id"), t.get("label"), t.get("source")) for t in tracks] == [
        ("0", "person", "manual"),
        ("1", "ball", "auto"),
    ]
    person = [
        (b.get("frame"), b.get("xtl"), b.get("xbr"), b.get("keyframe"), b.get("outside"))
        for b in tracks[0].iter("box")
    ]
    assert person == [
        ("0", "10.00", "20.00", "1", "0"),
        ("5", "12.00", "22.00", "1", "0"),
        ("6", "12.00", "22.00", "1", "1"),
    ]
    ball = [(b.get("frame"), b.get("outside")) for b in tracks[1].iter("box")]
    assert ball == [("5", "0"), ("6", "1")]


def test_write_records_run_and_frames_in_meta(tmp_path: Path) -> None:
    """<meta><asl> names the run, cycle and video and maps requested and context frames to
    their file names, with the scores."""
    write_cvat(_request(), tmp_path / "out")
    asl = ET.parse(tmp_path / "out" / "a.xml").getroot().find("meta/asl")
    assert asl is not None
    assert (asl.get("run"), asl.get("cycle"), asl.get("video"), asl.get("mode")) == (
        "demo",
        "2",
        "a",
        "tracks",
    )
    frames = [(f.get("index"), f.get("name"), f.get("role"), f.get("score")) for f in asl]
    assert frames == [
        ("5", "00005.jpg", "requested", "0.9"),
        ("10", "00010.jpg", "requested", "0.5"),
        ("0", "00000.jpg", "context", None),
    ]


def test_write_video_without_boxes_has_no_track(tmp_path: Path) -> None:
    """A requested frame with no prediction and no context gets nothing: b.xml has no track."""
    write_cvat(_request(), tmp_path / "out")
    root = ET.parse(tmp_path / "out" / "b.xml").getroot()
    assert root.findall("track") == [] and root.findtext("meta/task/name") == "b"


def test_write_closing_keyframe_skips_requested_frames(tmp_path: Path) -> None:
    """A track whose last box is followed by requested frames is closed on the first frame
    after them (a written outside keyframe would otherwise mark a requested frame empty)."""
    request = _request(
        videos={"a": ExchangeVideo("a", 20, 64, 48)},
        requested=[RequestedFrame(FrameRef("a", f), 1.0) for f in (5, 6, 7)],
        predictions={FrameRef("a", 5): (Region(3, PERSON, (1, 1, 5, 5)),)},
        context={},
    )
    write_cvat(request, tmp_path / "a.xml")
    track = ET.parse(tmp_path / "a.xml").getroot().find("track")
    assert track is not None
    assert [(b.get("frame"), b.get("outside")) for b in track] == [("5", "0"), ("8", "1")]


def test_write_outside_on_context_frame_without_the_track(tmp_path: Path) -> None:
    """A context frame inside a track's span that lacks the track gets an outside keyframe, so
    CVAT does not interpolate the object onto it."""
    request = _request(
        videos={"a": ExchangeVideo("a", 20, 64, 48)},
        requested=[RequestedFrame(FrameRef("a", 10), 1.0)],
        context={
            FrameRef("a", 0): (Region(0, PERSON, (1, 1, 5, 5)),),
            FrameRef("a", 4): (),
            FrameRef("a", 8): (Region(0, PERSON, (2, 1, 6, 5)),),
        },
        predictions={},
    )
    write_cvat(request, tmp_path / "a.xml")
    track = ET.parse(tmp_path / "a.xml").getroot().find("track")
    assert track is not None
    shapes = [(b.get("frame"), b.get("xtl"), b.get("outside")) for b in track]
    assert shapes == [
        ("0", "1.00", "0"),
        ("4", "1.00", "1"),
        ("8", "2.00", "0"),
        ("9", "2.00", "1"),
    ]


def test_write_mask_only_region_as_tight_box(tmp_path: Path) -> None:
    """A region with only a mask is written as the mask's tight box: ones on rows 2..4 and
    columns 3..6 give xtl=3, ytl=2, xbr=7, ybr=5."""
    grid = np.zeros((48, 64), dtype=np.uint8, order="F")
    grid[2:5, 3:7] = 1
    rle = mask_util.encode(grid)
    request = _request(
        videos={"a": ExchangeVideo("a", 20, 64, 48)},
        requested=[RequestedFrame(FrameRef("a", 5), 1.0)],
        context={},
        predictions={FrameRef("a", 5): (Region(0, PERSON, None, rle),)},
    )
    write_cvat(request, tmp_path / "a.xml")
    box = ET.parse(tmp_path / "a.xml").getroot().find("track/box")
    assert box is not None
    assert [box.get(k) for k in ("xtl", "ytl", "xbr", "ybr")] == ["3.00", "2.00", "7.00", "5.00"]


def test_write_xml_path_needs_one_video(tmp_path: Path) -> None:
    """An .xml path for a request with two videos is refused and nothing is written."""
    with pytest.raises(ExchangeFormatError, match=r"2 videos.*give a folder"):
        write_cvat(_request(), tmp_path / "out.xml")
    assert list(tmp_path.iterdir()) == []


def test_write_unknown_mode_refused(tmp_path: Path) -> None:
    """A mode other than tracks / frames is refused."""
    with pytest.raises(ExchangeFormatError, match="unknown CVAT mode 'video'"):
        write_cvat(_request(), tmp_path / "out", mode="video")


def test_write_path_like_video_id_refused(tmp_path: Path) -> None:
    """A video id that cannot be a file name in the folder (``../x``) is refused."""
    request = _request(
        videos={"../x": ExchangeVideo("../x", 4, 8, 8)},
        requested=[RequestedFrame(FrameRef("../x", 1), 1.0)],
        context={},
        predictions={},
    )
    with pytest.raises(ExchangeFormatError, match="cannot be a file name"):
        write_cvat(request, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_write_frames_layout(tmp_path: Path) -> None:
    """The frames file lists only the requested frames as images named after the frame files,
    with the predicted boxes carrying their track id."""
    write_cvat(_one_video_request(), tmp_path / "a.xml", mode="frames")
    root = ET.parse(tmp_path / "a.xml").getroot()
    assert root.findtext("meta/task/mode") == "annotation"
    images = root.findall("image")
    assert [(i.get("id"), i.get("name"), i.get("width"), i.get("height")) for i in images] == [
        ("0", "img005.png", "64", "48"),
        ("1", "img010.png", "64", "48"),
    ]
    boxes = [(b.get("label"), b.get("xtl"), b.findtext("attribute")) for b in images[0]]
    assert boxes == [("person", "12.00", "0"), ("ball", "40.00", "1")]
    assert list(images[1]) == []
    assert root.findall("track") == []


# --------------------------------------------------------------------------- round trips


def test_round_trip_tracks(tmp_path: Path) -> None:
    """The annotated exports give: the moved person on a:5 (the deleted ball gone), the new
    ball on a:10 and a:12 as human frames with a new track id 2, the interpolated a:1-4 and
    a:11 as non-human frames, b:3 human; the labelled a:0 is not returned."""
    result = read_cvat(_annotated_folder(tmp_path), _request())
    frames = _by_ref(result.frames)
    assert sorted(frames) == [("a", f) for f in (1, 2, 3, 4, 5, 10, 11, 12)] + [("b", 3)]
    assert frames["a", 5] == ImportedFrame(
        FrameRef("a", 5), (Region(0, PERSON, (14, 10, 24, 30)),), True
    )
    assert frames["a", 10] == ImportedFrame(
        FrameRef("a", 10), (Region(2, BALL, (40, 20, 50, 30)),), True
    )
    assert frames["a", 11] == ImportedFrame(
        FrameRef("a", 11), (Region(2, BALL, (42, 20, 52, 30)),), False
    )
    assert frames["a", 12] == ImportedFrame(
        FrameRef("a", 12), (Region(2, BALL, (44, 20, 54, 30)),), True
    )
    assert frames["a", 3] == ImportedFrame(
        FrameRef("a", 3), (Region(0, PERSON, (12.4, 10, 22.4, 30)),), False
    )
    assert [frames["a", f].human for f in (1, 2, 3, 4)] == [False] * 4
    assert frames["b", 3] == ImportedFrame(
        FrameRef("b", 3), (Region(0, PERSON, (1, 2, 11, 12)),), True
    )
    assert all(f.seconds is None for f in result.frames)
    assert result.warnings == ()


def test_round_trip_through_validate_import(tmp_path: Path) -> None:
    """validate_import keeps the requested human frames in request order, then the extra a:12,
    and drops the interpolated ones."""
    result = read_cvat(_annotated_folder(tmp_path), _request())
    keep, warnings = validate_import(result, _request(), source="export", accept_extra=True)
    assert [(f.ref.video, f.ref.frame) for f in keep] == [("a", 5), ("a", 10), ("b", 3), ("a", 12)]
    assert all(f.human for f in keep) and warnings == []


def test_round_trip_extra_keyframe_needs_accept_extra(tmp_path: Path) -> None:
    """Without --accept-extra the annotator's unrequested keyframe a:12 is refused."""
    result = read_cvat(_annotated_folder(tmp_path), _request())
    with pytest.raises(ExchangeFormatError, match="frame 12 of 'a' was not requested"):
        validate_import(result, _request(), source="export")


def test_unedited_tracks_file_reads_back_the_predictions(tmp_path: Path) -> None:
    """Reading the written file as it is returns the pre-filled frame with its predictions and
    nothing else (context dropped without warning)."""
    write_cvat(_request(), tmp_path / "out")
    result = read_cvat(tmp_path / "out", _request())
    assert result.frames == (
        ImportedFrame(FrameRef("a", 5), _request().predictions[FrameRef("a", 5)], True),
    )
    assert result.warnings == ()


def test_round_trip_frames(tmp_path: Path) -> None:
    """A CVAT for images export of the frame list: the person keeps its track_id attribute, the
    ball without it takes the predicted track it overlaps (IoU 90/110), a new box gets id 2,
    and the empty requested image a:10 is a human frame with no region."""
    request = _one_video_request()
    write_cvat(request, tmp_path / "a.xml", mode="frames")
    annotated = """<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>14</id>
      <name>demo cycle 2</name>
      <size>2</size>
      <mode>annotation</mode>
      <overlap>0</overlap>
      <labels>
        <label><name>person</name><type>any</type><attributes></attributes></label>
        <label><name>ball</name><type>any</type><attributes></attributes></label>
      </labels>
    </task>
    <dumped>2024-03-01 12:00:00.000000+00:00</dumped>
  </meta>
  <image id="0" name="img005.png" width="64" height="48">
    <box label="person" source="manual" occluded="0" xtl="14.00" ytl="10.00" xbr="24.00" ybr="30.00" z_order="0">
      <attribute name="track_id">0</attribute>
    </box>
    <box label="ball" source="manual" occluded="1" xtl="41.00" ytl="5.00" xbr="51.00" ybr="15.00" z_order="0">
    </box>
    <box label="ball" source="manual" occluded="0" xtl="2.00" ytl="30.00" xbr="8.00" ybr="36.00" z_order="0">
    </box>
  </image>
  <image id="1" name="img010.png" width="64" height="48">
  </image>
</annotations>
"""
    (tmp_path / "a.xml").write_text(annotated)
    result = read_cvat(tmp_path / "a.xml", request)
    assert result.frames == (
        ImportedFrame(
            FrameRef("a", 5),
            (
                Region(0, PERSON, (14, 10, 24, 30)),
                Region(1, BALL, (41, 5, 51, 15)),
                Region(2, BALL, (2, 30, 8, 36)),
            ),
            True,
        ),
        ImportedFrame(FrameRef("a", 10), (), True),
    )


def test_frames_unrequested_image_only_with_shapes(tmp_path: Path) -> None:
    """In an image file an unrequested image with a box is a human (extra) frame, one without
    any shape is skipped."""
    body = """
  <image id="0" name="img003.png" width="64" height="48"></image>
  <image id="1" name="img004.png" width="64" height="48">
    <box label="ball" occluded="0" xtl="1" ytl="1" xbr="5" ybr="5" z_order="0"></box>
  </image>"""
    text = f"<annotations><version>1.1</version><meta><task><name>a</name></task></meta>{body}</annotations>"
    result = _read_text(tmp_path, text, _one_video_request())
    assert result.frames == (
        ImportedFrame(FrameRef("a", 4), (Region(2, BALL, (1, 1, 5, 5)),), True),
    )


def test_frames_unchanged_context_image_gives_no_warning(tmp_path: Path) -> None:
    """An image of the labelled frame a:0 (a task made from more frames) is not returned, and
    its unchanged box, matched to the labelled track, raises no warning; a moved one does."""
    request = _one_video_request()
    image = (
        '<image id="0" name="img000.png" width="64" height="48">'
        '<box label="person" occluded="0" xtl="{}" ytl="10" xbr="20" ybr="30"></box></image>'
    )
    for xtl, warned in (("10", False), ("11", True)):
        text = f"<annotations><version>1.1</version><meta></meta>{image.format(xtl)}</annotations>"
        result = _read_text(tmp_path, text, request)
        assert result.frames == () and bool(result.warnings) is warned


def test_frames_image_matched_by_last_part_of_relative_name(tmp_path: Path) -> None:
    """An image named ``a/img010.png`` (a task made from a folder) is frame 10."""
    body = '<image id="0" name="a/img010.png" width="64" height="48"></image>'
    text = f"<annotations><version>1.1</version><meta></meta>{body}</annotations>"
    result = _read_text(tmp_path, text, _one_video_request())
    assert result.frames == (ImportedFrame(FrameRef("a", 10), (), True),)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_unedited_round_trip_keeps_predictions(tmp_path: Path, data: st.DataObject) -> None:
    """For any context and predictions, reading the unedited tracks file returns exactly the
    pre-filled requested frames, with the request's track ids, and no warning."""
    frames = data.draw(st.lists(st.integers(0, 29), min_size=1, max_size=6, unique=True))
    split = data.draw(st.integers(1, len(frames)))
    requested, context_frames = frames[:split], frames[split:]

    def regions() -> tuple[Region, ...]:
        ids = data.draw(st.lists(st.integers(0, 3), max_size=3, unique=True))
        out = []
        for tid in ids:
            x, y = data.draw(st.integers(0, 80)), data.draw(st.integers(0, 60))
            w, h = data.draw(st.integers(1, 19)), data.draw(st.integers(1, 19))
            out.append(Region(tid, tid % 2, (x, y, x + w, y + h)))
        return tuple(sorted(out, key=lambda r: r.track_id))

    request = _request(
        videos={"a": ExchangeVideo("a", 30, 100, 80)},
        requested=[RequestedFrame(FrameRef("a", f), 1.0) for f in requested],
        context={FrameRef("a", f): regions() for f in context_frames},
        predictions={FrameRef("a", f): regions() for f in requested},
    )
    out = tmp_path / f"h{len(list(tmp_path.iterdir()))}.xml"
    write_cvat(request, out)
    result = read_cvat(out, request)
    expected = {
        (ref.video, ref.frame): ImportedFrame(ref, regions, True)
        for ref, regions in request.predictions.items()
        if regions
    }
    assert _by_ref(result.frames) == expected
    assert result.warnings == ()


# --------------------------------------------------------------------------- reading rules


def test_outside_keyframe_on_requested_frame_is_empty_human_frame(tmp_path: Path) -> None:
    """An annotator's outside keyframe on requested frame 10 says "no object": a human frame
    with no region; the same on an unrequested frame is nothing."""
    body = f"""
  <track id="0" label="person" source="manual">
    {_box(2)}
    {_box(10, outside=1)}
    {_box(14, outside=1)}
  </track>"""
    result = _read_text(tmp_path, _tracks_xml(body), _request())
    assert _by_ref(result.frames) == {
        ("a", 2): ImportedFrame(FrameRef("a", 2), (Region(2, PERSON, (1, 1, 5, 5)),), True),
        ("a", 10): ImportedFrame(FrameRef("a", 10), (), True),
    }


def test_human_frame_keeps_interpolated_shapes_of_other_tracks(tmp_path: Path) -> None:
    """On frame 10, a keyframe of one track makes the frame human and the other track's
    interpolated box (seen by the annotator) is one of its regions."""
    body = f"""
  <track id="0" label="person" source="manual">{_box(9, keyframe=1)}{_box(10, keyframe=0)}</track>
  <track id="1" label="ball" source="manual">{_box(10, "20,20,30,30")}</track>"""
    result = _read_text(tmp_path, _tracks_xml(body), _request())
    assert _by_ref(result.frames)["a", 10] == ImportedFrame(
        FrameRef("a", 10),
        (Region(2, PERSON, (1, 1, 5, 5)), Region(3, BALL, (20, 20, 30, 30))),
        True,
    )


def test_polygon_read_as_mask_and_tight_box(tmp_path: Path) -> None:
    """A polygon 2,2 6,2 6,6 2,6 becomes a 16-pixel RLE mask over the 64x48 frame and the box
    (2, 2, 6, 6)."""
    body = """
  <track id="0" label="ball" source="manual">
    <polygon frame="10" keyframe="1" outside="0" occluded="0" points="2,2;6,2;6,6;2,6" z_order="0">
    </polygon>
  </track>"""
    (frame,) = _read_text(tmp_path, _tracks_xml(body), _request()).frames
    (region,) = frame.regions
    assert region.box == (2, 2, 6, 6) and region.mask is not None
    assert region.mask["size"] == (48, 64)
    rle = {"size": [48, 64], "counts": region.mask["counts"].encode()}
    grid = mask_util.decode(rle)
    assert grid.sum() == 16 and grid[2:6, 2:6].all()


def test_edited_context_frame_is_dropped_with_a_warning(tmp_path: Path) -> None:
    """Moving the box of the labelled frame a:0 does not import it; a warning says so."""
    body = f"""
  <track id="0" label="person" source="manual">{_box(0, "11,10,21,30")}{_box(5, "12,10,22,30")}</track>"""
    result = _read_text(tmp_path, _tracks_xml(body), _request())
    assert [f.ref.frame for f in result.frames] == [5]
    (warning,) = result.warnings
    assert "frame 0 of 'a' is already labelled" in warning and "x.xml" in warning


def test_track_ids_follow_context_not_cvat_numbering(tmp_path: Path) -> None:
    """A CVAT track (id 7) whose box matches the labelled person of a:0 gets track id 0."""
    body = f"""
  <track id="7" label="person" source="manual">{_box(0, "10,10,20,30")}{_box(10, "15,10,25,30")}</track>"""
    result = _read_text(tmp_path, _tracks_xml(body), _request())
    assert result.frames == (
        ImportedFrame(FrameRef("a", 10), (Region(0, PERSON, (15, 10, 25, 30)),), True),
    )


def test_video_from_file_name_when_meta_says_nothing(tmp_path: Path) -> None:
    """A file whose task name is no video id is matched by its file name b.xml."""
    body = f'<track id="0" label="ball" source="manual">{_box(3)}</track>'
    text = _tracks_xml(body, name="my task", width=32).replace("<height>48", "<height>32")
    result = _read_text(tmp_path, text, _request(), name="b.xml")
    assert [f.ref for f in result.frames] == [FrameRef("b", 3)]


def test_conflicting_video_names_refused(tmp_path: Path) -> None:
    """A file named a.xml whose task is named b is refused (which video is meant?)."""
    text = _tracks_xml("", name="b")
    with pytest.raises(ExchangeFormatError, match=r"task name says 'b'.*file name says 'a'"):
        _read_text(tmp_path, text, _request(), name="a.xml")


def test_two_files_for_one_video_refused(tmp_path: Path) -> None:
    """A folder with two files for video a is refused."""
    (tmp_path / "one.xml").write_text(_tracks_xml(""))
    (tmp_path / "two.xml").write_text(_tracks_xml(""))
    with pytest.raises(ExchangeFormatError, match=r"two.xml: video 'a' is also in .*one.xml"):
        read_cvat(tmp_path, _request())


# --------------------------------------------------------------------------- safety

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE annotations [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotations><version>1.1</version><meta><task><name>&lol9;</name></task></meta></annotations>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE annotations [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<annotations><version>1.1</version><meta><task><name>&x;</name></task></meta></annotations>
"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "external"])
def test_entities_refused(tmp_path: Path, text: str) -> None:
    """Files with a DTD (entity bombs, external entities) are refused, naming the file, before
    any entity is expanded or fetched."""
    path = tmp_path / "evil.xml"
    path.write_text(text)
    with pytest.raises(ExchangeFormatError) as info:
        read_cvat(path, _request())
    message = str(info.value)
    assert str(path) in message and "line 2: DOCTYPE declarations are not allowed" in message
    assert "lol" not in message and "root:" not in message


def test_undeclared_entity_reference_refused(tmp_path: Path) -> None:
    """An entity reference without a DTD is a well-formedness error, not an expansion."""
    text = "<annotations><version>1.1</version><meta><task><name>&x;</name></task></meta></annotations>"
    with pytest.raises(ExchangeFormatError, match=r"x.xml: line 1, .*undefined entity"):
        _read_text(tmp_path, text, _request())


@pytest.mark.parametrize(
    ("element", "problem"),
    [
        ('<asl video="../a"></asl>', "video '../a' looks like a path"),
        ('<asl video="/a"></asl>', "video '/a' looks like a path"),
        ("<task><name>a\\b</name></task>", "task name 'a\\\\b' looks like a path"),
        ("<task><name>C:a</name></task>", "task name 'C:a' looks like a path"),
    ],
)
def test_path_like_video_names_refused(tmp_path: Path, element: str, problem: str) -> None:
    """Video names in the meta that look like paths are refused."""
    text = f"<annotations><version>1.1</version><meta>{element}</meta></annotations>"
    with pytest.raises(ExchangeFormatError) as info:
        _read_text(tmp_path, text, _request())
    assert problem in str(info.value)


@pytest.mark.parametrize(
    "name", ["../img005.png", "/tmp/img005.png", "a\\img005.png", "C:img005.png"]
)
def test_path_like_image_names_refused(tmp_path: Path, name: str) -> None:
    """Image names that look like paths are refused."""
    text = (
        "<annotations><version>1.1</version><meta></meta>"
        f'<image id="0" name="{name}" width="64" height="48"></image></annotations>'
    )
    with pytest.raises(ExchangeFormatError, match="looks like a path"):
        _read_text(tmp_path, text, _one_video_request())


# --------------------------------------------------------------------------- malformed files

_TRACK = '<track id="0" label="person" source="manual">{}</track>'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_tracks_xml(_TRACK.format(_box(1)))[:-40], "not well-formed XML"),
        ("", "line 1, column 0: not well-formed XML"),
        ("<dataset><version>1.1</version></dataset>", "root element must be <annotations>"),
        ("<annotations><meta></meta></annotations>", "no <version>; expected CVAT XML version 1.1"),
        ("<annotations><version>1.0</version></annotations>", "version '1.0'; expected"),
        (
            _tracks_xml(
                _TRACK.format('<box frame="1" keyframe="1" outside="0" ytl="1" xbr="2" ybr="2"/>')
            ),
            "line 11: <box> has no 'xtl' attribute",
        ),
        (_tracks_xml(_TRACK.format(_box(1, "a,1,2,2"))), "line 11: <box>: xtl='a' is not a number"),
        (_tracks_xml(_TRACK.format(_box(1, "nan,1,2,2"))), "xtl='nan' is not finite"),
        (_tracks_xml(_TRACK.format(_box(1, "5,1,2,2"))), "has xbr < xtl"),
        (
            _tracks_xml(_TRACK.format(_box(1).replace("<box ", '<box rotation="30.0" '))),
            "rotated boxes (rotation='30.0') are not supported",
        ),
        (
            _tracks_xml(_TRACK.format(_box(1).replace('frame="1"', 'frame="1.5"'))),
            "frame='1.5' is not an integer",
        ),
        (
            _tracks_xml(_TRACK.format(_box(1).replace('frame="1"', 'frame="-1"'))),
            "frame='-1' is negative",
        ),
        (
            _tracks_xml(_TRACK.format(_box(1).replace('keyframe="1" ', ""))),
            "has no 'keyframe' attribute",
        ),
        (_tracks_xml(_TRACK.format(_box(1, keyframe=2))), "keyframe='2' is not 0 or 1"),
        (_tracks_xml(_TRACK.format(_box(1) + _box(1))), "track 0 has two shapes on frame 1"),
        (
            _tracks_xml('<track id="0" label="dog" source="manual"></track>'),
            "line 11: <track>: unknown label 'dog'",
        ),
        (_tracks_xml('<track id="0" source="manual"></track>'), "<track> has no 'label' attribute"),
        (
            _tracks_xml(
                _TRACK.format('<polyline frame="1" keyframe="1" outside="0" points="1,1;2,2"/>')
            ),
            "polyline shapes are not supported",
        ),
        (
            _tracks_xml(
                _TRACK.format('<polygon frame="1" keyframe="1" outside="0" points="1,1;2,2"/>')
            ),
            "a polygon needs at least 3 points, got 2",
        ),
        (
            _tracks_xml(_TRACK.format("") + '<image id="0" name="00001.jpg"></image>'),
            "both <track> and <image>",
        ),
        (_tracks_xml("", width=640), "frames of 640x48 pixels but video 'a' is 64x48"),
        (
            _tracks_xml("", meta_extra="<start_frame>3</start_frame>"),
            "the task starts at frame 3",
        ),
        (
            _tracks_xml("", meta_extra="<frame_filter>step=2</frame_filter>"),
            "frame filter 'step=2'",
        ),
        (
            _tracks_xml("", meta_extra="<size>7</size>"),
            "the task has 7 frames but video 'a' has 20",
        ),
        (
            '<annotations><version>1.1</version><meta><asl video="zzz"></asl></meta></annotations>',
            "unknown video 'zzz'",
        ),
        (
            _tracks_xml("", name="nobody"),
            "cannot tell which video this file is for: name the CVAT task",
        ),
    ],
    ids=[
        "truncated",
        "empty",
        "wrong-root",
        "no-version",
        "old-version",
        "missing-coordinate",
        "text-coordinate",
        "nan-coordinate",
        "inverted-box",
        "rotated-box",
        "fractional-frame",
        "negative-frame",
        "no-keyframe-flag",
        "bad-flag",
        "two-shapes-one-frame",
        "unknown-label",
        "no-label",
        "polyline",
        "short-polygon",
        "tracks-and-images",
        "wrong-size",
        "start-frame",
        "frame-filter",
        "frame-count",
        "unknown-video",
        "no-video",
    ],
)
def test_malformed_tracks_file(tmp_path: Path, text: str, problem: str) -> None:
    """Each malformed file is refused with an ExchangeFormatError naming the file and the
    problem (and the line where it can)."""
    with pytest.raises(ExchangeFormatError) as info:
        _read_text(tmp_path, text, _request())
    message = str(info.value)
    assert message.startswith(str(tmp_path / "x.xml")), message
    assert problem in message, message


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (
            '<image id="0" name="img099.png" width="64" height="48"></image>',
            "is not a frame of video 'a'",
        ),
        ('<image id="0" width="64" height="48"></image>', "<image> has no 'name' attribute"),
        ('<image id="0" name="img005.png" width="32" height="48"></image>', "has width 32"),
        (
            '<image id="0" name="img005.png"><box label="ball" xtl="1" ytl="1" xbr="2"></box></image>',
            "<box> has no 'ybr' attribute",
        ),
        (
            '<image id="0" name="img005.png"><box label="ball" xtl="1" ytl="1" xbr="2" ybr="2">'
            '<attribute name="track_id">x1</attribute></box></image>',
            "track_id 'x1' is not a non-negative integer",
        ),
        (
            '<image id="0" name="img005.png">'
            '<box label="ball" xtl="1" ytl="1" xbr="2" ybr="2"><attribute name="track_id">4</attribute></box>'
            '<box label="ball" xtl="1" ytl="1" xbr="2" ybr="2"><attribute name="track_id">4</attribute></box>'
            "</image>",
            "track_id 4 is used twice on frame 5",
        ),
        (
            '<image id="0" name="img005.png"><mask label="ball"></mask></image>',
            "mask shapes are not supported",
        ),
    ],
    ids=[
        "unknown-image",
        "no-name",
        "wrong-width",
        "missing-coordinate",
        "bad-track-id",
        "twice",
        "mask",
    ],
)
def test_malformed_images_file(tmp_path: Path, image: str, problem: str) -> None:
    """Malformed image files are refused, naming the file and the problem."""
    text = f"<annotations><version>1.1</version><meta></meta>{image}</annotations>"
    with pytest.raises(ExchangeFormatError) as info:
        _read_text(tmp_path, text, _one_video_request())
    message = str(info.value)
    assert message.startswith(str(tmp_path / "x.xml")) and problem in message, message


def test_missing_path_refused(tmp_path: Path) -> None:
    """A path that does not exist is refused, naming it."""
    with pytest.raises(ExchangeFormatError, match=r"nothing.xml: no such file or folder"):
        read_cvat(tmp_path / "nothing.xml", _request())


def test_folder_without_xml_refused(tmp_path: Path) -> None:
    """A folder with no .xml file is refused."""
    with pytest.raises(ExchangeFormatError, match=r"holds no .xml file"):
        read_cvat(tmp_path, _request())
