"""Several processes, one run: ``torchrun`` and ``torch.distributed`` (docs/scaling.md).

Launch ``asl-run`` under ``torchrun`` (``torchrun --nproc_per_node N -m asl_core.cli ...``) and
the CLI calls :func:`init_from_env`: it reads the standard ``RANK`` / ``WORLD_SIZE`` /
``LOCAL_RANK`` variables torchrun sets and joins the process group (backend ``gloo`` on CPU,
``nccl`` when CUDA is available, for the tensors of DistributedDataParallel; the Python objects
the loop exchanges always travel over a gloo group, in CPU memory). Without those variables, or with
``WORLD_SIZE=1``, nothing is initialised and every helper below is a no-op, so single-process
code paths never import torch through this module.

Who does what (:mod:`asl_core.loop`):

* **rank 0** alone reads and writes the run directory (state, ledger, selections, checkpoints,
  metrics, the score cache), talks to the oracle, evaluates and selects; it sends the others
  what they need (ledger contents, checkpoints) through :meth:`DistContext.broadcast`, so the
  other ranks need no shared filesystem;
* **every rank** trains (a task wraps its model in ``DistributedDataParallel`` and takes its
  share of each batch: :meth:`DistContext.batch_share`) and scores its shard of the pool
  (:meth:`DistContext.shard`); per-frame statistics are gathered on rank 0.

Tasks read the context with :func:`current`; a task that ignores it still works under torchrun
(every rank trains the whole model alone; rank 0's checkpoint is the one kept and used).
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from attrs import field, frozen

from .errors import AslError, AslUsageError

__all__ = [
    "DistContext",
    "PeerFailed",
    "current",
    "init_from_env",
    "shard_by_size",
    "shutdown",
]

T = TypeVar("T")

#: seconds a collective waits for the other ranks (torch's default is 30 min); override with
#: ``ASL_DIST_TIMEOUT`` (seconds) for evaluation phases longer than that on rank 0
DEFAULT_TIMEOUT_S = 1800


class PeerFailed(AslError):
    """Another rank failed; this one stops too (the message names the rank and its error).

    ``exit_code`` is the failing rank's exit code, so every process of a job agrees.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def shard_by_size(sizes: Sequence[int], world_size: int) -> list[list[int]]:
    """Split items of the given sizes into ``world_size`` shards of nearly equal total size.

    Greedy longest-first: each item, largest first (ties: lowest index), goes to the shard with
    the smallest total so far (ties: lowest rank). Deterministic, so every rank computes the
    same split without talking to the others.

    Args:
        sizes: the cost of each item (e.g. a video's frame count).
        world_size: number of shards, ``>= 1``.

    Returns:
        ``world_size`` lists of item indices, each sorted ascending.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    totals = [0] * world_size
    shards: list[list[int]] = [[] for _ in range(world_size)]
    for i in sorted(range(len(sizes)), key=lambda k: (-int(sizes[k]), k)):
        r = min(range(world_size), key=lambda k: (totals[k], k))
        shards[r].append(i)
        totals[r] += int(sizes[i])
    return [sorted(s) for s in shards]


@frozen
class DistContext:
    """This process's place in a (possibly one-process) job.

    Attributes:
        rank: global rank, ``0 <= rank < world_size``.
        world_size: number of processes.
        local_rank: rank on this machine (picks the CUDA device).
        backend: the process group's backend, ``None`` when not distributed.
    """

    rank: int = field(default=0, converter=int)
    world_size: int = field(default=1, converter=int)
    local_rank: int = field(default=0, converter=int)
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that touches the run directory and the oracle."""
        return self.rank == 0

    # ------------------------------------------------------------------ collectives

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        if self.enabled:
            import torch.distributed as dist

            dist.barrier(group=_OBJECT_GROUP)

    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank (pickled; other ranks' arguments are ignored)."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, group=_OBJECT_GROUP)
        return box[0]  # type: ignore[return-value]

    def all_gather(self, obj: T) -> list[T]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj, group=_OBJECT_GROUP)
        return out

    def gather(self, obj: T) -> list[T] | None:
        """Every rank's ``obj``, in rank order, on rank 0 (``None`` on the others)."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.world_size if self.is_main else None
        dist.gather_object(obj, out, dst=0, group=_OBJECT_GROUP)
        return out

    def on_main(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on rank 0 only and give its result to every rank.

        An exception on rank 0 is re-raised there and becomes :class:`PeerFailed` (with rank 0's
        exit code: 3 for :class:`~asl_core.errors.AwaitingAnnotations`, 2 for usage errors,
        1 otherwise) on the others, so no rank is left waiting in a collective.
        """
        if not self.enabled:
            return fn()
        if self.is_main:
            try:
                result = fn()
            except BaseException as exc:
                self.broadcast(("error", _describe(exc), _exit_code(exc)))
                raise
            return self.broadcast(("ok", result, 0))[1]
        status, payload, code = self.broadcast(None)
        if status == "error":
            raise PeerFailed(f"rank 0 failed: {payload}", code)
        return payload

    def check_all(self, error: BaseException | None) -> None:
        """Raise on every rank if any rank passes an error (after work each rank did alone).

        The rank that failed re-raises its own exception; the others raise
        :class:`PeerFailed` naming the first failing rank.
        """
        if not self.enabled:
            if error is not None:
                raise error
            return
        reports = self.all_gather(None if error is None else (_describe(error), _exit_code(error)))
        if error is not None:
            raise error
        for rank, report in enumerate(reports):
            if report is not None:
                raise PeerFailed(f"rank {rank} failed: {report[0]}", report[1])

    # ------------------------------------------------------------------ work sharing

    def shard(self, sizes: Sequence[int]) -> list[int]:
        """The indices of the items this rank handles (:func:`shard_by_size`)."""
        return shard_by_size(sizes, self.world_size)[self.rank]

    def batch_share(self, batch: int) -> range:
        """Positions ``rank, rank + world, ...`` of a global batch of ``batch`` items: the part
        this rank computes under DistributedDataParallel."""
        return range(self.rank, batch, self.world_size)

    def torch_device(self, preference: str = "auto") -> Any:
        """The torch device of this rank: ``cuda:<local_rank>`` when CUDA is wanted
        (``"cuda"``, or ``"auto"`` with CUDA available), else ``cpu``."""
        import torch

        if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
            return torch.device("cuda", self.local_rank if self.enabled else 0)
        return torch.device("cpu")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _exit_code(exc: BaseException) -> int:
    from .errors import AwaitingAnnotations

    if isinstance(exc, PeerFailed):
        return exc.exit_code
    if isinstance(exc, AwaitingAnnotations):
        return 3
    if isinstance(exc, AslUsageError):
        return 2
    return 1


