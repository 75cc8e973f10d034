"""The annotation-only path: ``asl-run data labels`` turns annotation files into the pool of
``asl-run select``, which selects model-free and prices the selection (actors x clicks, paper
§4); on the real trainAnnot.mat and on tiny files in the real layouts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asl_action_det.annotation_pool import actor_counts
from asl_action_det.annotations import TubeAnnotations
from asl_action_det.layouts import DatasetLayout, open_dataset
from asl_action_det.ucf101 import load_asl_pickle, load_ucf_mat
from asl_oracles.simulated import frame_cost

from asl_core import VideoInfo
from asl_core.budget import initial_count, initial_selection, round_half_up
from asl_core.cli import main
from asl_core.loop import phase_rng
from tests.conftest import SHARED_DATA

from .real_layouts import (
    SIZE,
    UCF_TRAIN,
    make_jhmdb_root,
    make_ucf_root,
    write_asl_pickle,
    write_ucf_act_pickle,
    write_ucf_mat,
)

SHARED = SHARED_DATA / "ucf101-24"
TRAIN_MAT = SHARED / "trainAnnot.mat"
ASL_PICKLE = SHARED / "asl_layout_train_annots_10_labeled.pkl"
real = pytest.mark.skipif(not TRAIN_MAT.is_file(), reason="the real UCF-101-24 files are absent")

TWO = "Basketball/v_Basketball_g02_c01"  # 9 frames, tubes over 1..9 and 3..5 (1-based)
EMPTY = "Biking/v_Biking_g09_c01"  # 4 frames, no actor


def cli(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    """``asl-run argv``: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def data_labels(capsys: pytest.CaptureFixture[str], out: Path, *files: Any, extra: Any = ()):
    """``asl-run data labels --dataset ucf101_24 --annotations files --out out extra``."""
    return cli(
        capsys,
        *("data", "labels", "--dataset", "ucf101_24", "--annotations", *files),
        *("--out", out, *extra),
    )


def covering(ann: TubeAnnotations, video: str, frame: int) -> int:
    """Actors on a frame, counted by hand: tubes whose first..last frame holds it."""
    return sum(1 for t in ann.tubes[video] if t.start <= frame <= t.end)


# --------------------------------------------------------------------------- the real file


@pytest.fixture(scope="module")
def real_pool(tmp_path_factory) -> tuple[Path, TubeAnnotations, dict[str, Any]]:
    """trainAnnot.mat as a labels file with 1 % random initial labels (seed 0), the loaded
    annotations, and the file's content."""
    out = tmp_path_factory.mktemp("pool") / "labels.json"
    code = main(
        [
            *("data", "labels", "--dataset", "ucf101_24", "--annotations", str(TRAIN_MAT)),
            *("--init-pct", "1", "--out", str(out)),
        ]
    )
    assert code == 0
    return out, load_ucf_mat(TRAIN_MAT), json.loads(out.read_text())["videos"]


@real
def test_real_pool_has_every_video_frame_and_actor(real_pool):
    """The pool of trainAnnot.mat: 2,284 videos, 395,868 frames, and the actor counts that
    data stats reports (403,282 actor boxes on 340,336 frames)."""
    _, ann, videos = real_pool
    assert len(videos) == 2284 and list(videos) == list(ann.videos)
    assert sum(v["num_frames"] for v in videos.values()) == 395_868
    actors = np.concatenate([v["actors"] for v in videos.values()])
    assert actors.sum() == 403_282 and np.count_nonzero(actors) == 340_336
    for video in ("Basketball/v_Basketball_g08_c01", ann.videos[-1]):
        assert (
            videos[video]["actors"] == actor_counts(ann.tubes[video], ann.nframes[video]).tolist()
        )


