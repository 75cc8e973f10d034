"""The ``vos`` task: pool and held-out split, ground truth, training from annotations only,
scoring memory kept in the checkpoint, prediction shapes, evaluation keys, bad configurations,
and the CLI end to end (a run and ``asl-run eval vos``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from asl_vos.task import VosParams, VosTask

from asl_core import (
    ConfigError,
    FrameAnnotation,
    FrameRef,
    LabelState,
    NullProgress,
    SparseLossBase,
    parse_params,
)
from asl_core.cli import main

pytest.importorskip("torch")

SYNTH = {"num_videos": 8, "min_frames": 6, "max_frames": 9, "size": [32, 48], "seed": 3}


def _params(root: Path, **over) -> VosParams:
    base = {
        "data_root": str(root),
        "synth": SYNTH,
        "val_videos": 2,
        "unseen_categories": 1,
        "iterations": 3,
        "batch_size": 2,
        "mc_trials": 2,
        "device": "cpu",
    }
    base.update(over)
    return parse_params(VosParams, base, where="task")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vos") / "data"


@pytest.fixture(scope="module")
def task(root: Path) -> VosTask:
    return VosTask(_params(root))


class _Masking(SparseLossBase):
    def frame_weights(self, num_frames: int, labelled: np.ndarray) -> np.ndarray:
        w = np.zeros(num_frames)
        w[labelled] = 1.0
        return w


def _annotations(task: VosTask, frames: list[FrameRef]) -> dict[FrameRef, FrameAnnotation]:
    truths = task.ground_truth(frames)
    return {
        r: FrameAnnotation(r.video, r.frame, g, oracle="t")
        for r, g in zip(frames, truths, strict=True)
    }


@pytest.fixture(scope="module")
def trained(task: VosTask):
    frames = [FrameRef(v.id, 0) for v in task.pool()[:3]]
    anns = _annotations(task, frames)
    rng = np.random.default_rng(0)
    model = task.train(
        task.build_model(rng), LabelState.from_frames(frames), anns, _Masking(), rng, NullProgress()
    )
    return model, frames, anns


def test_pool_and_evaluation_videos_do_not_overlap(task: VosTask) -> None:
    pool = {v.id for v in task.pool()}
    assert pool and task._eval_ids
    assert pool.isdisjoint(task._eval_ids)


def test_unseen_categories_occur_only_in_evaluation_videos(task: VosTask) -> None:
    assert task.unseen
    pool_cats = {o.category for v in task.pool() for o in task.data.video(v.id).objects}
    assert pool_cats.isdisjoint(task.unseen)


def test_pool_frames_are_the_annotated_frames(task: VosTask) -> None:
    for info in task.pool():
        assert info.num_frames == len(task.data.video(info.id).frames)
        assert info.label is None


def test_ground_truth_gives_one_region_per_visible_object(task: VosTask) -> None:
    from pycocotools import mask as mask_utils

    info = task.pool()[0]
    ids = np.asarray(task.data.read_masks(info.id)[0])
    (regions,) = task.ground_truth([FrameRef(info.id, 0)])
    assert sorted(r.track_id for r in regions) == sorted(int(i) for i in np.unique(ids) if i)
    for r in regions:
        rle = {"size": list(r.mask["size"]), "counts": r.mask["counts"].encode("ascii")}
        m = mask_utils.decode(rle).astype(bool)
        assert np.array_equal(m, ids == r.track_id)
        ys, xs = np.nonzero(m)
        assert r.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_ground_truth_category_indexes_the_category_names(task: VosTask) -> None:
    info = task.pool()[0]
    video = task.data.video(info.id)
    for r in task.ground_truth([FrameRef(info.id, 0)])[0]:
        assert task.categories[r.category] == video.object(r.track_id).category


def test_training_keeps_the_annotated_masks_as_scoring_memory(trained) -> None:
    model, frames, anns = trained
    assert set(model.memory) == {r.video for r in frames}
    for ref in frames:
        entry = model.memory[ref.video][ref.frame]
        assert sorted(e[0] for e in entry) == sorted(r.track_id for r in anns[ref].regions)


def test_memory_comes_from_the_annotations_not_the_ground_truth(task: VosTask) -> None:
    """An annotation that differs from the ground truth (an empty frame) is what is kept."""
    ref = FrameRef(task.pool()[0].id, 0)
    anns = {ref: FrameAnnotation(ref.video, ref.frame, (), oracle="t")}
    rng = np.random.default_rng(0)
    model = task.train(
        task.build_model(rng), LabelState.from_frames([ref]), anns, _Masking(), rng, NullProgress()
    )
    assert model.memory == {ref.video: {0: []}}


def test_a_training_sample_starts_at_a_labelled_frame(task: VosTask) -> None:
    info = task.pool()[0]
    labelled = np.asarray([1, 4])
    ids = np.zeros((2, task.height, task.width), dtype=np.uint8)
    ids[0, :4, :4] = 1
    ids[1, -4:, -4:] = 2
    weights = np.linspace(0.0, 1.0, info.num_frames)
    rng = np.random.default_rng(5)
    for _ in range(20):
        index, targets, w, objects = task._sample(info.id, labelled, ids, weights, rng)
        assert index[0] in labelled
        assert ((index >= 0) & (index < info.num_frames)).all()
        assert np.array_equal(w, weights[index])
        # every target is the mask of the labelled frame nearest to it
        for f, t in zip(index, targets, strict=True):
            nearest = labelled[np.argmin(np.abs(labelled - f))]
            assert np.array_equal(t, ids[list(labelled).index(nearest)])
        assert objects == [int(i) for i in np.unique(targets[0]) if i]


def test_predict_gives_background_plus_the_labelled_objects(task: VosTask, trained) -> None:
    model, frames, anns = trained
    ref = frames[0]
    info = next(v for v in task.pool() if v.id == ref.video)
    ((_, out),) = list(
        task.predict(model, [info], frozenset({"mc_probs"}), np.random.default_rng(1))
    )
    probs = out["mc_probs"]
    objects = len(anns[ref].regions)
    assert probs.shape == (2, info.num_frames, objects + 1, task.height, task.width)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=2), 1.0, atol=1e-5)


def test_predict_without_labelled_frames_is_all_background(task: VosTask, trained) -> None:
    model, frames, _ = trained
    info = next(v for v in task.pool() if v.id not in {r.video for r in frames})
    ((_, out),) = list(
        task.predict(model, [info], frozenset({"mc_probs"}), np.random.default_rng(1))
    )
    probs = out["mc_probs"]
    assert probs.shape[2] == 2
    assert (probs[:, :, 0] == 1.0).all()


def test_a_reloaded_checkpoint_scores_and_evaluates_the_same(task, trained, tmp_path) -> None:
    model, frames, _ = trained
    path = tmp_path / "model.pt"
    task.save_checkpoint(model, path)
    again = task.load_checkpoint(path)
    assert again.memory == model.memory
    info = [v for v in task.pool() if v.id == frames[0].video]
    a = next(iter(task.predict(model, info, frozenset({"mc_probs"}), np.random.default_rng(2))))
    b = next(iter(task.predict(again, info, frozenset({"mc_probs"}), np.random.default_rng(2))))
    np.testing.assert_array_equal(a[1]["mc_probs"], b[1]["mc_probs"])
    rng = np.random.default_rng(3)
    assert task.evaluate(model, rng, NullProgress()) == task.evaluate(
        again, np.random.default_rng(3), NullProgress()
    )


def test_evaluate_reports_j_f_seen_unseen_in_unit_range(task: VosTask, trained) -> None:
    metrics = task.evaluate(trained[0], np.random.default_rng(0), NullProgress())
    # the tiny held-out part may hold no seen object; it always holds the unseen category
    for key in ("J", "F", "J&F", "J-unseen", "F-unseen", "J&F-unseen", "overall"):
        assert 0.0 <= metrics[key] <= 1.0, key
    for key in ("J-seen", "F-seen", "J&F-seen"):
        assert 0.0 <= metrics.get(key, 0.0) <= 1.0, key
    assert metrics["J&F"] == pytest.approx((metrics["J"] + metrics["F"]) / 2)
    assert metrics["objects"] >= 1


def test_a_checkpoint_of_another_model_is_refused_naming_it(task: VosTask, tmp_path) -> None:
    import torch

    from asl_core import RunDirError

    path = tmp_path / "other.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "memory": {}}, path)
    with pytest.raises(RunDirError, match=r"other\.pt"):
        task.load_checkpoint(path)


class _RunsCode:
    """Pickles to a call of ``os.system``: what a tampered checkpoint would hold."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(
    task: VosTask, tmp_path
) -> None:
    """Checkpoints load with torch.load(weights_only=True): a pickled call is never executed."""
    import torch

    from asl_core import RunDirError

    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"state_dict": {}, "memory": _RunsCode(f"touch {marker}")}, path)
    with pytest.raises(RunDirError, match=r"model\.pt: not a plain-tensor checkpoint; refused"):
        task.load_checkpoint(path)
    assert not marker.exists()