_CURRENT = DistContext()
#: the gloo group object collectives use (None: the default group, itself gloo)
_OBJECT_GROUP: Any = None


def current() -> DistContext:
    """The context of this process (one process, rank 0, until :func:`init_from_env`)."""
    return _CURRENT


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise AslUsageError(f"environment variable {name}={raw!r} is not an integer") from None


def init_from_env() -> DistContext:
    """Join the process group that ``torchrun`` describes in the environment.

    Reads ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (and ``MASTER_ADDR`` / ``MASTER_PORT``
    through torch's ``env://`` rendezvous) and ``ASL_DIST_TIMEOUT`` (seconds, default 1800).
    With ``WORLD_SIZE`` unset or 1 it returns the one-process context and imports nothing.

    Raises:
        AslUsageError: inconsistent variables (e.g. ``RANK >= WORLD_SIZE``).
    """
    global _CURRENT, _OBJECT_GROUP
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        _CURRENT = DistContext()
        return _CURRENT
    rank = _env_int("RANK", -1)
    local = _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world:
        raise AslUsageError(
            f"RANK={os.environ.get('RANK')!r} with WORLD_SIZE={world}: launch with torchrun, "
            "which sets both"
        )
    import torch
    import torch.distributed as dist

    timeout = _env_int("ASL_DIST_TIMEOUT", DEFAULT_TIMEOUT_S)
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=_dt.timedelta(seconds=timeout))
    # pickled objects (ledger contents, statistics, checkpoints) stay in CPU memory
    _OBJECT_GROUP = (
        None
        if backend == "gloo"
        else dist.new_group(backend="gloo", timeout=_dt.timedelta(seconds=timeout))
    )
    _CURRENT = DistContext(rank=rank, world_size=world, local_rank=local, backend=backend)
    return _CURRENT


def shutdown() -> None:
    """Leave the process group (if any) and go back to the one-process context."""
    global _CURRENT, _OBJECT_GROUP
    if _CURRENT.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
    _CURRENT = DistContext()
    _OBJECT_GROUP = None
