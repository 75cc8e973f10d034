"""asl_core.statscache: per-video statistics keyed by checkpoint, scorer, seed and cycle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asl_core import FrameStats, VideoInfo
from asl_core.statscache import StatsCache, file_sha256

VIDEO = VideoInfo("a/b c", 4)
STATS = FrameStats.of("a/b c", 4, u=[0.1, 0.2, 0.3, 0.4], h=[1, 2, 3, 4])


def _cache(root: Path, **changes) -> StatsCache:
    kw = dict(
        checkpoint_sha256="0" * 64,
        task_cfg={"type": "fake", "mc_trials": 4},
        scorer_cfg={"type": "apu", "tau": 0.9},
        requires=frozenset({"mc_probs"}),
        seed=0,
        cycle=1,
    )
    kw.update(changes)
    return StatsCache(root, **kw)


def test_put_then_get_returns_equal_stats(tmp_path):
    cache = _cache(tmp_path)
    cache.put(3, STATS)
    assert cache.get(3, VIDEO) == STATS
    assert (cache.dir / "inputs.json").is_file()


def test_missing_entry_is_none(tmp_path):
    assert _cache(tmp_path).get(0, VIDEO) is None


def test_entry_of_another_video_or_length_is_ignored(tmp_path):
    cache = _cache(tmp_path)
    cache.put(3, STATS)
    assert cache.get(3, VideoInfo("other", 4)) is None
    assert cache.get(3, VideoInfo("a/b c", 5)) is None


def test_damaged_entry_is_ignored(tmp_path):
    cache = _cache(tmp_path)
    cache.put(3, STATS)
    path = cache.dir / "0000003.npz"
    path.write_bytes(path.read_bytes()[:-20])
    assert cache.get(3, VIDEO) is None


def test_any_input_change_gives_another_folder(tmp_path):
    base = _cache(tmp_path).key
    assert _cache(tmp_path, checkpoint_sha256="1" * 64).key != base
    assert _cache(tmp_path, scorer_cfg={"type": "apu", "tau": 0.8}).key != base
    assert _cache(tmp_path, task_cfg={"type": "fake", "mc_trials": 5}).key != base
    assert _cache(tmp_path, seed=1).key != base
    assert _cache(tmp_path, cycle=2).key != base
    assert _cache(tmp_path, requires=frozenset()).key != base
    assert _cache(tmp_path).key == base


def test_file_sha256_matches_hashlib(tmp_path):
    import hashlib

    path = tmp_path / "f.bin"
    data = np.random.default_rng(0).bytes(5_000_000)
    path.write_bytes(data)
    assert file_sha256(path, chunk=1 << 20) == hashlib.sha256(data).hexdigest()
