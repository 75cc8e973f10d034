"""Training-batch loading in worker processes (issue 9, ``task.loader_workers``): the same
training bit for bit, errors that name the file, workers that are always shut down."""

from __future__ import annotations

import multiprocessing
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from asl_action_det.errors import DatasetError
from asl_action_det.loader import ClipBatchLoader, ClipSpec, StepSpec, WorkerFrames
from asl_action_det.task import ActionDetParams, ActionDetTask
from asl_strategies.losses.mgw import MGWLoss

from asl_core import FrameRef, LabelState, NullProgress
from asl_core.testing import FakeOracle

TINY_SYNTH = {"num_train": 3, "num_test": 1, "min_frames": 10, "max_frames": 14, "size": 32}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """The tiny synthetic dataset, written once."""
    root = tmp_path_factory.mktemp("loader") / "data"
    ActionDetTask(ActionDetParams(data_root=str(root), synth=TINY_SYNTH))
    return root


def _task(root: Path, **params) -> ActionDetTask:
    return ActionDetTask(
        ActionDetParams(
            data_root=str(root),
            synth=TINY_SYNTH,
            iterations=3,
            batch_size=4,
            device="cpu",
            **params,
        )
    )


def _labels(task: ActionDetTask) -> list[FrameRef]:
    """Two frames per video: its first and its middle frame."""
    return [FrameRef(v.id, f) for v in task.pool() for f in (0, v.num_frames // 2)]


def _train(task: ActionDetTask, frames: list[FrameRef], progress=None):
    """Train from a fixed seed; returns the state dict and the generator's next draw."""
    annotations = {a.ref: a for a in FakeOracle().annotate(frames, task)}
    rng = np.random.default_rng(3)
    model = task.train(
        task.build_model(np.random.default_rng(0)),
        LabelState.from_frames(frames),
        annotations,
        MGWLoss(),
        rng,
        progress or NullProgress(),
    )
    return model.state_dict(), int(rng.integers(2**62))


def _children() -> set[int]:
    """This process's live child processes (DataLoader workers are multiprocessing children)."""
    return {child.pid for child in multiprocessing.active_children()}


def test_loader_workers_must_not_be_negative():
    """A negative worker count is refused by the parameters."""
    with pytest.raises(ValueError, match="loader_workers"):
        ActionDetParams(loader_workers=-1)


def test_training_with_two_workers_is_bit_identical_to_in_process(data_root):
    """Same seed, same parameters: the trained weights and the generator's final state are the
    same, bit for bit, with loader_workers 0 and 2."""
    before = _children()
    base = _task(data_root)
    frames = _labels(base)
    state0, next0 = _train(base, frames)
    state2, next2 = _train(_task(data_root, loader_workers=2), frames)
    assert next0 == next2
    assert state0.keys() == state2.keys()
    for key in state0:
        assert torch.equal(state0[key], state2[key]), key
    assert _children() <= before


def test_worker_batches_equal_in_process_batches_in_step_order(data_root):
    """The loader hands out each step's batch, in order, equal to reading in-process (flips
    and padding repeats included), with 0 and 2 workers."""
    task = _task(data_root)
    video = task.pool()[0]
    specs = [
        StepSpec(
            k,
            [
                ClipSpec(video.id, np.arange(k, k + 4), k % 2 == 0),
                ClipSpec(video.id, [1, 1, 2, 2], True),
            ],
        )
        for k in range(5)
    ]
    out = {}
    for workers in (0, 2):
        with ClipBatchLoader(task.dataset, iter(specs), workers) as loader:
            out[workers] = list(loader)
    assert [s for s, _ in out[2]] == list(range(5))
    for (_, a), (_, b) in zip(out[0], out[2], strict=True):
        assert a.dtype == torch.float32 and a.shape == (2, 4, task.height, task.width, 3)
        assert torch.equal(a, b)
    first = out[0][0][1][0].numpy()
    expected = task.dataset.read_frames(video.id, np.arange(4))[:, :, ::-1] / np.float32(255)
    assert np.array_equal(first, expected.astype(np.float32))


def test_the_specs_are_drawn_lazily_and_bounded_ahead(data_root):
    """With 1 worker the loader asks for at most PREFETCH_PER_WORKER steps beyond the one it
    hands out (a bounded prefetch; the draws stay in the main process)."""
    from asl_action_det.loader import PREFETCH_PER_WORKER

    task = _task(data_root)
    video = task.pool()[0]
    drawn: list[int] = []

    def specs():
        for k in range(8):
            drawn.append(k)
            yield StepSpec(k, [ClipSpec(video.id, [0, 1], False)])

    with ClipBatchLoader(task.dataset, specs(), 1) as loader:
        for step, _ in loader:
            assert len(drawn) <= step + 1 + PREFETCH_PER_WORKER
    assert drawn == list(range(8))


def test_an_unreadable_frame_in_a_worker_raises_the_dataset_error_naming_it(data_root, tmp_path):
    """A corrupt frame file read by a worker fails training in the main process with the
    dataset's DatasetError, naming the file; no worker process is left."""
    root = tmp_path / "data"
    shutil.copytree(data_root, root)
    before = _children()
    task = _task(root, loader_workers=2)
    video = task.pool()[0]
    broken = task.dataset.frame_path(video.id, 5)
    broken.write_bytes(b"not an image")
    with pytest.raises(DatasetError, match=rf"cannot read frame file {broken}") as caught:
        _train(task, [FrameRef(video.id, 5)])
    # checked while the traceback (and so the training frame's locals) is still alive
    assert caught.traceback and _children() <= before


class _Interrupt(NullProgress):
    """Ctrl-C after the first training step."""

    def advance(self, n: int = 1) -> None:
        raise KeyboardInterrupt


def test_an_interrupt_shuts_the_workers_down(data_root):
    """KeyboardInterrupt in the training loop propagates and leaves no worker process, even
    while its traceback still holds the training frame."""
    before = _children()
    task = _task(data_root, loader_workers=2)
    with pytest.raises(KeyboardInterrupt) as caught:
        _train(task, _labels(task), progress=_Interrupt())
    assert caught.traceback and _children() <= before


def test_an_interrupt_inside_the_loader_shuts_the_workers_down(data_root):
    """Ctrl-C while the loader waits for a batch (here: raised by the step drawing, which runs
    inside the DataLoader) leaves no worker process, although the traceback still references
    the DataLoader's iterator."""
    task = _task(data_root)
    video = task.pool()[0]

    def specs():
        for k in range(8):
            if k == 5:
                raise KeyboardInterrupt
            yield StepSpec(k, [ClipSpec(video.id, [0, 1], False)])

    before = _children()
    loader = ClipBatchLoader(task.dataset, specs(), 2)
    with pytest.raises(KeyboardInterrupt) as caught, loader:
        for _ in loader:
            pass
    assert caught.traceback and _children() <= before


def test_the_workers_recipe_carries_no_decoded_frames(data_root):
    """What spawn / forkserver send to a worker stays small however full the main process's
    frame cache is, and opens a dataset that reads the same frames."""
    task = _task(data_root)
    for video in task.pool():
        task.dataset.read_frames(video.id)  # fill the main process's cache
    cached = sum(v.num_frames * task.height * task.width * 3 for v in task.pool())
    recipe = WorkerFrames(task.dataset, 2**20)
    recipe.dataset()  # opened here too: still not pickled
    blob = pickle.dumps(recipe)
    assert len(blob) < cached / 4
    video = task.pool()[1]
    clone = pickle.loads(blob)
    assert np.array_equal(
        clone.dataset().read_frames(video.id, [0, 3]), task.dataset.read_frames(video.id, [0, 3])
    )


def test_spawned_workers_load_the_same_batches(data_root):
    """Under the spawn start method (Python 3.14's forkserver pickles the same way) a worker
    loads what the main process loads."""
    task = _task(data_root)
    video = task.pool()[2]
    specs = [StepSpec(k, [ClipSpec(video.id, [k, k + 1], bool(k))]) for k in range(2)]
    with ClipBatchLoader(task.dataset, iter(specs), 1, context="spawn") as loader:
        spawned = [b for _, b in loader]
    with ClipBatchLoader(task.dataset, iter(specs), 0) as loader:
        local = [b for _, b in loader]
    assert all(torch.equal(a, b) for a, b in zip(local, spawned, strict=True))
