"""J-HMDB-21 raw release files: the three splits and ground truth built from the puppet masks.

The official release (reference specs §A.5) has, per video ``<class>/<video>``:

* frames ``Rename_Images/<class>/<video>/%05d.png`` (1-based; ACT and MOC repack them as
  ``Frames/<class>/<video>/%05d.png``), 320 x 240;
* ``puppet_mask/<class>/<video>/puppet_mask.mat``: variable ``part_mask``, ``H x W x T``,
  ``> 0`` on the actor; slice ``t`` is 0-based frame ``t``. A few masks have fewer slices than
  the video has frames: the loaders repeat the last slice (and warn once per video);
* ``splits/<class>_test_split<k>.txt``, ``k = 1..3``: one line ``<video>.avi <id>`` per video,
  ``1`` = train, ``2`` = test (``0``, as in HMDB51's lists, = in neither).

ACT's ``JHMDB-GT.pkl`` already holds the splits and one box tube per video; without it,
:func:`jhmdb_ground_truth` builds the same structure from the split files and the masks: one
tube per video with label = its class folder, whose box on each frame is the tight box of the
mask (ACT's ``JHMDB-GT.pkl`` boxes are, by all accounts, the same; specs §A.5 "inferred").
Pixel-wise ground truth (loss, metrics, simulated oracle) comes from the masks themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from asl_core import FrozenMap, NullProgress, Progress

from .dataset import MASK_FILE, ActGroundTruth, ActorTube, read_part_mask
from .errors import DatasetError

__all__ = [
    "JHMDB21_CLASSES",
    "JHMDB_RESOLUTION",
    "jhmdb_ground_truth",
    "mask_boxes",
    "read_splits",
]

log = logging.getLogger(__name__)

#: The 21 classes in label order (class id = position; ACT's ``JHMDB-GT.pkl`` order).
JHMDB21_CLASSES: tuple[str, ...] = (
    "brush_hair",
    "catch",
    "clap",
    "climb_stairs",
    "golf",
    "jump",
    "kick_ball",
    "pick",
    "pour",
    "pullup",
    "push",
    "run",
    "shoot_ball",
    "shoot_bow",
    "shoot_gun",
    "sit",
    "stand",
    "swing_baseball",
    "throw",
    "walk",
    "wave",
)

#: ``(height, width)`` of every J-HMDB video.
JHMDB_RESOLUTION: tuple[int, int] = (240, 320)

NUM_SPLITS = 3


def read_splits(
    folder: str | Path, *, classes: Sequence[str] = JHMDB21_CLASSES
) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """Read the three J-HMDB splits from ``<folder>/<class>_test_split<k>.txt``.

    Args:
        folder: the release's ``splits`` folder.
        classes: the class names, in the order the videos are listed.

    Returns:
        For ``k = 1, 2, 3`` a pair ``(train, test)`` of video ids ``"<class>/<video>"`` (the
        ``.avi`` suffix dropped), class by class in the files' line order.

    Raises:
        DatasetError: when a file is missing or unreadable, or a line is not ``<video> <id>``
            with ``id`` in ``0, 1, 2`` (the message names the file and line).
    """
    folder = Path(folder)
    splits = []
    for k in range(1, NUM_SPLITS + 1):
        train: list[str] = []
        test: list[str] = []
        for cls in classes:
            path = folder / f"{cls}_test_split{k}.txt"
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError as exc:
                raise DatasetError(f"missing split file {path}") from exc
            except (OSError, UnicodeDecodeError) as exc:
                raise DatasetError(f"cannot read split file {path}: {exc}") from exc
            for number, line in enumerate(text.splitlines(), start=1):
                words = line.split()
                if not words:
                    continue
                if len(words) != 2 or words[1] not in ("0", "1", "2"):
                    raise DatasetError(
                        f"{path}, line {number}: expected '<video>.avi <1|2>', got {line.strip()!r}"
                    )
                name = words[0][:-4] if words[0].endswith(".avi") else words[0]
                if words[1] == "1":
                    train.append(f"{cls}/{name}")
                elif words[1] == "2":
                    test.append(f"{cls}/{name}")
        if not train or not test:
            raise DatasetError(f"{folder}: split {k} has no train or no test video")
        splits.append((tuple(train), tuple(test)))
    return tuple(splits)


def mask_boxes(part: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The actor's tube from a puppet mask: the tight box of the mask on each frame.

    Frames past the mask's last slice use that slice (the loaders' rule for short masks). The
    tube runs from the first to the last frame whose mask is not empty; an empty frame inside
    it keeps the previous frame's box (a tube's frames must be consecutive).

    Args:
        part: ``bool[H, W, T]`` puppet mask.
        num_frames: ``F``, the video's length.

    Returns:
        ``(frames int64[n], boxes float32[n, 4])`` with inclusive ``x1, y1, x2, y2``, or ``None``
        when the mask is empty on every frame.
    """
    slices = part.shape[2]
    rows = part.any(axis=1)  # [H, T]: which rows hold actor pixels
    cols = part.any(axis=0)  # [W, T]
    present = rows.any(axis=0)
    index = np.minimum(np.arange(num_frames), slices - 1)
    on = present[index]
    if not on.any():
        return None
    first, last = int(np.argmax(on)), int(num_frames - 1 - np.argmax(on[::-1]))
    boxes = np.empty((last - first + 1, 4), dtype=np.float32)
    for i, f in enumerate(range(first, last + 1)):
        t = index[f]
        if not present[t]:
            boxes[i] = boxes[i - 1]  # i > 0: the first frame is not empty
            continue
        ys, xs = np.flatnonzero(rows[:, t]), np.flatnonzero(cols[:, t])
        boxes[i] = (xs[0], ys[0], xs[-1], ys[-1])
    return np.arange(first, last + 1), boxes


