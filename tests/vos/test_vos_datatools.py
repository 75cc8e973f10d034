"""The dataset tools of asl_vos: youtube_vos stats / check / recognize and synthetic_vos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from asl_vos.datatools import SyntheticVosDataset, YouTubeVosDatasetTool
from asl_vos.errors import VosDataError
from asl_vos.pngio import write_mask
from asl_vos.synth import SynthVosParams, generate_synthetic_vos
from PIL import Image

from asl_core import ConfigError, DataCheckReport, DataProblem
from asl_core.plugins import make_plugin_manager
from tests.vos.test_vos_data import tiny_dataset

SMALL = SynthVosParams(num_videos=3, min_frames=5, max_frames=6, size=(32, 48), seed=2)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dt") / "synth"
    generate_synthetic_vos(root, SMALL)
    return root


@pytest.fixture
def synth_copy(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the small synthetic dataset that the test may break."""
    return Path(shutil.copytree(pristine, tmp_path / "synth"))


def _first(root: Path, folder: str, vid: str = "synth_0001") -> list[Path]:
    return sorted((root / "train" / folder / vid).iterdir())


# --------------------------------------------------------------------------- recognize


def test_recognizes_a_train_split(pristine: Path) -> None:
    """A root with train/meta.json and train/JPEGImages scores 2."""
    assert YouTubeVosDatasetTool().recognize(pristine) == 2


def test_recognizes_a_valid_split_alone(tmp_path: Path) -> None:
    """A root with only valid/meta.json and valid/JPEGImages scores 2 too."""
    (tmp_path / "valid" / "JPEGImages").mkdir(parents=True)
    (tmp_path / "valid" / "meta.json").write_text('{"videos": {}}')
    assert YouTubeVosDatasetTool().recognize(tmp_path) == 2


def test_does_not_recognize_other_folders(tmp_path: Path) -> None:
    """An empty folder, or one with meta.json but no frames folder, scores 0."""
    assert YouTubeVosDatasetTool().recognize(tmp_path) == 0
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "meta.json").write_text('{"videos": {}}')
    assert YouTubeVosDatasetTool().recognize(tmp_path) == 0


# --------------------------------------------------------------------------- stats


def test_stats_counts_a_hand_made_split(tmp_path: Path) -> None:
    """The tiny dataset has 2 videos, 5 listed frames, 3 objects, 2 categories, 5 mask files."""
    root = tiny_dataset(tmp_path / "tiny")
    doc = YouTubeVosDatasetTool().stats([root / "train" / "meta.json"])
    assert doc["dataset"] == "youtube_vos"
    assert doc["rows"] == [
        {
            "split": "train",
            "file": str(root / "train" / "meta.json"),
            "videos": 2,
            "frames": 5,
            "objects": 3,
            "categories": 2,
            "annotated_frames": 5,
        }
    ]


def test_stats_accepts_split_folders_and_roots(pristine: Path) -> None:
    """A split folder and the dataset root give the same row as the meta file."""
    tool = YouTubeVosDatasetTool()
    by_meta = tool.stats([pristine / "train" / "meta.json"])["rows"]
    assert tool.stats([pristine / "train"])["rows"] == by_meta
    assert tool.stats([pristine])["rows"] == by_meta


def test_stats_adds_a_total_row(pristine: Path, tmp_path: Path) -> None:
    """Two meta files give a row each and a total (categories: distinct over both)."""
    root = tiny_dataset(tmp_path / "tiny")
    doc = YouTubeVosDatasetTool().stats([root / "train" / "meta.json", pristine / "train"])
    first, second, total = doc["rows"]
    assert total["split"] == "total"
    assert total["videos"] == first["videos"] + second["videos"]
    assert total["annotated_frames"] == first["annotated_frames"] + second["annotated_frames"]
    assert total["categories"] == first["categories"] + second["categories"]  # no shared names
    assert list(total) == list(first)


