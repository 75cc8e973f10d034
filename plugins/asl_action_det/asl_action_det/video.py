"""Where a dataset's frames come from: folders of image files, or video files decoded by PyAV.

Two sources, both addressed by video id ``"<class>/<clip>"``:

* :class:`FrameFolders` — ``<folder>/<video>/<pattern % n>``, ``n`` = 1-based frame number
  (``%05d.jpg`` for UCF-101-24's ``rgb-images``, ``%05d.png`` for J-HMDB-21 and ACT ``Frames``).
  Frames are read one by one, so a clip costs only its own frames.
* :class:`VideoFiles` — ``<folder>/<video><ext>`` (``.avi`` for UCF-101 and J-HMDB), decoded with
  PyAV (``pip install av``) as RGB. Decoding is sequential, so a video is decoded whole, once,
  on its first use; the caller caches it, or streams it chunk by chunk without keeping it
  (:meth:`.dataset.ActionDataset.stream_frames`).

Frame indices in this module's API are **0-based** (frame ``i`` is file number ``i + 1``).
Every error names the file (:class:`DatasetError`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from asl_core import ConfigError

from .errors import DatasetError

__all__ = ["FrameFolders", "VideoFiles", "check_pattern", "decode_image"]


def check_pattern(pattern: str) -> str:
    """Return ``pattern`` if it formats a frame number (``"{:05d}.jpg"``), else raise.

    Raises:
        ConfigError: when ``pattern`` cannot format an integer.
    """
    try:
        pattern.format(1)
    except (IndexError, KeyError, ValueError) as exc:
        raise ConfigError(f"frame_pattern {pattern!r} cannot format a frame number: {exc}") from exc
    return pattern


def decode_image(path: Path, what: str = "") -> np.ndarray:
    """Decode one image file as RGB.

    Args:
        path: a JPEG/PNG file.
        what: context for messages (e.g. ``"video 'a/b', frame 3"``).

    Returns:
        ``uint8[H, W, 3]``.

    Raises:
        DatasetError: ``missing frame file <path>`` or ``cannot read frame file <path>``.
    """
    from PIL import Image

    note = f" ({what})" if what else ""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError as exc:
        raise DatasetError(f"missing frame file {path}{note}") from exc
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... on corrupt files
        raise DatasetError(
            f"cannot read frame file {path}{note}: {type(exc).__name__}: {exc}"
        ) from exc


class FrameFolders:
    """Frames stored as one image file per frame: ``<folder>/<video>/<pattern.format(n)>``.

    Args:
        folder: the folder holding one sub-folder per video (``<root>/rgb-images``).
        pattern: file name of 1-based frame ``n`` (``"{:05d}.jpg"``).

    Raises:
        ConfigError: when ``pattern`` cannot format a frame number.
    """

    kind = "frames"

    def __init__(self, folder: str | Path, pattern: str = "{:05d}.png") -> None:
        self.folder = Path(folder)
        self.pattern = check_pattern(pattern)

    def __repr__(self) -> str:
        return f"FrameFolders({str(self.folder)!r}, {self.pattern!r})"

    def location(self, video: str) -> Path:
        """The folder of ``video``."""
        return self.folder / video

    def frame_path(self, video: str, frame: int) -> Path:
        """The file of 0-based ``frame`` of ``video``."""
        return self.folder / video / self.pattern.format(int(frame) + 1)

    def frame_numbers(self, video: str, expected: int = 0) -> np.ndarray:
        """The 1-based numbers of the frame files present in the video's folder, sorted.

        Only names that ``pattern`` produces count (a ``Thumbs.db`` or a flow image does not).

        Args:
            video: the video id.
            expected: the length the annotations give, if known; numbers up to the folder's
                file count plus ``expected`` are looked for, which covers every present frame
                when at most ``expected`` frames are missing.

        Raises:
            DatasetError: when the folder is missing or cannot be listed.
        """
        where = self.location(video)
        try:
            names = set(os.listdir(where))
        except FileNotFoundError as exc:
            raise DatasetError(f"missing frame folder {where} (video {video!r})") from exc
        except OSError as exc:
            raise DatasetError(f"cannot list frame folder {where}: {exc}") from exc
        top = len(names) + max(int(expected), 0)
        found = [n for n in range(1, top + 1) if self.pattern.format(n) in names]
        return np.asarray(found, dtype=np.int64)

    def check_count(self, video: str, num_frames: int, source: str) -> None:
        """Check that the folder holds exactly frames ``1..num_frames``.

        Args:
            video: the video id.
            num_frames: ``F`` from the annotations.
            source: the annotation file, for messages.

        Raises:
            DatasetError: naming the first missing file, or the count when there are extra
                frames.
        """
        numbers = self.frame_numbers(video, num_frames)
        expected = np.arange(1, num_frames + 1)
        if numbers.size == num_frames and np.array_equal(numbers, expected):
            return
        missing = np.setdiff1d(expected, numbers)
        if missing.size:
            first = int(missing[0]) - 1
            raise DatasetError(
                f"missing frame file {self.frame_path(video, first)} (video {video!r}, frame "
                f"{first}): {self.location(video)} holds {numbers.size} of the {num_frames} "
                f"frames {source} gives it ({missing.size} missing)"
            )
        raise DatasetError(
            f"frame folder {self.location(video)} holds {numbers.size} frames, but {source} "
            f"gives video {video!r} {num_frames}"
        )

    def count(self, video: str) -> int:
        """Number of consecutive frame files ``1..n`` present (the video's length)."""
        numbers = self.frame_numbers(video)
        return int(np.sum(numbers == np.arange(1, numbers.size + 1)))

    def read(self, video: str, frame: int) -> np.ndarray:
        """Decode 0-based ``frame`` of ``video`` as ``uint8[H, W, 3]`` RGB.

        Raises:
            DatasetError: when the file is missing or unreadable (naming it).
        """
        return decode_image(self.frame_path(video, frame), f"video {video!r}, frame {frame}")


class VideoFiles:
    """Frames stored as video files: ``<folder>/<video><ext>``, decoded with PyAV.

    Args:
        folder: the folder holding ``<class>/<clip><ext>`` (e.g. ``<root>/UCF101_Videos``).
        ext: file suffix, ``".avi"`` by default.
    """

    kind = "video"

    def __init__(self, folder: str | Path, ext: str = ".avi") -> None:
        self.folder = Path(folder)
        self.ext = ext if ext.startswith(".") else f".{ext}"

    def __repr__(self) -> str:
        return f"VideoFiles({str(self.folder)!r}, {self.ext!r})"

    def location(self, video: str) -> Path:
        """The file of ``video``."""
        return self.folder / f"{video}{self.ext}"

    @staticmethod
    def _av() -> Any:
        try:
            import av
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ImportError("reading video files needs PyAV: pip install av") from exc
        return av

    def _open(self, video: str) -> Any:
        av = self._av()
        path = self.location(video)
        if not path.is_file():
            raise DatasetError(f"missing video file {path} (video {video!r})")
        try:
            container = av.open(str(path))
        except Exception as exc:  # av.error.FFmpegError subclasses OSError and ValueError
            raise DatasetError(
                f"cannot read video file {path}: {type(exc).__name__}: {exc}"
            ) from exc
        if not container.streams.video:
            container.close()
            raise DatasetError(f"video file {path} has no video stream")
        return container

    def header_count(self, video: str) -> int:
        """Frame count from the container's header (no decoding; may be 0 when unknown).

        Raises:
            DatasetError: when the file is missing or not a readable video.
        """
        container = self._open(video)
        try:
            return int(container.streams.video[0].frames or 0)
        finally:
            container.close()

    def count(self, video: str) -> int:
        """Number of frames, from the header, else by counting the decoded frames."""
        n = self.header_count(video)
        return n if n > 0 else sum(1 for _ in self.frames(video))

    def frames(self, video: str) -> Iterator[np.ndarray]:
        """Decode every frame of ``video`` in order, as ``uint8[H, W, 3]`` RGB.

        Raises:
            DatasetError: when the file is missing, not a video, or fails to decode (naming it
                and the frame).
        """
        path = self.location(video)
        container = self._open(video)
        n = 0
        try:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
                n += 1
        except DatasetError:
            raise
        except Exception as exc:
            raise DatasetError(
                f"cannot decode video file {path} after {n} frame(s): {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            container.close()
