"""asl_core.distributed in one process, and the shard split."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asl_core import DistContext, PeerFailed, dist_context
from asl_core.distributed import init_from_env, shard_by_size


def test_one_process_context_by_default():
    ctx = dist_context()
    assert (ctx.rank, ctx.world_size, ctx.enabled, ctx.is_main) == (0, 1, False, True)


def test_init_without_torchrun_variables_stays_one_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert init_from_env() == DistContext()


def test_one_process_collectives_are_identity():
    ctx = DistContext()
    assert ctx.broadcast({"a": 1}) == {"a": 1}
    assert ctx.all_gather(3) == [3]
    assert ctx.gather(3) == [3]
    assert ctx.on_main(lambda: 7) == 7
    assert list(ctx.batch_share(4)) == [0, 1, 2, 3]
    assert ctx.shard([5, 1, 3]) == [0, 1, 2]


def test_check_all_reraises_this_ranks_error():
    with pytest.raises(KeyError):
        DistContext().check_all(KeyError("x"))
    DistContext().check_all(None)


def test_batch_share_interleaves_ranks():
    assert list(DistContext(rank=1, world_size=3).batch_share(7)) == [1, 4]


def test_shard_known_answer():
    # sizes 10, 7, 5, 4: 10 -> r0, 7 -> r1, 5 -> r1 (7 < 10), 4 -> r0 (10 < 12)
    assert shard_by_size([10, 7, 5, 4], 2) == [[0, 3], [1, 2]]


@given(st.lists(st.integers(1, 1000), max_size=60), st.integers(1, 5))
def test_shards_partition_the_items_and_balance_within_the_largest(sizes, world):
    shards = shard_by_size(sizes, world)
    assert len(shards) == world
    flat = sorted(i for s in shards for i in s)
    assert flat == list(range(len(sizes)))
    totals = [sum(sizes[i] for i in s) for s in shards]
    if sizes:
        assert max(totals) - min(totals) <= max(sizes)


def test_peer_failed_carries_the_exit_code():
    assert PeerFailed("rank 0 failed", 3).exit_code == 3


def test_bad_rank_variable_is_a_usage_error(monkeypatch):
    from asl_core import AslUsageError

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(AslUsageError, match="RANK='5' with WORLD_SIZE=2"):
        init_from_env()
