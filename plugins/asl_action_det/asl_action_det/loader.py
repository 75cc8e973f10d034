"""Training-batch loading for ``action_det``: in the main process, or in worker processes that
decode the next steps' frames while the current step computes (issue 9, ``task.loader_workers``).

What moves to the workers is the expensive, embarrassingly parallel part of a training step:
decoding the clip's frame files (or video file), resizing them to ``frame_size``, flipping and
stacking them and converting them to ``float32`` in ``[0, 1]``. Everything random stays in the
main process: :meth:`.task.ActionDetTask.train` draws each step's clips from its generator and
turns them into a :class:`StepSpec` (video, frame indices, flip per clip); the workers only read
what a spec names, so the batches are bit-identical to loading in the main process.

Engine: :class:`torch.utils.data.DataLoader` with ``batch_size=None`` and the lazily drawn
specs as its sampler, one item per training step. Chosen over a home-made
:mod:`multiprocessing` pool because it already does what such a pool must get right: the
sampler is iterated in the main process, at most ``prefetch_factor`` items per worker ahead of
the consumer (a bounded prefetch, and the draws stay in the training generator's order); items
come back in sampler order whichever worker finishes first; tensors travel through shared
memory; a worker that dies is detected (``SIGCHLD``) and raises in the main process; workers
exit when the main process dies (a watchdog) and exit quietly on Ctrl-C, leaving the
``KeyboardInterrupt`` to the main process; they are joined (then terminated if need be) by
:meth:`ClipBatchLoader.close`. The specs are tiny (a video id and ``clip_len`` indices per
clip), so an item costs nothing to send. The float conversion is done in the worker: the
main process then only maps the batch's shared memory, while sending ``uint8`` and converting
in the main process (4 times fewer bytes) was tried and was slower with 2 workers on 2 cores
(60 instead of 42 ms per 224 x 224 batch: the conversion lands on the main process). Batches
are not pinned (``pin_memory``): the copy to a GPU stays what it is in-process.

Start method and caches: torch's default (``fork`` on Linux up to Python 3.13, ``forkserver``
from 3.14; any works). The object handed to the workers, :class:`WorkerFrames`, holds only what
is needed to open the dataset again (ground truth, frame source, ``frame_size``) and never
decoded frames: each worker opens its own :class:`.dataset.ActionDataset` on first use, with a
frame cache of ``cache_bytes / workers`` (so the workers together hold at most what the main
process's cache may), and the main process's cache is neither pickled (spawn / forkserver) nor
written by a worker (fork: its pages stay shared copy-on-write, never duplicated). Steps go
to the workers in turn, not by video, so a video used often may sit in several workers'
caches; the total stays bounded. Under torchrun every rank has its own workers, loading only
its share of each batch.

A :class:`.errors.DatasetError` in a worker (a missing or unreadable frame file...) comes back
as a value and is raised again in the main process with the same message, naming the file;
any other exception is re-raised by the DataLoader (same type, message with the worker's
traceback).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from attrs import field, frozen

from .dataset import ActionDataset
from .errors import DatasetError

__all__ = [
    "PREFETCH_PER_WORKER",
    "WORKER_CACHE_BYTES",
    "ClipBatchLoader",
    "ClipSpec",
    "StepSpec",
    "WorkerFrames",
    "load_clips",
]

#: steps each worker works on ahead of the training loop (DataLoader's ``prefetch_factor``):
#: ``2 * workers`` batches of ``float32[B, L, H, W, 3]`` exist at most, besides the current one
PREFETCH_PER_WORKER = 2
#: decoded-frame cache of all workers together (each has an equal share), the dataset's default
WORKER_CACHE_BYTES = 512 * 2**20


def _index(value: Any) -> np.ndarray:
    out = np.array(value, dtype=np.int64).reshape(-1)
    out.setflags(write=False)
    return out


@frozen
class ClipSpec:
    """What to read for one training clip.

    Attributes:
        video: the video id.
        index: ``int64[L]`` 0-based frames of the clip (repeats allowed: padding).
        flip: mirror the clip horizontally.
    """

    video: str
    index: np.ndarray = field(converter=_index, eq=False)
    flip: bool = field(converter=bool)


@frozen
class StepSpec:
    """The clips one process loads for one training step (its share of the batch).

    Attributes:
        step: the step number (checked against the training loop's).
        clips: the clips, in batch order.
    """

    step: int
    clips: tuple[ClipSpec, ...] = field(converter=tuple)


def load_clips(dataset: ActionDataset, clips: Sequence[ClipSpec]) -> torch.Tensor:
    """Read, flip and stack clips as the network's input values.

    Args:
        dataset: where the frames come from (its ``read_frames``, with its cache).
        clips: ``B >= 1`` clips of equal length ``L``.

    Returns:
        ``float32[B, L, H, W, 3]`` in ``[0, 1]`` (``uint8 / 255``), channels last: the caller
        permutes to ``[B, 3, L, H, W]``.

    Raises:
        DatasetError: as :meth:`.dataset.ActionDataset.read_frames` (names the file).
    """
    frames = []
    for spec in clips:
        clip = dataset.read_frames(spec.video, spec.index)
        frames.append(clip[:, :, ::-1] if spec.flip else clip)
    return torch.from_numpy(np.stack(frames)).float().div_(255.0)


@frozen
class _Failure:
    """A :class:`DatasetError` met in a worker, sent back as a value (its message)."""

    message: str


class WorkerFrames(torch.utils.data.Dataset):
    """The DataLoader's map-style dataset: item ``StepSpec`` → ``(step, float32[B, L, H, W, 3])``
    (or ``(step, _Failure)``).

    Holds the recipe of the dataset (ground truth, frame source, frame size), not the dataset:
    pickling it (spawn, forkserver) sends no decoded frame, and each worker opens its own
    :class:`.dataset.ActionDataset`, with a frame cache of ``cache_bytes``, on its first item.

    Args:
        dataset: the main process's dataset (only its public description is kept).
        cache_bytes: the frame-cache bound of each worker's dataset.
    """

    def __init__(self, dataset: ActionDataset, cache_bytes: int) -> None:
        self.root: Path = dataset.root
        self.gt = dataset.gt
        self.split = dataset.split
        self.source = dataset.source
        self.masks_dir = dataset.masks_dir
        self.frame_size = dataset.frame_size
        self.cache_bytes = max(int(cache_bytes), 1)
        self._dataset: ActionDataset | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_dataset"] = None  # never ship decoded frames
        return state

    def dataset(self) -> ActionDataset:
        """This process's dataset, opened on first use."""
        if self._dataset is None:
            self._dataset = ActionDataset(
                self.root,
                self.gt,
                split=self.split,
                masks_dir=self.masks_dir,
                source=self.source,
                frame_size=self.frame_size,
                cache_bytes=self.cache_bytes,
            )
        return self._dataset

    def __getitem__(self, spec: StepSpec) -> tuple[int, torch.Tensor | _Failure]:  # type: ignore[override]
        try:
            return spec.step, load_clips(self.dataset(), spec.clips)
        except DatasetError as exc:
            # raised again by the main process: the user sees the file, not a worker traceback
            return spec.step, _Failure(str(exc))


def _identity(item: Any) -> Any:
    """The DataLoader's ``collate_fn``: items are whole batches already (picklable)."""
    return item


class ClipBatchLoader:
    """The float clip batches of a sequence of steps, in order, loaded in this process
    (``workers == 0``) or by ``workers`` worker processes ahead of the consumer.

    ``steps`` is iterated lazily in this process, one spec per batch handed out with
    ``workers == 0`` and at most ``PREFETCH_PER_WORKER * workers`` specs ahead otherwise, so a
    generator that draws the specs from a random generator makes the same draws in the same
    order either way (and, when consumed to the end, the same number of them).

    Use it as a context manager (or call :meth:`close`): leaving the block, also by an
    exception or ``KeyboardInterrupt``, shuts the workers down and joins them.

    Args:
        dataset: the dataset (read directly with ``workers == 0``).
        steps: the :class:`StepSpec` of each step, in order.
        workers: worker processes, ``>= 0``.
        cache_bytes: decoded-frame cache of all workers together.
        context: multiprocessing start method of the workers (``"fork"``, ``"spawn"``,
            ``"forkserver"``); ``None``: torch's default.
    """

    def __init__(
        self,
        dataset: ActionDataset,
        steps: Iterable[StepSpec],
        workers: int,
        *,
        cache_bytes: int = WORKER_CACHE_BYTES,
        context: str | None = None,
    ) -> None:
        if int(workers) < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.context = context
        self.dataset = dataset
        self.steps = steps
        self.workers = int(workers)
        self.cache_bytes = int(cache_bytes)
        self._iter: Any = None

    def __enter__(self) -> ClipBatchLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor]]:
        """Yields ``(step, float32[B, L, H, W, 3])`` per step (:func:`load_clips`), in the
        order of ``steps``.

        Raises:
            DatasetError: a clip's frames cannot be read (in a worker or here).
        """
        if self.workers == 0:
            for spec in self.steps:
                yield spec.step, load_clips(self.dataset, spec.clips)
            return
        loader = torch.utils.data.DataLoader(
            WorkerFrames(self.dataset, self.cache_bytes // self.workers),
            batch_size=None,
            sampler=self.steps,
            num_workers=self.workers,
            collate_fn=_identity,
            prefetch_factor=PREFETCH_PER_WORKER,
            multiprocessing_context=self.context,
            # the DataLoader draws its workers' base seed from this generator: a private one
            # leaves torch's global random stream exactly as loading in-process does
            generator=torch.Generator(),
        )
        self._iter = iter(loader)
        try:
            for step, batch in self._iter:
                if isinstance(batch, _Failure):
                    raise DatasetError(batch.message)
                yield step, batch
        finally:
            self.close()

    def close(self) -> None:
        """Stop and join the workers (idempotent; nothing to do with ``workers == 0``)."""
        it, self._iter = self._iter, None
        if it is not None:
            # the iterator would shut its workers down when garbage-collected, but a traceback
            # passing through it keeps it alive: shut them down now
            shutdown = getattr(it, "_shutdown_workers", None)
            if shutdown is not None:
                shutdown()
