"""Label Studio JSON exchange: video object tracking tasks out, annotations back (issue 8).

Format relied on (Label Studio documentation; no Label Studio code is used):

- Video Object Tracking template (labelstud.io/templates/video_object_detector) and the
  ``VideoRectangle`` tag page (labelstud.io/tags/videorectangle): label config
  ``<View><Video name="video" value="$video"/><VideoRectangle name="box" toName="video"/>
  <Labels name="videoLabels" toName="video">...</Labels></View>``. One tracked object is one
  result ``{"id", "type": "videorectangle", "from_name": "box", "to_name": "video",
  "value": {"labels": [...], "framesCount", "duration", "sequence": [...]}}``; ``sequence`` is its
  list of keyframes ``{frame, enabled, x, y, width, height, rotation, time}``: ``x, y`` the
  top-left corner and ``width, height`` the size, in percent (0-100) of the frame's width /
  height, ``rotation`` in degrees clockwise about that corner, ``time`` in seconds, and
  ``enabled`` whether the object continues (is interpolated) after this keyframe: toggling
  interpolation off ends the lifespan there (the "Monitor the lifespan" section).
- Task format (labelstud.io/guide/task_format): a JSON list of tasks ``{"data": {...},
  "annotations": [{"result": [...], "was_cancelled", "lead_time" (seconds the annotator
  spent), "created_at", "updated_at", ...}], "predictions": [{"model_version", "score",
  "result": [...]}]}``; the prediction ``score`` is what the Data Manager sorts tasks by
  (labelstud.io/guide/predictions; API reference "Create prediction").
- Exports made with the ``interpolate_key_frames`` serialization option list the in-between
  frames too, marked ``"auto": true`` (label-studio issues #2539, #3683; label-studio-tools
  ``postprocessing/video.py``, which builds them).

Frame numbers: **Label Studio numbers video frames from 1**: ``sequence[].frame = task frame +
1`` (:func:`to_label_studio_frame`, :func:`from_label_studio_frame`). The template page's
table says "starting from 0", but its own example has ``frame: 1`` at ``time: 0.04`` for a
25 fps video and third-party converters (DagsHub's annotation converter) treat ``frame: 1`` as
the first frame; 1-based is what this module writes and expects (a ``frame`` below 1 is an
error). ``time`` is written as ``(task frame + 1) / fps`` like that example and never read.

Export (:func:`write_labelstudio`): one task per video that has requested frames, in request
order. ``data``: ``video`` (``video_url`` formatted with the video id: a placeholder
``"<video id>.mp4"`` by default; point it at where Label Studio serves the videos),
``asl_video`` (the id the import maps back by), ``asl_run``, ``asl_cycle``, ``asl_frames`` (the
requested 0-based task frames), ``asl_label_studio_frames`` (the same, 1-based, as the player
shows them) and ``asl_scores`` (``{"<task frame>": score}``). One prediction per task
(``model_version`` names the run and cycle, ``score`` = the best selection score of the task's
requested frames) whose ``result`` has one ``videorectangle`` per track (id ``"t<track id>"``;
``"t<track id>-c<category>"`` for a track whose category changes) with a keyframe at each
requested frame (the model's prediction) and each context frame (the labels the run already
has) where the track is present; ``enabled`` is true exactly when the track is also present,
with the same category, at the next of those frames, so the pre-filled lifespans do not run to
the end of the video. A region with only a mask is drawn as the mask's box (VideoRectangle has
no masks). The label config is written next to the JSON as ``<stem>.label_config.xml``
(:func:`label_config`, :func:`label_config_path`): paste it in the project's Labeling
Interface (Code) and let the project use predictions to pre-label tasks, so annotators start
from them.

Import (:func:`read_labelstudio`): a Label Studio JSON export (a list of tasks, or one task).
Each task maps to a video by ``data.asl_video`` (missing, path-like or unknown ids are
refused; two tasks of one video too); of its annotations the latest (``updated_at``, else
``created_at``, else position) not ``was_cancelled`` is used (older exports' ``completions``
are read when ``annotations`` is absent). Each ``videorectangle`` result is a track: result ids
``"t<n>"`` / ``"t<n>-..."`` keep track ``n``; other ids (objects the annotator drew) get new track
ids, one more than the largest known for the video, in result order. Its label is
``value.labels[0]``, matched to the run's category names. Every frame that appears in some
``sequence`` is imported with the boxes of all tracks present on it: a track is present at its
own keyframes, between two keyframes when the earlier one is ``enabled`` (box linearly
interpolated, as Label Studio does), and after its last keyframe when that one is ``enabled``;
a frame with a keyframe not marked ``auto`` is ``human=True``, a frame with only ``auto`` ones
is ``human=False``. Pre-filled keyframes come back as ordinary (not ``auto``) keyframes, so a
requested frame whose prediction was submitted unchanged counts as checked by the annotator.
Percent become pixels through the request's video size (``x1 = x / 100 *
width``, ``x2 = (x + width%) / 100 * width``, rounded to 1e-6 px); a rotated box becomes its
axis-aligned envelope, with a warning. The annotation's ``lead_time`` is split evenly over its
human frames (``seconds``). Context frames (already labelled) are never imported. A requested
frame without a human keyframe is reported in the warnings (Label Studio cannot mark a video
frame as "looked at, empty").
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from attrs import frozen

from asl_core import FrameRef, Region

from .coco import (
    finite_number,
    integer,
    is_path_like,
    max_track_id,
    read_json,
    rle_box,
    write_text_atomic,
)
from .exchange import (
    ExchangeFormatError,
    ExchangeRequest,
    ExchangeVideo,
    ImportedFrame,
    ImportResult,
)

__all__ = [
    "FROM_NAME",
    "LABELS_NAME",
    "TO_NAME",
    "box_to_percent",
    "from_label_studio_frame",
    "label_config",
    "label_config_path",
    "percent_to_box",
    "read_labelstudio",
    "to_label_studio_frame",
    "write_labelstudio",
]

#: ``name`` of the VideoRectangle control (``from_name`` of the results).
FROM_NAME = "box"
#: ``name`` of the Video object tag (``to_name`` of the results).
TO_NAME = "video"
#: ``name`` of the Labels control.
LABELS_NAME = "videoLabels"

_TRACK_ID = re.compile(r"t(\d+)(?:-.*)?")


# --------------------------------------------------------------------------- conversions


def to_label_studio_frame(frame: int) -> int:
    """Label Studio's 1-based ``sequence`` frame of 0-based task frame ``frame``."""
    return int(frame) + 1


