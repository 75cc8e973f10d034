"""Annotation files other than the ACT pickle, before they become an :class:`ActGroundTruth`.

UCF-101-24's corrected annotations (``trainAnnot.mat``...) and the official ASL pickles
(``training_annots.pkl``...) each hold one part of a dataset (train, test or everything) and
sometimes no video lengths; :class:`TubeAnnotations` is one such file after conversion to this
package's conventions (0-based frames, inclusive ``x1, y1, x2, y2`` boxes, 0-based classes), and
:func:`assemble_ground_truth` joins a train and a test part into the validated
:class:`.dataset.ActGroundTruth` that :class:`.dataset.ActionDataset` reads.

:func:`tube_stats` counts videos, frames, tubes and actors of any such part (``asl-run data
stats``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from attrs import frozen

from asl_core import FrozenMap, LabelState

from .dataset import ActGroundTruth, ActorTube
from .errors import DatasetError

__all__ = [
    "TubeAnnotations",
    "assemble_ground_truth",
    "read_video_list",
    "split_by_list",
    "tube_stats",
]

log = logging.getLogger(__name__)


@frozen
class TubeAnnotations:
    """The tubes of one annotation file, converted to this package's conventions.

    Attributes:
        source: the file (for messages).
        labels: class names; a class id is its position.
        tubes: ``{video: (ActorTube, ...)}`` for every video of the file, in the file's order
            (frames 0-based, boxes inclusive ``x1, y1, x2, y2`` in pixels of ``resolution``).
        nframes: ``{video: F}``, or ``None`` when the file stores no video lengths (the ASL
            pickles: the lengths then come from the videos, :meth:`with_nframes`).
        resolution: ``(H, W)`` of the frames the boxes refer to.
        labelled: the frames the file marks as labelled (the ASL pickles' annotated-frame
            lists, as human labels), ``None`` when it has no such lists.
    """

    source: str
    labels: tuple[str, ...]
    tubes: FrozenMap[str, tuple[ActorTube, ...]]
    nframes: FrozenMap[str, int] | None
    resolution: tuple[int, int]
    labelled: LabelState | None = None

    @property
    def videos(self) -> tuple[str, ...]:
        """Video ids in the file's order."""
        return tuple(self.tubes)

    def subset(self, videos: Iterable[str], source: str | None = None) -> TubeAnnotations:
        """The annotations of ``videos`` only (in this file's order)."""
        keep = set(videos)
        ids = [v for v in self.tubes if v in keep]
        labelled = None
        if self.labelled is not None:
            human = {v: a for v, a in self.labelled.human.items() if v in keep}
            labelled = LabelState(human=human)
        return TubeAnnotations(
            source=source or self.source,
            labels=self.labels,
            tubes=FrozenMap({v: self.tubes[v] for v in ids}),
            nframes=None if self.nframes is None else FrozenMap({v: self.nframes[v] for v in ids}),
            resolution=self.resolution,
            labelled=labelled,
        )

    def with_nframes(self, counts: Mapping[str, int], where: str) -> TubeAnnotations:
        """Give every video its length, e.g. counted from its frame folder or video file.

        Args:
            counts: ``{video: F}`` for (at least) every video of the file.
            where: where the counts come from, for messages.

        Raises:
            DatasetError: when a video has no count, or a tube ends after its video's last frame.
        """
        nframes = {}
        for video, tubes in self.tubes.items():
            if video not in counts:
                raise DatasetError(f"{where}: no frame count for video {video!r} of {self.source}")
            n = int(counts[video])
            last = max((t.end for t in tubes), default=-1)
            if last >= n:
                raise DatasetError(
                    f"{self.source}: video {video!r} is annotated up to frame {last} (0-based), "
                    f"but {where} gives it only {n} frames"
                )
            nframes[video] = n
        return TubeAnnotations(
            self.source, self.labels, self.tubes, FrozenMap(nframes), self.resolution, self.labelled
        )