@real
def test_real_init_pct_draws_the_runs_rule(real_pool):
    """--init-pct 1 labels initial_count(F, 1) frames per video, exactly initial_selection over
    the pool in the file's order with the stream of cycle 0."""
    _, ann, videos = real_pool
    for video, entry in videos.items():
        assert len(entry["labelled"]) == initial_count(entry["num_frames"], 1.0), video
    pool = [VideoInfo(v, ann.nframes[v]) for v in ann.videos]
    expected = initial_selection(pool, 1.0, phase_rng(0, 0, "init"))
    got = [(v, f) for v, e in videos.items() for f in e["labelled"]]
    assert got == [(r.video, r.frame) for r in expected.frames]


@real
@pytest.mark.parametrize("selector", ["global", "local"])
@pytest.mark.parametrize("scorer", ["random", "equidistant"])
def test_real_one_percent_selection_and_its_cost(scorer, selector, real_pool, tmp_path, capsys):
    """1 % of trainAnnot.mat's pool: 3,959 distinct unlabelled frames inside their videos, and
    a cost equal to 2 clicks per actor counted by hand from the tubes."""
    labels, ann, videos = real_pool
    out = tmp_path / "sel.json"
    code, _, err = cli(
        capsys,
        *("select", "--labels", labels, "--budget", "1%", "--scorer", scorer),
        *("--selector", selector, "--out", out),
    )
    assert code == 0, err
    doc = json.loads(out.read_text())
    picks = [(r["video"], r["frame"]) for r in doc["frames"]]
    assert len(picks) == round_half_up(395_868 * 0.01) == 3959
    assert len(set(picks)) == len(picks)
    for video, frame in picks:
        assert 0 <= frame < ann.nframes[video]
        assert frame not in videos[video]["labelled"]
    by_hand = [covering(ann, v, f) for v, f in picks]
    assert [r["actors"] for r in doc["frames"]] == by_hand
    cost = doc["cost"]
    assert cost["actor_boxes"] == sum(by_hand)
    assert cost["total"] == 2.0 * sum(by_hand)
    assert cost["frames_without_actor"] == by_hand.count(0)
    assert f"cost {int(cost['total']):,} clicks ({sum(by_hand):,} actors x 2 clicks;" in err


@real
def test_real_asl_pickle_gives_the_labels_and_the_mat_the_lengths(tmp_path, capsys):
    """The ASL pickle with trainAnnot.mat: the pickle's 29,479 annotated frames are the
    labelled frames, the .mat gives every length."""
    out = tmp_path / "labels.json"
    code, stdout, err = data_labels(capsys, out, ASL_PICKLE, TRAIN_MAT)
    assert code == 0, err
    videos = json.loads(out.read_text())["videos"]
    pickle = load_asl_pickle(ASL_PICKLE)
    assert len(videos) == 2284
    assert sum(len(v["labelled"]) for v in videos.values()) == 29_479
    for video in pickle.videos:
        assert videos[video]["labelled"] == pickle.labelled.labelled(video).tolist()
    assert "29,479 labelled" in stdout and "annotated-frame lists are the labelled" in stdout


@real
def test_real_asl_pickle_alone_is_refused_for_want_of_lengths(tmp_path, capsys):
    """The ASL pickle stores no lengths: exit 2, naming it and the file to add."""
    code, _, err = data_labels(capsys, tmp_path / "labels.json", ASL_PICKLE)
    assert code == 2
    assert f"error: {ASL_PICKLE} stores no video lengths" in err
    assert "215 of its videos" in err and "trainAnnot.mat" in err
    assert not (tmp_path / "labels.json").exists()


# --------------------------------------------------------------------------- tiny files


@pytest.fixture
def tiny_mat(tmp_path: Path) -> Path:
    """A .mat with a 9-frame video of two actors (one on 3 frames) and a 4-frame empty video."""
    return write_ucf_mat(
        tmp_path / "trainAnnot.mat",
        [
            (TWO, 9, [(1, 9, 1, (8, 2, 12, 20)), (3, 5, 1, (0, 0, 6, 6))]),
            (EMPTY, 4, []),
        ],
    )