def from_label_studio_frame(frame: int) -> int:
    """0-based task frame of Label Studio's 1-based ``sequence`` frame (``ValueError`` if < 1)."""
    if frame < 1:
        raise ValueError(f"Label Studio frames start at 1, got {frame}")
    return int(frame) - 1


def box_to_percent(
    box: Sequence[float], width: int, height: int
) -> tuple[float, float, float, float]:
    """``(x, y, width, height)`` in percent of the frame of a pixel box ``(x1, y1, x2, y2)``."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return (
        100.0 * x1 / width,
        100.0 * y1 / height,
        100.0 * (x2 - x1) / width,
        100.0 * (y2 - y1) / height,
    )


def percent_to_box(
    x: float,
    y: float,
    w: float,
    h: float,
    width: int,
    height: int,
    rotation: float = 0.0,
) -> tuple[float, float, float, float]:
    """Pixel box ``(x1, y1, x2, y2)`` of a Label Studio rectangle given in percent.

    A rotated rectangle (``rotation`` degrees clockwise about its top-left corner, applied in
    pixels) gives its axis-aligned envelope. Coordinates are rounded to 1e-6 px so that
    percent written by :func:`box_to_percent` come back as the same pixels.
    """
    px, py = x / 100.0 * width, y / 100.0 * height
    pw, ph = w / 100.0 * width, h / 100.0 * height
    if rotation % 360.0 == 0.0:
        xs, ys = [px, (x + w) / 100.0 * width], [py, (y + h) / 100.0 * height]
    else:
        c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
        corners = [(0.0, 0.0), (pw, 0.0), (pw, ph), (0.0, ph)]
        xs = [px + dx * c - dy * s for dx, dy in corners]
        ys = [py + dx * s + dy * c for dx, dy in corners]
    return (round(min(xs), 6), round(min(ys), 6), round(max(xs), 6), round(max(ys), 6))


# --------------------------------------------------------------------------- export


def label_config_path(path: Path) -> Path:
    """Where :func:`write_labelstudio` puts the label config: ``<stem>.label_config.xml``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.label_config.xml")


