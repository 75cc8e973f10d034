"""Fixtures shared by the vos tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """One intra-op thread: these tensors are tiny, and on a busy 2-core machine two OpenMP
    threads spin-waiting on each other made a training step ~100x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    """A tiny STCN in eval mode, seeded."""
    from asl_vos.model import STCN

    torch.manual_seed(0)
    return STCN().eval()