def read_video_list(path: str | Path) -> tuple[str, ...]:
    """Read a split list such as UCF-101-24's ``testlist01.txt``: one video per line.

    Each line's first word is the video id; a ``.avi`` suffix is dropped (the official UCF-101
    lists write ``Class/v_..._c01.avi``, some add a class number after a space). Blank lines are
    skipped.

    Raises:
        DatasetError: when the file is missing, not text, or lists nothing.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DatasetError(f"split list not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read split list {path}: {exc}") from exc
    videos = []
    for line in text.splitlines():
        words = line.split()
        if words:
            name = words[0].replace("\\", "/")
            videos.append(name[:-4] if name.endswith(".avi") else name)
    if not videos:
        raise DatasetError(f"split list {path} lists no video")
    return tuple(videos)


def split_by_list(
    annotations: TubeAnnotations, test_list: Sequence[str], list_source: str
) -> tuple[TubeAnnotations, TubeAnnotations]:
    """Split one file's annotations (``finalAnnots.mat``) into train and test by a list.

    Videos of the list that the annotations lack are ignored (the official UCF-101 lists name all
    101 classes); a list that matches none of them is an error.

    Returns:
        ``(train, test)``: the videos not in the list, and those in it.

    Raises:
        DatasetError: when no video of the list is annotated.
    """
    listed = set(test_list)
    test = [v for v in annotations.tubes if v in listed]
    if not test:
        raise DatasetError(
            f"none of the {len(listed)} videos of {list_source} is in {annotations.source}"
        )
    ignored = len(listed) - len(test)
    if ignored:
        log.info("%s: %d listed videos are not in %s", list_source, ignored, annotations.source)
    train = [v for v in annotations.tubes if v not in listed]
    return (
        annotations.subset(train, f"{annotations.source} (not in {list_source})"),
        annotations.subset(test, f"{annotations.source} (in {list_source})"),
    )


def assemble_ground_truth(train: TubeAnnotations, test: TubeAnnotations) -> ActGroundTruth:
    """Join a train and a test part into one validated single-split ground truth.

    Args:
        train: the training videos (e.g. ``trainAnnot.mat``); every video needs its length.
        test: the test videos (e.g. ``testAnnot.mat``).

    Returns:
        An :class:`ActGroundTruth` with one split: ``train_videos[0]`` and ``test_videos[0]`` in
        the files' orders.

    Raises:
        DatasetError: when a part has no video lengths, the parts' classes differ, or a video is
            in both.
    """
    for part in (train, test):
        if part.nframes is None:
            raise DatasetError(f"{part.source}: the video lengths are unknown")
    if train.labels != test.labels:
        raise DatasetError(f"{train.source} and {test.source} name different classes")
    both = set(train.tubes) & set(test.tubes)
    if both:
        raise DatasetError(
            f"{len(both)} video(s) are in both {train.source} and {test.source}, "
            f"e.g. {sorted(both)[0]!r}"
        )
    nframes = {**train.nframes, **test.nframes}  # type: ignore[dict-item]
    return ActGroundTruth(
        source=train.source if train.source == test.source else f"{train.source} + {test.source}",
        labels=train.labels,
        nframes=FrozenMap(nframes),
        resolution=FrozenMap(
            {
                **dict.fromkeys(train.tubes, train.resolution),
                **dict.fromkeys(test.tubes, test.resolution),
            }
        ),
        tubes=FrozenMap({**train.tubes, **test.tubes}),
        train_videos=(train.videos,),
        test_videos=(test.videos,),
    )


def tube_stats(
    tubes: Mapping[str, Sequence[ActorTube]],
    videos: Sequence[str],
    nframes: Mapping[str, int] | None = None,
    labelled: LabelState | None = None,
) -> dict[str, Any]:
    """Count videos, frames, tubes and actors of some videos (one row of ``asl-run data stats``).

    Args:
        tubes: ``{video: tubes}``.
        videos: the videos to count.
        nframes: ``{video: F}``; ``None`` when unknown (``frames`` is then ``None``).
        labelled: annotated-frame lists to count, if the file has them.

    Returns:
        ``videos``; ``frames`` (sum of lengths); ``tubes`` (action instances, one per actor);
        ``actor_boxes`` (actor-frames: one box of one actor on one frame);
        ``frames_with_actor``; ``multi_actor_frames`` (frames with 2+ actors);
        ``max_actors`` (most actors on one frame); ``labelled_frames`` when ``labelled`` is
        given.
    """
    n_tubes = boxes = with_actor = multi = most = 0
    for video in videos:
        vt = tubes.get(video, ())
        n_tubes += len(vt)
        if not vt:
            continue
        frames = np.concatenate([t.frames for t in vt])
        boxes += frames.size
        per_frame = np.bincount(frames)
        with_actor += int(np.count_nonzero(per_frame))
        multi += int(np.count_nonzero(per_frame >= 2))
        most = max(most, int(per_frame.max()))
    row: dict[str, Any] = {
        "videos": len(videos),
        "frames": None if nframes is None else int(sum(nframes[v] for v in videos)),
        "tubes": n_tubes,
        "actor_boxes": boxes,
        "frames_with_actor": with_actor,
        "multi_actor_frames": multi,
        "max_actors": most,
    }
    if labelled is not None:
        row["labelled_frames"] = int(sum(labelled.labelled(v).size for v in videos))
    return row