def label_config(categories: Sequence[str], *, fps: float = 25.0) -> str:
    """The Label Studio labeling config (XML) of the exported tasks: a ``Video`` tag named
    ``video`` showing ``$video`` at ``fps``, a ``VideoRectangle`` named ``box`` and a
    ``Labels`` control with one ``Label`` per category, in category order."""
    labels = "\n".join(f"    <Label value={quoteattr(name)}/>" for name in categories)
    return (
        "<View>\n"
        '  <Header value="Annotate the frames listed in asl_label_studio_frames"/>\n'
        f'  <Video name="{TO_NAME}" value="$video" framerate={quoteattr(f"{fps:g}")}/>\n'
        f'  <VideoRectangle name="{FROM_NAME}" toName="{TO_NAME}"/>\n'
        f'  <Labels name="{LABELS_NAME}" toName="{TO_NAME}" allowEmpty="true">\n'
        f"{labels}\n"
        "  </Labels>\n"
        "</View>\n"
    )


def _drawable(region: Region) -> tuple[float, float, float, float] | None:
    if region.box is not None:
        return region.box
    return rle_box(dict(region.mask)) if region.mask is not None else None


def _results(
    request: ExchangeRequest,
    video: ExchangeVideo,
    shown: Mapping[int, Sequence[Region]],
    fps: float,
) -> list[dict[str, Any]]:
    order = sorted(shown)
    # track -> {frame: (category, box)}
    tracks: dict[int, dict[int, tuple[int, tuple[float, float, float, float]]]] = {}
    for f in order:
        for region in shown[f]:
            box = _drawable(region)
            if box is None:
                continue
            per_frame = tracks.setdefault(region.track_id, {})
            if f in per_frame:
                raise ValueError(
                    f"video {video.id!r} frame {f}: track {region.track_id} has two regions"
                )
            per_frame[f] = (region.category, box)
    results = []
    for track in sorted(tracks):
        per_frame = tracks[track]
        cats = sorted({cat for cat, _ in per_frame.values()})
        for cat in cats:
            sequence = []
            for i, f in enumerate(order):
                if per_frame.get(f, (None,))[0] != cat:
                    continue
                nxt = order[i + 1] if i + 1 < len(order) else None
                enabled = nxt is not None and per_frame.get(nxt, (None,))[0] == cat
                x, y, w, h = box_to_percent(per_frame[f][1], video.width, video.height)
                ls_frame = to_label_studio_frame(f)
                sequence.append(
                    {
                        "frame": ls_frame,
                        "enabled": enabled,
                        "x": x,
                        "y": y,
                        "width": w,
                        "height": h,
                        "rotation": 0,
                        "time": ls_frame / fps,
                    }
                )
            results.append(
                {
                    "id": f"t{track}" if len(cats) == 1 else f"t{track}-c{cat}",
                    "type": "videorectangle",
                    "from_name": FROM_NAME,
                    "to_name": TO_NAME,
                    "value": {
                        "labels": [request.categories[cat]],
                        "framesCount": video.num_frames,
                        "duration": video.num_frames / fps,
                        "sequence": sequence,
                    },
                }
            )
    return results


