"""The ``vos`` evaluator: J, F and J&F of a folder of predicted palette masks against a folder of
ground-truth masks in the YouTube-VOS ``Annotations`` layout (specs §C.1, §C.2).

Layout: ``<gt>/<video>/<frame>.png`` and ``<pred>/<video>/<frame>.png``, palette (or 8-bit
greyscale) PNGs whose pixel values are object ids (0 = background). Conventions:

* The videos are the subfolders of ``gt``; every ground-truth frame needs a prediction of the
  same file name and size. Predicted frames the ground truth lacks are ignored.
* Frames are ordered by name (names made only of digits by their number, so ``9`` comes
  before ``10``; YouTube-VOS names are zero-padded, where both orders agree).
* An object's given frame is the first frame ``meta.json`` lists for it, else the first
  ground-truth frame where its id appears. That frame and the frames before it are not scored
  for the object; it is scored on every later ground-truth frame (absent there: an empty
  ground-truth mask). An object with no later frame is left out of the means and counted in
  ``skipped_objects``.
* A predicted object missing from a frame is scored as an empty mask (zero-filled); a
  predicted id that is neither in the video's ground truth nor in its ``meta.json`` entry is an
  error (as DAVIS).
* ``meta.json`` (YouTube-VOS schema, ``{"videos": {vid: {"objects": {"<id>": {"category": ...,
  "frames": [...]}}}}}``) is optional; with it, every id in a ground-truth PNG must be listed
  for its video, and an object is *unseen* when its entry has ``"unseen": true`` (an extension
  of this toolkit: the official meta files do not say which categories are unseen), *seen*
  otherwise. Without meta every object is seen and has no category.
* Averages: per-object mean over its frames, then means over objects (see
  :func:`asl_vos.metrics.summarize`); ``overall`` is the mean of J_seen, F_seen, J_unseen and
  F_unseen over the groups that have objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from attrs import frozen

from asl_core import AslUsageError, Configurable, NullProgress, Progress

from .errors import VosDataError
from .metrics import DEFAULT_BOUND_TH, ObjectScore, score_frame, summarize
from .pngio import read_mask

__all__ = ["MetaObject", "VosEvaluator", "load_meta"]


@frozen
class MetaObject:
    """One object's entry in ``meta.json``.

    Attributes:
        category: the category name, if given.
        frames: the frame names (file stems) listed for it, as in the file.
        unseen: ``"unseen": true`` in the entry (this toolkit's extension).
    """

    category: str | None
    frames: tuple[str, ...]
    unseen: bool


def _frame_key(stem: str) -> tuple[int, int, str]:
    if stem.isascii() and stem.isdigit():
        return (0, int(stem), stem)
    return (1, 0, stem)


def load_meta(path: Path) -> dict[str, dict[int, MetaObject]]:
    """Read a YouTube-VOS ``meta.json``: video → object id → :class:`MetaObject`.

    ``category``, ``frames`` and ``unseen`` are optional in each object entry.

    Raises:
        VosDataError: the file is missing, not JSON, or does not follow the schema (the message
            names the file and the offending entry).
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VosDataError(f"{path}: meta file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VosDataError(f"{path}: unreadable meta file ({exc})") from None
    videos = doc.get("videos") if isinstance(doc, dict) else None
    if not isinstance(videos, dict):
        raise VosDataError(f'{path}: a meta file is an object with a "videos" object')
    out: dict[str, dict[int, MetaObject]] = {}
    for vid, entry in videos.items():
        objects = entry.get("objects") if isinstance(entry, dict) else None
        if not isinstance(objects, dict):
            raise VosDataError(f'{path}: video {vid!r} needs an "objects" object')
        parsed: dict[int, MetaObject] = {}
        for key, obj in objects.items():
            where = f"{path}: video {vid!r} object {key!r}"
            if not (isinstance(key, str) and key.isascii() and key.isdigit()) or not (
                1 <= int(key) <= 255
            ):
                raise VosDataError(f"{where}: object ids are the mask values 1..255")
            if not isinstance(obj, dict):
                raise VosDataError(f"{where}: the entry must be an object")
            category = obj.get("category")
            frames = obj.get("frames", [])
            unseen = obj.get("unseen", False)
            if category is not None and not isinstance(category, str):
                raise VosDataError(f'{where}: "category" must be a string')
            if not isinstance(frames, list) or not all(isinstance(f, str) for f in frames):
                raise VosDataError(f'{where}: "frames" must be a list of frame names (strings)')
            if not isinstance(unseen, bool):
                raise VosDataError(f'{where}: "unseen" must be true or false')
            parsed[int(key)] = MetaObject(category, tuple(frames), unseen)
        out[str(vid)] = parsed
    return out


def _ids(mask: np.ndarray, void_id: int | None) -> set[int]:
    present = np.flatnonzero(np.bincount(mask.ravel(), minlength=256))
    return {int(i) for i in present if i != 0 and i != void_id}


def _size(mask: np.ndarray) -> str:
    return f"{mask.shape[1]}x{mask.shape[0]}"


class VosEvaluator(Configurable):
    """J, F and J&F of palette-mask folders (``asl-run eval vos``; module docstring).

    No parameters. Example::

        result = VosEvaluator().evaluate_folders(Path("valid/Annotations"), Path("out"))
        result["J&F"], result["seen"]["J"], result["per_object"]["0a49f5265b/1"]["F"]
    """

    presets: tuple[str, ...] = ("youtube_vos",)

    def evaluate_folders(
        self,
        gt: Path,
        pred: Path,
        *,
        meta: Path | None = None,
        progress: Progress | None = None,
        void_id: int | None = None,
        bound_th: float = DEFAULT_BOUND_TH,
    ) -> dict[str, Any]:
        """Score the prediction folder ``pred`` against the ground-truth folder ``gt``.

        Args:
            gt: ``<video>/<frame>.png`` ground-truth masks (an ``Annotations`` folder).
            pred: predicted masks in the same layout.
            meta: a ``meta.json``; ``None``: ``gt.parent / "meta.json"`` when it exists.
            progress: told the number of videos, advanced once per video.
            void_id: ground-truth id of void pixels (DAVIS: 255); ``None`` (YouTube-VOS): none.
            bound_th: boundary tolerance of F (:func:`asl_vos.metrics.tolerance_radius`).

        Returns:
            JSON-ready (values in ``[0, 1]`` or ``None``, never NaN)::

                {"J", "F", "J&F", "seen": {"J", "F", "J&F", "objects"}, "unseen": {...},
                 "overall", "objects", "skipped_objects",
                 "per_object": {"<video>/<id>": {"J", "F", "J&F", "category", "seen",
                                                 "frames"}}}

            ``per_object`` lists skipped objects too, with ``frames`` 0 and ``None`` scores.

        Raises:
            VosDataError: a missing folder or file, an unreadable mask, sizes that differ, ids
                not allowed by the ground truth or meta (the message names the file).
        """
        gt, pred = Path(gt), Path(pred)
        for folder, what in ((gt, "ground-truth"), (pred, "prediction")):
            if not folder.is_dir():
                state = "is a file, not a folder" if folder.exists() else "folder not found"
                raise VosDataError(f"{folder}: {what} {state}")
        if meta is None and (gt.parent / "meta.json").is_file():
            meta = gt.parent / "meta.json"
        meta_videos = None if meta is None else load_meta(meta)
        videos = sorted(d.name for d in gt.iterdir() if d.is_dir())
        if not videos:
            raise VosDataError(f"{gt}: no video folders (expected <video>/<frame>.png masks)")
        progress = progress if progress is not None else NullProgress()
        progress.start(len(videos), "videos")
        scores: dict[str, ObjectScore] = {}
        for video in videos:
            listed = None if meta_videos is None else meta_videos.get(video, {})
            for obj, score in self._video(gt, pred, video, listed, meta, void_id, bound_th).items():
                scores[f"{video}/{obj}"] = score
            progress.advance()
        result = summarize(scores)
        result["per_object"] = {
            key: {
                "J": None if s.frames == 0 else s.j,
                "F": None if s.frames == 0 else s.f,
                "J&F": None if s.frames == 0 else (s.j + s.f) / 2.0,
                "category": s.category,
                "seen": s.seen,
                "frames": s.frames,
            }
            for key, s in scores.items()
        }
        return result

    def _video(
        self,
        gt: Path,
        pred: Path,
        video: str,
        listed: Mapping[int, MetaObject] | None,
        meta: Path | None,
        void_id: int | None,
        bound_th: float,
    ) -> dict[int, ObjectScore]:
        """Scores of one video's objects, in id order."""
        frames = sorted(
            (p for p in (gt / video).iterdir() if p.is_file() and p.suffix.lower() == ".png"),
            key=lambda p: _frame_key(p.stem),
        )
        if not frames:
            raise VosDataError(f"{gt / video}: no PNG masks in this ground-truth video folder")
        # the whole video's ground truth first: an object's first frame must be known before
        # any frame is scored (one video of 720p masks is tens of MB at most)
        truths = [read_mask(f) for f in frames]
        present = [_ids(m, void_id) for m in truths]
        if listed is not None:
            for path, ids in zip(frames, present, strict=True):
                extra = sorted(ids - set(listed))
                if extra:
                    raise VosDataError(
                        f"{path}: object ids {extra} are not listed for video {video!r} in {meta}"
                    )
        objects = sorted(set().union(*present) | set(listed or {}))
        first: dict[int, tuple[int, int, str] | None] = {}
        for obj in objects:
            entry = None if listed is None else listed.get(obj)
            if entry is not None and entry.frames:
                first[obj] = min(_frame_key(f) for f in entry.frames)
            else:
                seen_at = [f for f, ids in zip(frames, present, strict=True) if obj in ids]
                first[obj] = _frame_key(seen_at[0].stem) if seen_at else None
        values: dict[int, tuple[list[float], list[float]]] = {o: ([], []) for o in objects}
        for gt_file, truth in zip(frames, truths, strict=True):
            pred_file = pred / video / gt_file.name
            if not pred_file.is_file():
                raise VosDataError(
                    f"{pred_file}: predicted mask not found (ground truth: {gt_file})"
                )
            guess = read_mask(pred_file)
            if guess.shape != truth.shape:
                raise VosDataError(
                    f"{pred_file}: predicted mask is {_size(guess)} (WxH) but the ground truth "
                    f"{gt_file} is {_size(truth)}"
                )
            extra = sorted(_ids(guess, void_id) - set(objects))
            if extra:
                source = "ground truth" if listed is None else f"ground truth or {meta}"
                raise VosDataError(
                    f"{pred_file}: predicted object ids {extra} are not in the {source} of "
                    f"video {video!r}"
                )
            key = _frame_key(gt_file.stem)
            active = [o for o in objects if first[o] is not None and key > first[o]]
            frame_scores = score_frame(truth, guess, active, void_id=void_id, bound_th=bound_th)
            for obj, (j, f) in frame_scores.items():
                values[obj][0].append(j)
                values[obj][1].append(f)
        out: dict[int, ObjectScore] = {}
        for obj in objects:
            entry = None if listed is None else listed.get(obj)
            out[obj] = ObjectScore.from_frames(
                *values[obj],
                seen=not (entry is not None and entry.unseen),
                category=None if entry is None else entry.category,
            )
        return out

    def evaluate_files(
        self,
        gt: Path,
        frame_dets: Path | None,
        video_dets: Path | None,
        *,
        preset: str,
        thresholds: Sequence[float | str],
        split: str | None,
    ) -> dict[str, Any]:
        """The :class:`asl_core.Evaluator` entry point: ``gt`` and ``frame_dets`` must be the
        ground-truth and prediction folders, handed to :meth:`evaluate_folders` (with
        ``gt.parent / "meta.json"`` when present). ``video_dets``, ``preset``, ``thresholds``
        and ``split`` do not apply to J and F and are ignored.

        Raises:
            AslUsageError: ``gt`` or ``frame_dets`` is not a folder (the message names it).
            VosDataError: see :meth:`evaluate_folders`.
        """
        del video_dets, preset, thresholds, split  # detection-only options
        usage = (
            "the vos evaluator takes folders of palette masks: asl-run eval vos --gt DIR --pred DIR"
        )
        gt = Path(gt)
        if not gt.is_dir():
            state = "is not a folder" if gt.exists() else "not found"
            raise AslUsageError(f"{gt}: {state}; {usage}")
        if frame_dets is None or not Path(frame_dets).is_dir():
            raise AslUsageError(f"{frame_dets}: not a prediction folder; {usage}")
        return self.evaluate_folders(gt, Path(frame_dets))