def test_tiny_labels_file_is_the_known_answer(tiny_mat, tmp_path, capsys):
    """Lengths from num_imgs, no labelled frame, actors 1 1 2 2 2 1 1 1 1 and 0 0 0 0."""
    out = tmp_path / "labels.json"
    code, stdout, err = data_labels(capsys, out, tiny_mat)
    assert code == 0, err
    assert json.loads(out.read_text()) == {
        "videos": {
            TWO: {"num_frames": 9, "labelled": [], "actors": [1, 1, 2, 2, 2, 1, 1, 1, 1]},
            EMPTY: {"num_frames": 4, "labelled": [], "actors": [0, 0, 0, 0]},
        }
    }
    assert "2 videos, 13 frames, 0 labelled; 12 actor boxes on 9 frames" in stdout


@pytest.mark.parametrize(
    ("extra", "total"), [((), 24.0), (("--frame-overhead", "1"), 37.0)], ids=["paper", "overhead"]
)
def test_tiny_whole_pool_costs_actors_times_clicks(tiny_mat, tmp_path, capsys, extra, total):
    """Selecting all 13 frames costs 12 actors x 2 clicks (+ 13 x 1 with an overhead of 1);
    the 4 frames of the empty video have no actor."""
    labels = tmp_path / "labels.json"
    assert data_labels(capsys, labels, tiny_mat)[0] == 0
    code, out, err = cli(
        capsys, "select", "--labels", labels, "--budget", "100%", "--scorer", "random", *extra
    )
    assert code == 0, err
    cost = json.loads(out)["cost"]
    assert cost["frames"] == 13 and cost["actor_boxes"] == 12
    assert cost["frames_without_actor"] == 4 and cost["total"] == total


def test_actor_counts_are_the_simulated_oracles_regions(tmp_path, capsys):
    """On a UCF folder with frames, every frame's actor count is the number of regions the
    simulated oracle gets from the dataset, so the cost is what a run would be charged."""
    root = make_ucf_root(tmp_path / "UCF101_24")
    out = tmp_path / "labels.json"
    code, _, err = data_labels(capsys, out, root / "trainAnnot.mat")
    assert code == 0, err
    videos = json.loads(out.read_text())["videos"]
    layout = DatasetLayout.for_dataset("ucf101_24", {"resolution": (SIZE, SIZE)})
    ds = open_dataset("ucf101_24", root, layout)
    assert list(videos) == [r.id for r in ds.videos("train")]  # the task's pool order
    for video, entry in videos.items():
        for frame, n in enumerate(entry["actors"]):
            regions = ds.frame_regions(video, frame)
            assert n == len(regions)
            assert frame_cost(regions, 2.0, 0.0) == 2.0 * n


def test_asl_pickle_with_its_mat_and_a_pickle_that_disagrees(tmp_path, capsys):
    """The pickle's marks become the labels; a pickle whose tubes differ from the .mat's is
    refused, naming both files and the first differing frame."""
    mat = write_ucf_mat(tmp_path / "trainAnnot.mat", UCF_TRAIN)
    pkl = write_asl_pickle(tmp_path / "training_annots.pkl", UCF_TRAIN, every=3)
    out = tmp_path / "labels.json"
    code, _, err = data_labels(capsys, out, pkl, mat)
    assert code == 0, err
    videos = json.loads(out.read_text())["videos"]
    assert videos["Basketball/v_Basketball_g01_c01"]["labelled"] == [1, 4, 7]
    shifted = [(v, n, [(sf + 1, ef, c, b) for sf, ef, c, b in t]) for v, n, t in UCF_TRAIN]
    bad = write_asl_pickle(tmp_path / "other.pkl", shifted)
    code, _, err = data_labels(capsys, out, bad, mat)
    assert code == 1
    assert "video 'Basketball/v_Basketball_g01_c01' has 0 actor(s) on frame 1 in" in err
    assert "but 1 in" in err
    assert str(bad) in err and str(mat) in err