def write_labelstudio(
    request: ExchangeRequest,
    path: Path,
    *,
    video_url: str = "{video}.mp4",
    fps: float = 25.0,
) -> None:
    """Write ``request`` as Label Studio tasks (JSON) and the label config next to it.

    See the module docstring for the layout.

    Args:
        request: what the cycle asks for.
        path: the tasks JSON to write (replaced atomically); the label config goes to
            :func:`label_config_path` ``(path)``.
        video_url: ``data.video`` of each task, ``str.format``-ed with ``video=<video id>``.
        fps: the videos' frame rate, for the config's ``framerate`` and the keyframes' ``time``.

    Raises:
        ValueError: ``fps`` not > 0, or a track with two regions on one frame.
    """
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    by_video: dict[str, dict[int, float]] = {}
    for item in request.requested:
        by_video.setdefault(item.ref.video, {})[item.ref.frame] = item.score
    tasks = []
    for video_id, scores in by_video.items():
        video = request.videos[video_id]
        shown: dict[int, Sequence[Region]] = {
            ref.frame: regions for ref, regions in request.context.items() if ref.video == video_id
        }
        for f in scores:
            shown[f] = request.predictions.get(FrameRef(video_id, f), ())
        frames = sorted(scores)
        tasks.append(
            {
                "data": {
                    "video": video_url.format(video=video_id),
                    "asl_video": video_id,
                    "asl_run": request.run,
                    "asl_cycle": request.cycle,
                    "asl_frames": frames,
                    "asl_label_studio_frames": [to_label_studio_frame(f) for f in frames],
                    "asl_scores": {str(f): scores[f] for f in frames},
                },
                "predictions": [
                    {
                        "model_version": f"asl {request.run} cycle {request.cycle}",
                        "score": max(scores.values()),
                        "result": _results(request, video, shown, fps),
                    }
                ],
            }
        )
    write_text_atomic(path, json.dumps(tasks, indent=1, allow_nan=False) + "\n")
    write_text_atomic(label_config_path(path), label_config(request.categories, fps=fps))


# --------------------------------------------------------------------------- import


@frozen
class _Key:
    """One keyframe of a track: 0-based frame, percent rectangle, flags."""

    frame: int
    x: float
    y: float
    w: float
    h: float
    rotation: float
    enabled: bool
    auto: bool


@frozen
class _Track:
    track_id: int
    category: int
    keys: tuple[_Key, ...]  # sorted by frame
    where: str

    def percent_at(self, frame: int) -> tuple[float, float, float, float, float] | None:
        """``(x, y, w, h, rotation)`` of the track at ``frame``, or ``None`` when absent."""
        before = [k for k in self.keys if k.frame <= frame]
        if not before:
            return None
        prev = before[-1]
        if prev.frame == frame:
            return (prev.x, prev.y, prev.w, prev.h, prev.rotation)
        if not prev.enabled:
            return None
        after = [k for k in self.keys if k.frame > frame]
        if not after:
            return (prev.x, prev.y, prev.w, prev.h, prev.rotation)
        nxt = after[0]
        t = (frame - prev.frame) / (nxt.frame - prev.frame)
        return tuple(  # type: ignore[return-value]
            a + t * (b - a)
            for a, b in zip(
                (prev.x, prev.y, prev.w, prev.h, prev.rotation),
                (nxt.x, nxt.y, nxt.w, nxt.h, nxt.rotation),
                strict=True,
            )
        )


