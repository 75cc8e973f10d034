"""The synthetic VOS generator (asl_vos.synth): layout, determinism, what the videos contain
(entering, leaving, occluding objects; recognisable categories) and crash-safe writing."""

from __future__ import annotations

import colorsys
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from asl_vos import synth
from asl_vos.pngio import read_mask
from asl_vos.synth import CATEGORIES, SynthVosParams, generate_synthetic_vos, render_video
from PIL import Image

from asl_core import AslUsageError, ConfigError, parse_params

SMALL = SynthVosParams(num_videos=4, min_frames=6, max_frames=8, size=(48, 64), seed=3)


def _digest(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root``."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "data"
    generate_synthetic_vos(root, SMALL)
    return root


def _many(params: SynthVosParams, count: int) -> list[synth.SynthVideo]:
    return [render_video(params, i) for i in range(count)]


# --------------------------------------------------------------------------- layout


def test_writes_the_youtube_vos_train_layout(written: Path) -> None:
    """JPEG frames, PNG masks and meta.json are where YouTube-VOS keeps them."""
    meta = json.loads((written / "train" / "meta.json").read_text())
    assert sorted(meta["videos"]) == [f"synth_{i:04d}" for i in range(4)]
    for vid in meta["videos"]:
        frames = sorted(p.stem for p in (written / "train" / "JPEGImages" / vid).glob("*.jpg"))
        masks = sorted(p.stem for p in (written / "train" / "Annotations" / vid).glob("*.png"))
        assert frames == masks and 6 <= len(frames) <= 8
    assert (written / "README.txt").is_file()


def test_returns_the_meta_file(tmp_path: Path) -> None:
    """generate_synthetic_vos returns root/train/meta.json."""
    params = SynthVosParams(num_videos=1, min_frames=3, max_frames=3, size=(32, 32))
    assert generate_synthetic_vos(tmp_path / "d", params) == tmp_path / "d" / "train" / "meta.json"


def test_masks_are_palette_pngs_and_frames_jpegs(written: Path) -> None:
    """Masks are palette ("P") PNGs and frames JPEGs of the configured size."""
    video = written / "train" / "JPEGImages" / "synth_0000"
    for frame in video.glob("*.jpg"):
        with Image.open(frame) as img:
            assert img.format == "JPEG" and img.size == (64, 48)
        with Image.open(
            written / "train" / "Annotations" / "synth_0000" / f"{frame.stem}.png"
        ) as m:
            assert m.format == "PNG" and m.mode == "P"


def test_frame_names_are_every_fifth_index(written: Path) -> None:
    """Frame names are 5-digit indices 5 apart, starting at a multiple of 5 (not always 0)."""
    starts = []
    for folder in sorted((written / "train" / "JPEGImages").iterdir()):
        names = sorted(p.stem for p in folder.glob("*.jpg"))
        numbers = [int(n) for n in names]
        assert all(len(n) == 5 for n in names)
        assert np.all(np.diff(numbers) == 5) and numbers[0] % 5 == 0
        starts.append(numbers[0])
    assert any(s > 0 for s in starts)


def test_meta_lists_the_frames_where_each_object_is_visible(written: Path) -> None:
    """meta.json's frames of an object are exactly the masks that hold its id, at least two,
    and its category is one of CATEGORIES."""
    meta = json.loads((written / "train" / "meta.json").read_text())
    for vid, entry in meta["videos"].items():
        masks = {
            p.stem: read_mask(p)
            for p in sorted((written / "train" / "Annotations" / vid).iterdir())
        }
        present = set().union(*(set(np.unique(m).tolist()) for m in masks.values())) - {0}
        assert present == {int(k) for k in entry["objects"]}
        for key, obj in entry["objects"].items():
            expected = [n for n, m in masks.items() if (m == int(key)).any()]
            assert obj["frames"] == expected and len(expected) >= 2
            assert obj["category"] in CATEGORIES


# --------------------------------------------------------------------------- determinism


def test_same_parameters_give_the_same_bytes(written: Path, tmp_path: Path) -> None:
    """Drawing the same parameters again writes byte-identical files."""
    generate_synthetic_vos(tmp_path / "again", SMALL)
    assert _digest(tmp_path / "again") == _digest(written)


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    """A different seed draws different videos."""
    a = render_video(SMALL, 0)
    b = render_video(SynthVosParams(num_videos=4, min_frames=6, max_frames=8, size=(48, 64)), 0)
    assert a.images.shape != b.images.shape or not np.array_equal(a.images, b.images)


def test_a_video_does_not_depend_on_the_number_of_videos() -> None:
    """Video i is the same whatever num_videos is."""
    more = SynthVosParams(num_videos=40, min_frames=6, max_frames=8, size=(48, 64), seed=3)
    np.testing.assert_array_equal(render_video(SMALL, 2).images, render_video(more, 2).images)


# --------------------------------------------------------------------------- content


def test_some_objects_enter_after_the_first_frame() -> None:
    """Some objects are first visible after frame 0 (they enter)."""
    firsts = [
        v.frames.index(v.visible_frames(k + 1)[0])
        for v in _many(SMALL, 12)
        for k in range(len(v.categories))
    ]
    assert any(f > 0 for f in firsts)


def test_entering_objects_start_outside_the_frame() -> None:
    """With every object set to enter, objects cover no pixel of frame 0, even amodally
    (except the rare ones redrawn in the frame because they were visible on fewer than two
    frames)."""
    params = SynthVosParams(
        num_videos=6, min_frames=8, max_frames=8, size=(48, 64), enter_fraction=1.0, seed=5
    )
    outside = [
        not video.full_masks[k, 0].any()
        for video in _many(params, 6)
        for k in range(len(video.categories))
    ]
    assert np.mean(outside) >= 0.8


def test_some_objects_leave_before_the_last_frame() -> None:
    """Some objects are last visible before the last frame (they leave)."""
    lasts = [
        v.frames.index(v.visible_frames(k + 1)[-1]) < len(v.frames) - 1
        for v in _many(SMALL, 12)
        for k in range(len(v.categories))
    ]
    assert any(lasts)


def test_objects_occlude_each_other() -> None:
    """Some object's visible area is smaller than its whole extent inside the frame (another
    object hides part of it), and visible pixels always lie within the whole extent."""
    params = SynthVosParams(
        num_videos=4, min_frames=6, max_frames=8, size=(48, 64), min_objects=2, cross_fraction=1.0
    )
    hidden = 0
    for video in _many(params, 4):
        for k in range(len(video.categories)):
            visible = video.masks == k + 1
            assert not (visible & ~video.full_masks[k]).any()
            hidden += int((visible.sum(axis=(1, 2)) < video.full_masks[k].sum(axis=(1, 2))).sum())
    assert hidden > 0


def test_every_object_is_visible_on_two_frames() -> None:
    """Every object of every video is visible on at least two frames, even with short videos
    where all objects enter or leave."""
    params = SynthVosParams(
        num_videos=20,
        min_frames=5,
        max_frames=6,
        size=(32, 48),
        max_objects=4,
        enter_fraction=1.0,
        leave_fraction=1.0,
    )
    for video in _many(params, 20):
        for k in range(len(video.categories)):
            assert len(video.visible_frames(k + 1)) >= 2


def test_categories_have_their_colour_family() -> None:
    """Without lighting drift and noise, an object's mean colour has its category's hue (within
    0.05 of the family hue), so categories differ in appearance."""
    params = SynthVosParams(
        num_videos=8, min_frames=4, max_frames=4, lighting_change=0.0, noise=0.0, seed=1
    )
    for video in _many(params, 8):
        for k, category in enumerate(video.categories):
            pixels = video.images[video.masks == k + 1].astype(float).mean(axis=0) / 255
            hue = colorsys.rgb_to_hsv(*pixels)[0]
            gap = abs(hue - synth._HUE[category])
            assert min(gap, 1 - gap) < 0.05, (category, hue)


# --------------------------------------------------------------------------- writing safely


def test_refuses_a_non_empty_root(tmp_path: Path) -> None:
    """A non-empty root is refused (nothing is overwritten)."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "keep.txt").write_text("mine")
    with pytest.raises(AslUsageError, match="not an empty folder"):
        generate_synthetic_vos(tmp_path / "d", SMALL)
    assert (tmp_path / "d" / "keep.txt").read_text() == "mine"


def test_accepts_an_empty_root(tmp_path: Path) -> None:
    """An existing empty folder is filled."""
    (tmp_path / "d").mkdir()
    params = SynthVosParams(num_videos=1, min_frames=3, max_frames=3, size=(32, 32))
    generate_synthetic_vos(tmp_path / "d", params)
    assert (tmp_path / "d" / "train" / "meta.json").is_file()


def test_a_crash_leaves_no_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error while writing leaves neither the root nor the .partial folder."""
    calls = []

    def failing(*args: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args)

    real = synth._write_video
    monkeypatch.setattr(synth, "_write_video", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_synthetic_vos(tmp_path / "d", SMALL)
    assert not (tmp_path / "d").exists()
    assert not (tmp_path / "d.partial").exists()


def test_a_stale_partial_folder_is_replaced(tmp_path: Path) -> None:
    """A .partial folder left by a killed run is removed before writing."""
    (tmp_path / "d.partial" / "train").mkdir(parents=True)
    (tmp_path / "d.partial" / "train" / "junk").write_text("x")
    params = SynthVosParams(num_videos=1, min_frames=3, max_frames=3, size=(32, 32))
    generate_synthetic_vos(tmp_path / "d", params)
    assert not (tmp_path / "d" / "train" / "junk").exists()
    assert not (tmp_path / "d.partial").exists()


def test_progress_advances_once_per_video(tmp_path: Path) -> None:
    """Progress is told the number of videos and advanced once per video."""

    class Count:
        total: int | None = None
        done = 0

        def start(self, total: int | None, description: str = "") -> None:
            self.total = total

        def advance(self, n: int = 1) -> None:
            self.done += n

    params = SynthVosParams(num_videos=3, min_frames=3, max_frames=3, size=(32, 32))
    progress = Count()
    generate_synthetic_vos(tmp_path / "d", params, progress)
    assert progress.total == 3 and progress.done == 3


# --------------------------------------------------------------------------- parameters


def test_defaults_are_the_documented_ones() -> None:
    """The defaults are sized for a 2-core CPU: 60 videos of 12-24 frames at 64x112."""
    p = SynthVosParams()
    assert (p.num_videos, p.min_frames, p.max_frames, p.size) == (60, 12, 24, (64, 112))
    assert (p.max_objects, p.seed, p.frame_step, p.categories) == (3, 0, 5, CATEGORIES)


@pytest.mark.parametrize(
    "config",
    [
        {"size": [50, 64]},
        {"min_frames": 10, "max_frames": 8},
        {"min_objects": 3, "max_objects": 2},
        {"categories": ["disc", "blob"]},
        {"object_size": [0.3, 0.2]},
        {"jpeg_quality": 0},
    ],
)
def test_bad_parameters_are_config_errors(config: dict[str, object]) -> None:
    """Out-of-range or inconsistent parameters are refused through parse_params."""
    with pytest.raises(ConfigError):
        parse_params(SynthVosParams, config)


def test_parameters_parse_from_a_config() -> None:
    """parse_params builds the parameters from config values (lists become tuples)."""
    p = parse_params(SynthVosParams, {"num_videos": 2, "size": [32, 48], "categories": ["ring"]})
    assert (p.num_videos, p.size, p.categories) == (2, (32, 48), ("ring",))