def test_stats_of_a_malformed_meta_names_it(tmp_path: Path) -> None:
    """A meta file that is not JSON raises naming it."""
    (tmp_path / "meta.json").write_text("nope")
    with pytest.raises(VosDataError, match=r"meta\.json: not valid JSON"):
        YouTubeVosDatasetTool().stats([tmp_path / "meta.json"])


def test_stats_of_a_folder_without_meta_is_a_config_error(tmp_path: Path) -> None:
    """A folder holding no meta file is a ConfigError naming it."""
    with pytest.raises(ConfigError, match=r"holds no meta\.json"):
        YouTubeVosDatasetTool().stats([tmp_path])


# --------------------------------------------------------------------------- check


def test_check_finds_nothing_wrong_with_synthetic_data(pristine: Path) -> None:
    """The generated dataset passes the check, every video and listed frame counted."""
    meta = json.loads((pristine / "train" / "meta.json").read_text())["videos"]
    report = YouTubeVosDatasetTool().check(pristine)
    assert isinstance(report, DataCheckReport) and report.ok
    assert report.videos == 3
    assert report.frames == sum(
        len({f for o in v["objects"].values() for f in o["frames"]}) for v in meta.values()
    )
    assert report.annotations == (str(pristine / "train" / "meta.json"),)


def _kinds(report: DataCheckReport) -> list[tuple[str, str]]:
    return [(p.kind, Path(p.path).name) for p in report.problems]


def test_check_reports_a_missing_listed_frame(synth_copy: Path) -> None:
    """Deleting a listed frame's JPEG is a 'missing' problem at that file."""
    meta = json.loads((synth_copy / "train" / "meta.json").read_text())
    name = meta["videos"]["synth_0001"]["objects"]["1"]["frames"][0]
    (synth_copy / "train" / "JPEGImages" / "synth_0001" / f"{name}.jpg").unlink()
    report = YouTubeVosDatasetTool().check(synth_copy)
    assert ("missing", f"{name}.jpg") in _kinds(report)
    assert all(p.video == "synth_0001" for p in report.problems)


def test_check_reports_a_missing_train_mask(synth_copy: Path) -> None:
    """In train, a frame without a PNG is a 'missing' problem at the PNG."""
    last = _first(synth_copy, "Annotations")[-1]
    last.unlink()
    assert ("missing", last.name) in _kinds(YouTubeVosDatasetTool().check(synth_copy))


def test_check_reports_an_unreadable_mask(synth_copy: Path) -> None:
    """A PNG that does not decode is 'unreadable'."""
    path = _first(synth_copy, "Annotations")[2]
    path.write_bytes(b"\x89PNG garbage")
    assert ("unreadable", path.name) in _kinds(YouTubeVosDatasetTool().check(synth_copy))


def test_check_reports_a_mask_of_another_size(synth_copy: Path) -> None:
    """A mask of another size than its frame is 'inconsistent', with both sizes."""
    path = _first(synth_copy, "Annotations")[1]
    write_mask(path, np.zeros((16, 48), np.uint8))
    report = YouTubeVosDatasetTool().check(synth_copy)
    [problem] = report.problems
    assert (problem.kind, Path(problem.path).name) == ("inconsistent", path.name)
    assert "48x16" in problem.message and "48x32" in problem.message


def test_check_reports_ids_not_in_meta(synth_copy: Path) -> None:
    """A mask holding an id meta.json does not list is 'inconsistent' naming the id."""
    path = _first(synth_copy, "Annotations")[0]
    ids = np.zeros((32, 48), np.uint8)
    ids[0, 0] = 9
    write_mask(path, ids)
    problems = YouTubeVosDatasetTool().check(synth_copy).problems
    assert any(p.kind == "inconsistent" and "[9]" in p.message for p in problems)


def test_check_reports_a_colour_mask(synth_copy: Path) -> None:
    """An RGB mask is 'inconsistent' (not a palette mask)."""
    path = _first(synth_copy, "Annotations")[0]
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(path)
    problems = YouTubeVosDatasetTool().check(synth_copy).problems
    assert any(p.kind == "inconsistent" and "RGB" in p.message for p in problems)


