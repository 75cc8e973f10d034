"""Per-video statistics cache of the scoring phase (``<run>/cache/stats/``).

Scoring is the inference-heavy phase of a cycle (``T`` Monte-Carlo passes over every pool
frame). Its result, one :class:`~asl_core.types.FrameStats` per video, is small (a few floats
per frame), so the loop keeps each video's as soon as it is computed. A run resumed after a
crash in the middle of scoring, or a scoring phase repeated (``selection.json`` deleted to
select again), then skips inference for every video already done.

An entry is valid only for exactly the inputs that made it. The folder name is a hash of:

* the SHA-256 of the cycle's checkpoint file (the model);
* the task's and the scorer's config sections (``mc_trials``, ``tau``...) and the outputs the
  scorer requires;
* the run seed and the cycle (the per-video Monte-Carlo generators derive from them);
* the cache format version.

Each video is one ``<position>.npz`` (its pool position; the file records the video id and
frame count, checked on load), written atomically and read with ``allow_pickle=False``. A
missing, unreadable or mismatched entry is recomputed, never trusted: the cache can be deleted
at any time.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .rundir import atomic_write_bytes
from .types import FrameStats, VideoInfo

__all__ = ["CACHE_FORMAT", "StatsCache", "file_sha256"]

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
_VALUE_PREFIX = "v_"


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    """SHA-256 hex digest of a file, read in 4 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class StatsCache:
    """The statistics of one scoring phase (one checkpoint, scorer, seed and cycle).

    Args:
        root: the run's ``cache/stats`` folder.
        checkpoint_sha256: digest of the checkpoint the outputs come from.
        task_cfg, scorer_cfg: the config sections of the task and the scorer.
        requires: the outputs the scorer requires.
        seed, cycle: the run seed and the cycle being scored.
    """

    def __init__(
        self,
        root: Path,
        *,
        checkpoint_sha256: str,
        task_cfg: Mapping[str, Any],
        scorer_cfg: Mapping[str, Any],
        requires: frozenset[str],
        seed: int,
        cycle: int,
    ) -> None:
        self.inputs = {
            "format": CACHE_FORMAT,
            "checkpoint_sha256": checkpoint_sha256,
            "task": dict(task_cfg),
            "scorer": dict(scorer_cfg),
            "requires": sorted(requires),
            "seed": int(seed),
            "cycle": int(cycle),
        }
        blob = json.dumps(self.inputs, sort_keys=True, default=str).encode()
        self.key = hashlib.sha256(blob).hexdigest()[:20]
        self.dir = Path(root) / self.key

    def _path(self, index: int) -> Path:
        return self.dir / f"{index:07d}.npz"

    def get(self, index: int, video: VideoInfo) -> FrameStats | None:
        """The cached statistics of the video at pool position ``index``, or ``None``."""
        path = self._path(index)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["video"]) != video.id or int(data["num_frames"]) != video.num_frames:
                    return None
                values = {
                    k[len(_VALUE_PREFIX) :]: np.array(data[k])
                    for k in data.files
                    if k.startswith(_VALUE_PREFIX)
                }
            return FrameStats(video=video.id, num_frames=video.num_frames, values=values)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            # a damaged entry costs one recomputation, never a wrong score
            log.warning("%s: unreadable cache entry (%s); scoring the video again", path, exc)
            return None

    def put(self, index: int, stats: FrameStats) -> None:
        """Store a video's statistics (atomically; the folder is created on first use)."""
        if not self.dir.is_dir():
            self.dir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(
                self.dir / "inputs.json",
                json.dumps(self.inputs, indent=1, sort_keys=True, default=str).encode(),
            )
        buf = io.BytesIO()
        np.savez(
            buf,
            video=np.array(stats.video),
            num_frames=np.array(stats.num_frames),
            **{_VALUE_PREFIX + k: np.asarray(v) for k, v in stats.values.items()},
        )
        # atomic (rename) but not fsynced: an entry lost or torn by a power cut fails its zip
        # CRC on load and is recomputed, and a cycle may write thousands of them
        fd, tmp = tempfile.mkstemp(prefix=f".{index:07d}.", suffix=".tmp", dir=self.dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(buf.getvalue())
            os.replace(tmp, self._path(index))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