def jhmdb_ground_truth(
    root: str | Path,
    *,
    splits_dir: str = "splits",
    masks_dir: str = "puppet_mask",
    count_frames: Callable[[str], int],
    classes: Sequence[str] = JHMDB21_CLASSES,
    progress: Progress | None = None,
) -> ActGroundTruth:
    """Build the ground truth of the raw J-HMDB-21 release (no ``JHMDB-GT.pkl`` needed).

    Reads every puppet mask once (about 900 files), so it takes a while; ACT's
    ``JHMDB-GT.pkl`` is faster when you have it.

    Args:
        root: the dataset folder.
        splits_dir: folder under ``root`` with the split files.
        masks_dir: folder under ``root`` with ``<class>/<video>/puppet_mask.mat``.
        count_frames: the length of a video (e.g. counted in its frame folder).
        classes: the class names in id order.
        progress: reports one step per video.

    Returns:
        A three-split ground truth: every video of the split files, its length from
        ``count_frames``, resolution = the mask's ``H x W``, one tube (see :func:`mask_boxes`)
        labelled with the video's class folder.

    Raises:
        DatasetError: for a missing or bad split or mask file (named in the message).
    """
    root = Path(root)
    splits = read_splits(root / splits_dir, classes=classes)
    label_of = {c: i for i, c in enumerate(classes)}
    videos: dict[str, None] = {}
    for train, test in splits:
        videos.update(dict.fromkeys(train))
        videos.update(dict.fromkeys(test))
    nframes: dict[str, int] = {}
    resolution: dict[str, tuple[int, int]] = {}
    tubes: dict[str, tuple[ActorTube, ...]] = {}
    empty: list[str] = []
    progress = progress or NullProgress()
    progress.start(len(videos), "masks")
    for video in videos:
        n = int(count_frames(video))
        if n < 1:
            raise DatasetError(f"video {video!r} has no frames (from the split files)")
        path = root / masks_dir / video / MASK_FILE
        part = read_part_mask(path)
        nframes[video] = n
        resolution[video] = (int(part.shape[0]), int(part.shape[1]))
        tube = mask_boxes(part, n)
        if tube is None:
            empty.append(video)
            tubes[video] = ()
        else:
            tubes[video] = (ActorTube(label_of[video.split("/", 1)[0]], *tube),)
        progress.advance(1)
    if empty:
        log.warning(
            "%d J-HMDB video(s) have an empty puppet mask on every frame, e.g. %r: no tube",
            len(empty),
            empty[0],
        )
    return ActGroundTruth(
        source=str(root / splits_dir),
        labels=tuple(classes),
        nframes=FrozenMap(nframes),
        resolution=FrozenMap(resolution),
        tubes=FrozenMap(tubes),
        train_videos=tuple(train for train, _ in splits),
        test_videos=tuple(test for _, test in splits),
    )