def _flag(item: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = item.get(key, default)
    if not isinstance(value, bool):
        raise ExchangeFormatError(f"{where}: {key!r} must be true or false, got {value!r}")
    return value


def _key(item: Any, where: str) -> _Key:
    if not isinstance(item, dict):
        raise ExchangeFormatError(f"{where}: a keyframe must be an object")
    frame = integer(item.get("frame"))
    if frame is None:
        raise ExchangeFormatError(f"{where}: 'frame' must be an integer, got {item.get('frame')!r}")
    if frame < 1:
        raise ExchangeFormatError(f"{where}: frame {frame}: Label Studio frames start at 1")
    numbers = {}
    for name in ("x", "y", "width", "height", "rotation"):
        value = finite_number(item.get(name, 0 if name == "rotation" else None))
        if value is None:
            raise ExchangeFormatError(
                f"{where}: {name!r} must be a finite number, got {item.get(name)!r}"
            )
        numbers[name] = value
    if numbers["width"] < 0 or numbers["height"] < 0:
        raise ExchangeFormatError(f"{where}: negative width or height")
    return _Key(
        frame=from_label_studio_frame(frame),
        x=numbers["x"],
        y=numbers["y"],
        w=numbers["width"],
        h=numbers["height"],
        rotation=numbers["rotation"],
        enabled=_flag(item, "enabled", True, where),
        auto=_flag(item, "auto", False, where),
    )


def _task_video(task: Mapping[str, Any], request: ExchangeRequest, where: str) -> ExchangeVideo:
    data = task.get("data")
    if not isinstance(data, dict):
        raise ExchangeFormatError(f"{where}: the task has no 'data' object")
    video_id = data.get("asl_video")
    if not isinstance(video_id, str):
        raise ExchangeFormatError(
            f"{where}: data.asl_video is missing (not a task exported by asl-run?)"
        )
    if is_path_like(video_id):
        raise ExchangeFormatError(f"{where}: data.asl_video {video_id!r} looks like a path")
    video = request.videos.get(video_id)
    if video is None:
        raise ExchangeFormatError(f"{where}: unknown video {video_id!r} (not in this run)")
    return video


def _latest_annotation(task: Mapping[str, Any], where: str) -> tuple[int, dict[str, Any]] | None:
    annotations = task.get("annotations", task.get("completions", []))
    if not isinstance(annotations, list):
        raise ExchangeFormatError(f"{where}: 'annotations' must be a list")
    kept = []
    for j, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            raise ExchangeFormatError(f"{where}, annotation {j}: not an object")
        if not _flag(ann, "was_cancelled", False, f"{where}, annotation {j}"):
            stamp = ann.get("updated_at") or ann.get("created_at") or ""
            kept.append((str(stamp), j, ann))
    if not kept:
        return None
    _, j, ann = max(kept, key=lambda t: (t[0], t[1]))
    return j, ann


def _tracks(
    ann: Mapping[str, Any],
    video: ExchangeVideo,
    request: ExchangeRequest,
    where: str,
    warnings: list[str],
) -> list[_Track]:
    results = ann.get("result")
    if not isinstance(results, list):
        raise ExchangeFormatError(f"{where}: 'result' must be a list")
    parsed: list[tuple[int | None, int, tuple[_Key, ...], str]] = []
    for k, res in enumerate(results):
        rwhere = f"{where}, result {k}"
        if not isinstance(res, dict):
            raise ExchangeFormatError(f"{rwhere}: not an object")
        if str(res.get("type", "")).lower() != "videorectangle":
            continue  # other controls (choices, text...) carry no boxes
        rid = res.get("id")
        rwhere += f" (id {rid!r})"
        value = res.get("value")
        if not isinstance(value, dict):
            raise ExchangeFormatError(f"{rwhere}: 'value' must be an object")
        labels = value.get("labels")
        if not isinstance(labels, list) or not labels or not isinstance(labels[0], str):
            raise ExchangeFormatError(f"{rwhere}: no label (value.labels is empty or missing)")
        if labels[0] not in request.categories:
            raise ExchangeFormatError(
                f"{rwhere}: unknown label {labels[0]!r} (the run knows {list(request.categories)})"
            )
        sequence = value.get("sequence")
        if not isinstance(sequence, list):
            raise ExchangeFormatError(f"{rwhere}: value.sequence must be a list of keyframes")
        keys = sorted(
            (_key(item, f"{rwhere}, sequence item {m}") for m, item in enumerate(sequence)),
            key=lambda key: key.frame,
        )
        for a, b in itertools.pairwise(keys):
            if a.frame == b.frame:
                raise ExchangeFormatError(
                    f"{rwhere}: Label Studio frame {to_label_studio_frame(a.frame)} appears twice"
                )
        if any(key.rotation % 360.0 != 0.0 for key in keys):
            warnings.append(f"{rwhere}: rotated box(es) imported as their axis-aligned envelope")
        match = _TRACK_ID.fullmatch(rid) if isinstance(rid, str) else None
        track = int(match.group(1)) if match else None
        parsed.append((track, request.categories.index(labels[0]), tuple(keys), rwhere))
    next_track = max([max_track_id(request, video.id)] + [t for t, *_ in parsed if t is not None])
    tracks = []
    for track, category, keys, rwhere in parsed:
        if track is None:
            next_track += 1
            track = next_track
        tracks.append(_Track(track, category, keys, rwhere))
    return tracks


def _frames(
    ann: Mapping[str, Any],
    video: ExchangeVideo,
    request: ExchangeRequest,
    requested: Sequence[int],
    where: str,
    warnings: list[str],
) -> list[ImportedFrame]:
    lead = ann.get("lead_time")
    lead_time = None if lead is None else finite_number(lead)
    if lead is not None and (lead_time is None or lead_time < 0):
        raise ExchangeFormatError(f"{where}: lead_time must be seconds >= 0, got {lead!r}")
    tracks = _tracks(ann, video, request, where, warnings)
    context = {ref.frame for ref in request.context if ref.video == video.id}
    human = {k.frame for t in tracks for k in t.keys if not k.auto} - context
    listed = sorted({k.frame for t in tracks for k in t.keys} - context)
    seconds = lead_time / len(human) if lead_time is not None and human else None
    frames = []
    for f in listed:
        regions: list[Region] = []
        owner: dict[int, str] = {}
        for track in tracks:
            rect = track.percent_at(f)
            if rect is None:
                continue
            if track.track_id in owner:
                raise ExchangeFormatError(
                    f"{track.where}: track {track.track_id} also has a box on Label Studio frame "
                    f"{to_label_studio_frame(f)} in {owner[track.track_id]}"
                )
            owner[track.track_id] = track.where
            box = percent_to_box(*rect[:4], video.width, video.height, rotation=rect[4])
            regions.append(Region(track.track_id, track.category, box))
        regions.sort(key=lambda r: r.track_id)
        is_human = f in human
        frames.append(
            ImportedFrame(FrameRef(video.id, f), regions, is_human, seconds if is_human else None)
        )
    missing = [f for f in requested if f not in human]
    if missing:
        warnings.append(
            f"{where}: requested frame(s) {missing} (Label Studio "
            f"{[to_label_studio_frame(f) for f in missing]}) have no human keyframe and stay "
            "unlabelled"
        )
    return frames


def read_labelstudio(path: Path, request: ExchangeRequest) -> ImportResult:
    """Read a Label Studio JSON export back as frames of ``request`` (see the module docstring).

    Returns:
        The frames of every task's latest submitted annotation (tasks in file order, frames
        ascending): ``human`` for frames with a keyframe not marked ``auto``, boxes in pixels,
        ``seconds`` = the annotation's ``lead_time`` / its human frames; and warnings (tasks
        without a submitted annotation, requested frames left without a human keyframe,
        rotated boxes, tasks exported for another run or cycle).

    Raises:
        ExchangeFormatError: the file is missing or not JSON (e.g. truncated), the schema is
            wrong, a task's video is missing, path-like or unknown, two tasks share a video, a
            label is unknown, a coordinate is not a finite number or a frame not an integer
            >= 1; the message names the file and the task / annotation / result index.
    """
    path = Path(path)
    doc = read_json(path)
    tasks = [doc] if isinstance(doc, dict) else doc
    if not isinstance(tasks, list):
        raise ExchangeFormatError(f"{path}: a Label Studio export is a list of tasks")
    frames: list[ImportedFrame] = []
    warnings: list[str] = []
    seen: dict[str, int] = {}
    for i, task in enumerate(tasks):
        where = f"{path}: task {i}"
        if not isinstance(task, dict):
            raise ExchangeFormatError(f"{where}: a task must be an object")
        video = _task_video(task, request, where)
        if video.id in seen:
            raise ExchangeFormatError(
                f"{where}: video {video.id!r} already came with task {seen[video.id]}"
            )
        seen[video.id] = i
        where += f" (video {video.id!r})"
        data = task["data"]
        if (data.get("asl_run"), data.get("asl_cycle")) != (request.run, request.cycle):
            warnings.append(
                f"{where}: exported for run {data.get('asl_run')!r} cycle "
                f"{data.get('asl_cycle')!r}, imported into run {request.run!r} cycle "
                f"{request.cycle}"
            )
        chosen = _latest_annotation(task, where)
        if chosen is None:
            warnings.append(f"{where}: no submitted annotation; nothing imported from it")
            continue
        j, ann = chosen
        requested = sorted(r.ref.frame for r in request.requested if r.ref.video == video.id)
        frames.extend(_frames(ann, video, request, requested, f"{where}, annotation {j}", warnings))
    return ImportResult(frames, warnings)