def test_act_pickle_pool_is_its_training_videos(tmp_path, capsys):
    """An ACT ground-truth pickle gives lengths; the pool is the training videos of split 1."""
    gt = write_ucf_act_pickle(tmp_path / "UCF101v2-GT.pkl")
    out = tmp_path / "labels.json"
    code, stdout, err = cli(
        capsys, "data", "labels", "--dataset", "act", "--annotations", gt, "--out", out
    )
    assert code == 0, err
    videos = json.loads(out.read_text())["videos"]
    assert list(videos) == [v for v, _, _ in UCF_TRAIN]
    assert [e["num_frames"] for e in videos.values()] == [n for _, n, _ in UCF_TRAIN]
    assert "training videos of split 1" in stdout


def test_init_pct_replaces_the_files_labels_and_says_so(tmp_path, capsys):
    """--init-pct draws new labels over an ASL pickle's and notes the replacement."""
    mat = write_ucf_mat(tmp_path / "trainAnnot.mat", UCF_TRAIN)
    pkl = write_asl_pickle(tmp_path / "training_annots.pkl", UCF_TRAIN)
    out = tmp_path / "labels.json"
    code, stdout, _ = data_labels(capsys, out, pkl, mat, extra=("--init-pct", "10", "--seed", "4"))
    assert code == 0
    videos = json.loads(out.read_text())["videos"]
    assert [len(e["labelled"]) for e in videos.values()] == [1, 1, 1]
    assert "--init-pct replaces the" in stdout and "seed 4" in stdout


# --------------------------------------------------------------------------- bad input


def _jhmdb_splits(tmp: Path) -> list[Any]:
    root = make_jhmdb_root(tmp / "JHMDB")
    return ["--dataset", "jhmdb21", "--annotations", root / "splits"]


BAD = [
    (
        "unknown-dataset",
        lambda tmp: [
            "--dataset",
            "ucf24",
            "--annotations",
            write_ucf_mat(tmp / "a.mat", UCF_TRAIN),
        ],
        "unknown dataset 'ucf24' (did you mean 'ucf101_24'?)",
    ),
    (
        "no-labels-action",
        lambda tmp: ["--dataset", "synthetic_actions", "--annotations", tmp],
        "dataset 'synthetic_actions' has no 'labels' action",
    ),
    (
        "missing-file",
        lambda tmp: ["--dataset", "ucf101_24", "--annotations", tmp / "none.mat"],
        "none.mat: not found (--annotations)",
    ),
    (
        "pickle-without-lengths",
        lambda tmp: [
            *("--dataset", "ucf101_24", "--annotations"),
            write_asl_pickle(tmp / "training_annots.pkl", UCF_TRAIN),
        ],
        "training_annots.pkl stores no video lengths, and no other --annotations file gives the "
        "length of 3 of its videos",
    ),
    (
        "jhmdb-split-files",
        _jhmdb_splits,
        "J-HMDB's split files store no video lengths and no actors",
    ),
    (
        "init-pct-zero",
        lambda tmp: [
            *("--dataset", "ucf101_24", "--annotations"),
            write_ucf_mat(tmp / "a.mat", UCF_TRAIN),
            *("--init-pct", "0"),
        ],
        "--init-pct 0: a percentage must be in (0, 100]",
    ),
    (
        "seed-without-init-pct",
        lambda tmp: [
            *("--dataset", "ucf101_24", "--annotations"),
            write_ucf_mat(tmp / "a.mat", UCF_TRAIN),
            *("--seed", "3"),
        ],
        "--seed draws the --init-pct labels; give --init-pct P as well",
    ),
    (
        "act-split-missing",
        lambda tmp: [
            *("--dataset", "act", "--annotations", write_ucf_act_pickle(tmp / "G-GT.pkl")),
            *("--cfg-options", "split=2"),
        ],
        "split 2 does not exist (the file has 1)",
    ),
]


@pytest.mark.parametrize(("setup", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_data_labels_input_is_a_usage_error(setup, message, tmp_path, capsys):
    """Each bad input exits 2 with one error line and writes nothing."""
    out = tmp_path / "labels.json"
    code, _, err = cli(capsys, "data", "labels", *setup(tmp_path), "--out", out)
    assert code == 2
    assert message in err and err.startswith("error: ")
    assert not out.exists()