def test_check_reports_a_missing_video_folder(synth_copy: Path) -> None:
    """A video of meta.json without a frame folder is 'missing'."""
    shutil.rmtree(synth_copy / "train" / "JPEGImages" / "synth_0002")
    assert ("missing", "synth_0002") in _kinds(YouTubeVosDatasetTool().check(synth_copy))


def test_check_notes_a_folder_not_in_meta(synth_copy: Path) -> None:
    """A frame folder meta.json does not list is a note, not a problem."""
    (synth_copy / "train" / "JPEGImages" / "stray").mkdir()
    report = YouTubeVosDatasetTool().check(synth_copy)
    assert report.ok and any("'stray'" in n for n in report.notes)


def test_quick_check_decodes_only_the_first_files(synth_copy: Path) -> None:
    """quick skips decoding all but the first mask: a broken later mask goes unnoticed, a
    missing one does not."""
    masks = _first(synth_copy, "Annotations")
    masks[3].write_bytes(b"garbage")
    masks[4].unlink()
    report = YouTubeVosDatasetTool().check(synth_copy, quick=True)
    assert _kinds(report) == [("missing", masks[4].name)]


def test_check_calls_on_problem_for_each_problem(synth_copy: Path) -> None:
    """on_problem receives every problem of the report, in order."""
    shutil.rmtree(synth_copy / "train" / "JPEGImages" / "synth_0002")
    _first(synth_copy, "Annotations")[0].write_bytes(b"garbage")
    seen: list[DataProblem] = []
    report = YouTubeVosDatasetTool().check(synth_copy, on_problem=seen.append)
    assert len(seen) == 2 and tuple(seen) == report.problems


def test_check_does_not_require_masks_on_every_valid_frame(pristine: Path, tmp_path: Path) -> None:
    """In a valid split, frames without a PNG are not problems."""
    shutil.copytree(pristine / "train", tmp_path / "d" / "valid")
    for folder in (tmp_path / "d" / "valid" / "Annotations").iterdir():
        for png in sorted(folder.iterdir())[1:]:
            png.unlink()
    report = YouTubeVosDatasetTool().check(tmp_path / "d")
    assert report.ok, report.problems


def test_check_refuses_a_root_without_splits(tmp_path: Path) -> None:
    """A root without train/ or valid/ is a ConfigError."""
    with pytest.raises(ConfigError, match="no split folder"):
        YouTubeVosDatasetTool().check(tmp_path)


def test_check_takes_explicit_meta_files(pristine: Path) -> None:
    """annotations= replaces the splits found in root."""
    meta = pristine / "train" / "meta.json"
    report = YouTubeVosDatasetTool().check(pristine, annotations=[meta])
    assert report.ok and report.annotations == (str(meta),)


# --------------------------------------------------------------------------- synthetic_vos


def test_synthetic_tool_writes_a_dataset_that_checks(tmp_path: Path) -> None:
    """synthetic_vos synthesizes into a new folder, returns its meta file, and checks clean."""
    tool = SyntheticVosDataset(
        SynthVosParams(num_videos=2, min_frames=3, max_frames=4, size=(32, 32))
    )
    meta = tool.synthesize(tmp_path / "d", None)
    assert meta == tmp_path / "d" / "train" / "meta.json"
    assert tool.check(tmp_path / "d").ok
    assert tool.stats([meta])["rows"][0]["videos"] == 2


def test_tools_are_registered_and_build_from_config() -> None:
    """Both tools build through the plugin manager; unknown keys are ConfigErrors."""
    manager = make_plugin_manager(strict=True, environ={})
    synth_tool = manager.build("dataset", "synthetic_vos", {"num_videos": 2, "size": [32, 48]})
    assert synth_tool.params.size == (32, 48)
    yv = manager.build("dataset", "youtube_vos", {"images_dir": "JPEGImages_480p"})
    assert yv.params.images_dir == "JPEGImages_480p"
    with pytest.raises(ConfigError):
        manager.build("dataset", "youtube_vos", {"image_dir": "x"})