# ------------------------------------------------------------------ bad configurations


def test_frame_size_must_be_multiples_of_16(root: Path) -> None:
    with pytest.raises(ConfigError, match="multiples of 16"):
        _params(root, frame_size=[30, 48])


def test_a_missing_dataset_is_an_error_when_synthesis_is_off(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dataset folder not found"):
        VosTask(_params(tmp_path / "nothing", synthesize_if_missing=False))


def test_resnet_weights_need_the_resnet_backbone(root: Path, tmp_path: Path) -> None:
    weights = tmp_path / "r50.pth"
    weights.write_bytes(b"x")
    with pytest.raises(ConfigError, match="backbone='resnet'"):
        VosTask(_params(root, key_weights=str(weights)))


def test_a_missing_weights_file_is_named(root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"r50-missing\.pth"):
        VosTask(_params(root, backbone="resnet", key_weights=str(tmp_path / "r50-missing.pth")))


def test_a_first_frame_only_valid_split_is_refused_for_evaluation(root, tmp_path) -> None:
    """The public valid split has masks on first frames only: it cannot be scored locally."""
    copy = tmp_path / "data"
    shutil.copytree(root, copy)
    shutil.copytree(copy / "train", copy / "valid")
    for folder in (copy / "valid" / "Annotations").iterdir():
        for png in sorted(folder.glob("*.png"))[1:]:
            png.unlink()
    with pytest.raises(ConfigError, match="first frames"):
        VosTask(_params(copy, eval_split="valid"))


def test_frames_not_multiple_of_16_need_frame_size(root: Path, tmp_path: Path) -> None:
    """Real videos (1280 x 720, 640 x 360 ...) must be resized for the 1/16-stride model."""
    from PIL import Image

    copy = tmp_path / "data"
    shutil.copytree(root, copy)
    for path in (copy / "train").rglob("*"):
        if path.suffix in (".jpg", ".png"):
            with Image.open(path) as img:
                img.load()
                cropped = img.crop((0, 0, 40, 32))  # 32 x 40: 40 is no multiple of 16
            cropped.save(path)
    with pytest.raises(ConfigError, match=r"task\.frame_size"):
        VosTask(_params(copy))
    assert VosTask(_params(copy, frame_size=[32, 32])).width == 32


# ------------------------------------------------------------------ CLI


def test_asl_run_vos_runs_end_to_end(task: VosTask, root: Path, tmp_path: Path, capsys) -> None:
    """``asl-run --task vos --scorer apu --selector global`` runs two cycles and reports J&F."""
    argv = ["--task", "vos", "--scorer", "apu", "--selector", "global", "--cycles", "1"]
    argv += ["--init-pct", "10", "--step-pct", "10", "--quiet", "--work-dir", str(tmp_path)]
    opts = [f"task.data_root={root}", "task.val_videos=2", "task.unseen_categories=1"]
    opts += ["task.iterations=2", "task.batch_size=2", "task.mc_trials=2", "task.device=cpu"]
    assert main([*argv, "--cfg-options", *opts]) == 0
    metrics = json.loads((tmp_path / "cycles" / "001" / "metrics.json").read_text())["metrics"]
    assert {"J", "F", "J&F", "J&F-unseen", "overall"} <= set(metrics)
    assert "J&F" in capsys.readouterr().out


def _write_folder(folder: Path, masks: dict[str, list[np.ndarray]]) -> None:
    from asl_vos.pngio import write_mask

    for video, frames in masks.items():
        (folder / video).mkdir(parents=True)
        for i, m in enumerate(frames):
            write_mask(folder / video / f"{5 * i:05d}.png", m)


def test_asl_run_eval_vos_prints_j_and_f(tmp_path: Path, capsys) -> None:
    """A square shifted by one pixel on the scored frame: J = 9/16... computed here by hand.

    GT square 4x4 at rows/cols 2-5; prediction at cols 3-6: intersection 4x3 = 12, union 20,
    J = 0.6. Frame 0 is the given frame and is not scored."""
    gt0 = np.zeros((12, 12), np.uint8)
    gt0[2:6, 2:6] = 1
    pred1 = np.zeros((12, 12), np.uint8)
    pred1[2:6, 3:7] = 1
    _write_folder(tmp_path / "gt", {"v": [gt0, gt0]})
    _write_folder(tmp_path / "pred", {"v": [gt0, pred1]})
    argv = ["eval", "vos", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["J"] == pytest.approx(0.6)
    assert doc["unseen"]["objects"] == 0
    assert main(argv) == 0
    assert "overall" in capsys.readouterr().out


def test_asl_run_eval_vos_refuses_detection_options(tmp_path: Path, capsys) -> None:
    argv = ["eval", "vos", "--gt", str(tmp_path), "--pred", str(tmp_path), "--split", "1"]
    assert main(argv) == 2
    assert "--split" in capsys.readouterr().err


def test_asl_run_eval_vos_needs_pred(tmp_path: Path, capsys) -> None:
    assert main(["eval", "vos", "--gt", str(tmp_path)]) == 2
    assert "--pred" in capsys.readouterr().err


def test_asl_run_eval_vos_missing_pred_file_exits_2_naming_it(tmp_path: Path, capsys) -> None:
    gt0 = np.zeros((8, 8), np.uint8)
    gt0[2:4, 2:4] = 1
    _write_folder(tmp_path / "gt", {"v": [gt0, gt0]})
    _write_folder(tmp_path / "pred", {"v": [gt0]})
    argv = ["eval", "vos", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")]
    assert main(argv) == 2
    assert "00005.png" in capsys.readouterr().err


def test_asl_run_eval_act_refuses_pred(tmp_path: Path, capsys) -> None:
    argv = ["eval", "--gt", str(tmp_path / "x.pkl"), "--pred", str(tmp_path)]
    assert main(argv) == 2
    assert "--pred" in capsys.readouterr().err


def test_a_static_sample_warps_one_labelled_frame_with_exact_targets(task: VosTask) -> None:
    """Frame 0 is the labelled frame itself; later frames are warps of it whose targets only
    hold the labelled frame's ids; weights are 1 (exact targets)."""
    info = task.pool()[0]
    labelled = np.asarray([2])
    ids = np.asarray(task.data.read_masks(info.id)[2])[None].copy()
    frames, targets, weights, objects = task._static_sample(
        info.id, labelled, ids, np.random.default_rng(0)
    )
    s = task.params.sample_frames
    assert frames.shape == (s, task.height, task.width, 3)
    assert np.array_equal(frames[0], task.data.read_frames(info.id)[2])
    assert np.array_equal(targets[0], ids[0])
    assert set(np.unique(targets)) <= set(np.unique(ids))
    assert not np.array_equal(targets[1], targets[0])  # it moved
    assert (weights == 1.0).all()
    assert objects == [int(o) for o in np.unique(ids) if o]


def test_static_fraction_must_be_a_share(root: Path) -> None:
    with pytest.raises(ConfigError, match="static_fraction"):
        _params(root, static_fraction=1.5)


def test_predict_regions_gives_objects_with_their_annotated_categories(
    task, trained, monkeypatch
) -> None:
    """Export pre-fill: one region per object segmented on the frame, its id and category
    those of the annotation it was remembered from, box = tight box of its mask. The network
    is replaced by a stub that puts object ``c`` in column block ``c`` of every frame."""
    import asl_vos.inference
    import torch
    from pycocotools import mask as mask_utils

    def stub(net, frames, given, *, top_k, mc_trials=1, generator=None):
        k = next(iter(given.values())).shape[0]
        probs = torch.zeros(1, frames.shape[0], k + 1, task.height, task.width)
        probs[:, :, 0] = 1.0
        for c in range(1, k + 1):
            probs[:, :, 0, :, 4 * c : 4 * c + 3] = 0.0
            probs[:, :, c, :, 4 * c : 4 * c + 3] = 1.0
        return probs

    monkeypatch.setattr(asl_vos.inference, "predict_from_memory", stub)
    model, frames, anns = trained
    ref = frames[0]
    refs = [FrameRef(ref.video, f) for f in (0, 1)]
    found = task.predict_regions(model, refs)
    annotated = sorted((r.track_id, r.category) for r in anns[ref].regions)
    for regions in found:
        assert sorted((r.track_id, r.category) for r in regions) == annotated
        for c, r in enumerate(sorted(regions, key=lambda r: r.track_id), start=1):
            assert r.box == (4 * c, 0, 4 * c + 3, task.height)
            m = mask_utils.decode(
                {"size": list(r.mask["size"]), "counts": r.mask["counts"].encode("ascii")}
            ).astype(bool)
            assert m[:, 4 * c : 4 * c + 3].all() and m.sum() == 3 * task.height


def test_predict_regions_of_a_video_without_memory_is_empty(task, trained) -> None:
    model, frames, _ = trained
    other = next(v for v in task.pool() if v.id not in {r.video for r in frames})
    assert task.predict_regions(model, [FrameRef(other.id, 0)]) == [()]
