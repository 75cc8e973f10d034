"""``asl-run data synth``, ``data stats`` and ``data check``."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
from pathlib import Path

import pytest

from asl_core.cli import main
from tests.conftest import SHARED_DATA

from .real_layouts import (
    JHMDB_VIDEOS,
    make_jhmdb_root,
    make_ucf_root,
    write_avi,
    write_ucf_act_pickle,
)


class _Exploit:
    """Pickles to a call of ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return (os.system, (self.command,))


def test_data_synth_writes_a_readable_dataset(tmp_path, capsys):
    """The command writes the ACT layout into an empty folder and says where."""
    out = tmp_path / "synth"
    code = main(
        [
            "data",
            "synth",
            "--out",
            str(out),
            "--cfg-options",
            "num_train=3",
            "num_test=2",
            "size=32",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (out / "SynthActions-GT.pkl").is_file() and (out / "Frames").is_dir()
    assert "wrote dataset 'synthetic_actions'" in capsys.readouterr().out


def test_data_synth_refuses_a_non_empty_folder(tmp_path, capsys):
    """Nothing is written into a folder that already holds files."""
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["data", "synth", "--out", str(tmp_path)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_data_synth_rejects_unknown_generator_parameters(tmp_path, capsys):
    """A misspelled generator parameter is a usage error with a hint."""
    assert (
        main(["data", "synth", "--out", str(tmp_path / "x"), "--cfg-options", "num_trian=3"]) == 2
    )
    assert "did you mean 'num_train'" in capsys.readouterr().err


# --------------------------------------------------------------------------- data stats

SHARED = SHARED_DATA / "ucf101-24"
real = pytest.mark.skipif(
    not (SHARED / "trainAnnot.mat").is_file(), reason="the real UCF-101-24 files are absent"
)


@real
def test_data_stats_prints_the_real_train_counts(capsys):
    """On the shared trainAnnot.mat: 2,284 videos and 395,868 frames."""
    code = main(
        ["data", "stats", "--dataset", "ucf101_24", "--annotations", str(SHARED / "trainAnnot.mat")]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "2,284" in out and "395,868" in out and "3,143" in out


@real
def test_data_stats_json_has_one_row_per_split_and_a_total(capsys):
    """--json: train and test rows of trainAnnot.mat / testAnnot.mat and their total."""
    files = [str(SHARED / "trainAnnot.mat"), str(SHARED / "testAnnot.mat")]
    assert main(["data", "stats", "--dataset", "ucf101_24", "--json", "--annotations", *files]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["split"]: r for r in doc["rows"]}
    assert (rows["train"]["videos"], rows["train"]["frames"]) == (2284, 395_868)
    assert (rows["test"]["videos"], rows["test"]["tubes"]) == (910, 1315)
    assert (rows["total"]["videos"], rows["total"]["tubes"]) == (3194, 4458)


@real
def test_data_stats_of_an_asl_pickle_counts_its_labelled_frames(capsys):
    """An ASL pickle has no lengths (frames n/a) but counts its annotated frames."""
    pkl = str(SHARED / "asl_layout_train_annots_10_labeled.pkl")
    assert main(["data", "stats", "--dataset", "ucf101_24", "--json", "--annotations", pkl]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["frames"] is None and row["videos"] == 215 and row["labelled_frames"] == 29_479


def test_data_stats_splits_final_annotations_by_the_list_beside_them(tmp_path, capsys):
    """finalAnnots.mat with testlist01.txt beside it is counted as train and test."""
    root = make_ucf_root(tmp_path / "UCF", frames=False)
    args = [
        "data",
        "stats",
        "--dataset",
        "ucf101_24",
        "--json",
        "--cfg-options",
        "resolution=[32,32]",
    ]
    assert main([*args, "--annotations", str(root / "finalAnnots.mat")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(r["split"], r["videos"]) for r in doc["rows"]] == [
        ("train", 3),
        ("test", 2),
        ("total", 5),
    ]
    assert "split into train and test by" in doc["notes"][0]


def test_data_stats_reads_an_act_pickle_given_to_ucf101_24(tmp_path, capsys):
    """A .pkl holding an ACT dict (UCF101v2-GT.pkl) is counted per split like the .mat files."""
    root = make_ucf_root(tmp_path / "UCF", frames=False)
    gt = write_ucf_act_pickle(root / "UCF101v2-GT.pkl")
    assert (
        main(["data", "stats", "--dataset", "ucf101_24", "--json", "--annotations", str(gt)]) == 0
    )
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["split"], r["videos"], r["tubes"]) for r in rows] == [
        ("train", 3, 4),
        ("test", 2, 2),
        ("total", 5, 6),
    ]


def test_data_stats_of_jhmdb_lists_the_three_splits(tmp_path, capsys):
    """JHMDB-GT.pkl: train and test rows for each of the three splits."""
    root = make_jhmdb_root(tmp_path / "J", act_pickle=True)
    args = [
        "data",
        "stats",
        "--dataset",
        "jhmdb21",
        "--json",
        "--annotations",
        str(root / "JHMDB-GT.pkl"),
    ]
    assert main(args) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["split"] for r in rows] == [
        f"split {k} {s}" for k in (1, 2, 3) for s in ("train", "test")
    ]
    assert sum(r["frames"] for r in rows[:2]) == sum(n for _, _, n, _, _ in JHMDB_VIDEOS)


def test_data_stats_of_a_truncated_file_names_it(tmp_path, capsys):
    """A truncated .mat exits non-zero with an error naming the file."""
    bad = tmp_path / "trainAnnot.mat"
    good = make_ucf_root(tmp_path / "UCF", frames=False) / "trainAnnot.mat"
    bad.write_bytes(good.read_bytes()[:300])
    assert main(["data", "stats", "--dataset", "ucf101_24", "--annotations", str(bad)]) == 1
    assert f"cannot read {bad}" in capsys.readouterr().err


def test_data_stats_of_a_malicious_pickle_refuses_it(tmp_path, capsys):
    """A pickle that would run code is refused by name, with a non-zero exit."""
    marker = tmp_path / "ran"
    evil = tmp_path / "training_annots.pkl"
    evil.write_bytes(pickle.dumps([("a/b", [_Exploit(f"touch {marker}")])], protocol=4))
    assert main(["data", "stats", "--dataset", "ucf101_24", "--annotations", str(evil)]) == 1
    assert "refusing to load" in capsys.readouterr().err and not marker.exists()


def test_data_stats_of_a_missing_file_is_a_usage_error(tmp_path, capsys):
    """A missing --annotations file exits 2 naming it."""
    assert (
        main(["data", "stats", "--dataset", "ucf101_24", "--annotations", str(tmp_path / "x.mat")])
        == 2
    )
    assert "x.mat: not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- data check


def _check(root: Path, *extra: str) -> list[str]:
    return ["data", "check", "--root", str(root), "--cfg-options", "resolution=[32,32]", *extra]


def test_data_check_of_a_clean_folder_exits_zero(tmp_path, capsys):
    """A complete UCF folder (found as ucf101_24 from its files) has no problem."""
    root = make_ucf_root(tmp_path / "UCF")
    assert main(_check(root)) == 0
    out = capsys.readouterr().out
    assert "checked 5 videos (49 annotated frames)" in out and "no problem found" in out
    assert "trainAnnot.mat, testAnnot.mat" in out


def test_data_check_reports_every_bad_video_with_its_path(tmp_path, capsys):
    """A missing frame, an extra frame, a corrupt JPEG and a missing folder are each reported
    with their path, then a summary; the exit code is 1."""
    root = make_ucf_root(tmp_path / "UCF")
    frames = root / "rgb-images"
    (frames / "Basketball/v_Basketball_g01_c01/00004.jpg").unlink()
    (frames / "Biking/v_Biking_g01_c01/00012.jpg").write_bytes(
        (frames / "Biking/v_Biking_g01_c01/00001.jpg").read_bytes()
    )
    corrupt = frames / "Basketball/v_Basketball_g03_c01/00005.jpg"
    corrupt.write_bytes(corrupt.read_bytes()[:40])
    shutil.rmtree(frames / "Biking/v_Biking_g02_c01")
    assert main(_check(root)) == 1
    out = capsys.readouterr().out
    assert re.search(r"missing .*v_Basketball_g01_c01/00004\.jpg: 1 of the 10 frames", out)
    assert re.search(r"inconsistent .*v_Biking_g01_c01: the folder holds 12 frames, 1 beyond", out)
    assert re.search(
        r"unreadable .*v_Basketball_g03_c01/00005\.jpg: frame file does not decode", out
    )
    assert re.search(r"missing .*Biking/v_Biking_g02_c01: missing frame folder \(video", out)
    assert "4 problem(s) (2 missing, 1 unreadable, 1 inconsistent) in 4 video(s)" in out


def test_data_check_quick_skips_decoding(tmp_path, capsys):
    """--quick checks counts and the first frame only: a corrupt later frame goes unnoticed."""
    root = make_ucf_root(tmp_path / "UCF")
    corrupt = root / "rgb-images/Basketball/v_Basketball_g03_c01/00005.jpg"
    corrupt.write_bytes(b"not a jpeg")
    assert main(_check(root, "--quick")) == 0
    assert "--quick: frames not decoded" in capsys.readouterr().out


def test_data_check_reads_avi_files_and_their_frame_counts(tmp_path, capsys):
    """Without rgb-images, the ASL layout's UCF101_Videos/*.avi are decoded and counted."""
    root = make_ucf_root(tmp_path / "UCF", frames=False, videos=True)
    short = root / "UCF101_Videos/Biking/v_Biking_g02_c01.avi"
    write_avi(short, 7)
    assert main(_check(root, "--json")) == 1
    doc = json.loads(capsys.readouterr().out)
    (problem,) = doc["problems"]
    assert problem["kind"] == "inconsistent" and problem["path"] == str(short)
    assert "decodes to 7 frames, but" in problem["message"] and "gives video" in problem["message"]
    assert doc["counts"] == {"missing": 0, "unreadable": 0, "inconsistent": 1}


def test_data_check_of_asl_pickles_checks_lengths_against_the_tubes(tmp_path, capsys):
    """ASL pickles store no lengths: a folder shorter than its last annotated frame is reported."""
    root = make_ucf_root(tmp_path / "UCF")
    for f in (9, 10, 11):
        (root / f"rgb-images/Biking/v_Biking_g01_c01/{f:05d}.jpg").unlink()
    files = [str(root / "training_annots.pkl"), str(root / "testing_annots.pkl")]
    assert main(_check(root, "--dataset", "ucf101_24", "--annotations", *files)) == 1
    out = capsys.readouterr().out
    assert "the folder holds 8 frames, but" in out and "up to frame 10 (0-based)" in out
    assert "stores no video lengths" in out


def test_data_check_of_jhmdb_notes_short_masks_and_reports_missing_ones(tmp_path, capsys):
    """J-HMDB from the release: a mask shorter than its video is a note (the loader handles
    it), a missing mask file a problem naming it."""
    root = make_jhmdb_root(tmp_path / "J")
    (root / "Frames").rename(root / "Rename_Images")  # the release's folder name
    assert main(["data", "check", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "1 video has fewer mask slices than frames" in out and "'catch/catch_a'" in out
    (root / "puppet_mask/brush_hair/hair_b/puppet_mask.mat").unlink()
    assert main(["data", "check", "--root", str(root)]) == 1
    assert re.search(r"missing .*hair_b/puppet_mask\.mat", capsys.readouterr().out)


def test_data_check_recognises_an_act_folder(tmp_path, capsys):
    """A folder with only a *-GT.pkl (the synthetic dataset) is checked by the act tool."""
    out = tmp_path / "synth"
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(out),
                "--cfg-options",
                "num_train=2",
                "num_test=1",
                "size=32",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["data", "check", "--root", str(out), "--quick"]) == 0
    assert "act · check" in capsys.readouterr().out


def test_data_check_of_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    """--root that is not a folder exits 2 naming it."""
    assert main(["data", "check", "--root", str(tmp_path / "none")]) == 2
    assert "none: not a folder" in capsys.readouterr().err


def test_data_check_of_an_unrecognised_folder_asks_for_the_dataset(tmp_path, capsys):
    """A folder no tool recognises exits 2 asking for --dataset."""
    assert main(["data", "check", "--root", str(tmp_path)]) == 2
    assert "give --dataset NAME" in capsys.readouterr().err
