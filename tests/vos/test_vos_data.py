"""The YouTube-VOS loader (asl_vos.data): layout, resizing, valid and all-frames layouts, cache,
the held-out split, and every kind of bad input."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asl_vos.data import VosObject, VosVideo, YouTubeVos, holdout_split, read_meta
from asl_vos.errors import VosDataError
from asl_vos.pngio import read_mask, write_mask
from asl_vos.synth import SynthVosParams, generate_synthetic_vos
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from asl_core import ConfigError

SMALL = SynthVosParams(num_videos=4, min_frames=6, max_frames=8, size=(48, 64), seed=3)


# --------------------------------------------------------------------------- helpers


def write_video(
    split_dir: Path,
    vid: str,
    images: dict[str, np.ndarray],
    masks: dict[str, np.ndarray],
    ext: str = ".png",
) -> None:
    """Write frames (``.png`` by default: lossless, so tests can compare pixels) and masks."""
    (split_dir / "JPEGImages" / vid).mkdir(parents=True, exist_ok=True)
    (split_dir / "Annotations" / vid).mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        Image.fromarray(image).save(split_dir / "JPEGImages" / vid / f"{name}{ext}")
    for name, ids in masks.items():
        write_mask(split_dir / "Annotations" / vid / f"{name}.png", ids)


def write_meta(split_dir: Path, videos: dict[str, dict[int, tuple[str | None, list[str]]]]) -> Path:
    """``meta.json`` from ``{video: {object id: (category, frames)}}``."""
    doc: dict[str, Any] = {"videos": {}}
    for vid, objects in videos.items():
        entry = {}
        for oid, (category, frames) in objects.items():
            entry[str(oid)] = {"frames": frames} | ({"category": category} if category else {})
        doc["videos"][vid] = {"objects": entry}
    path = split_dir / "meta.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def tiny_dataset(root: Path) -> Path:
    """Two hand-made train videos of 4x6 pixels.

    ``vid_a``: frames 00010, 00015, 00020; object 1 (cat) left half of every frame, object 2
    (dog) bottom-right pixel from 00015 on. ``vid_b``: frames 00000, 00005; object 3 (dog) top
    row of both.
    """
    split = root / "train"
    rng = np.random.default_rng(0)
    a_masks = {}
    for name in ("00010", "00015", "00020"):
        ids = np.zeros((4, 6), np.uint8)
        ids[:, :3] = 1
        if name != "00010":
            ids[3, 5] = 2
        a_masks[name] = ids
    a_images = {n: rng.integers(0, 256, (4, 6, 3), dtype=np.uint8) for n in a_masks}
    write_video(split, "vid_a", a_images, a_masks)
    b_masks = {}
    for name in ("00000", "00005"):
        ids = np.zeros((4, 6), np.uint8)
        ids[0] = 3
        b_masks[name] = ids
    b_images = {n: rng.integers(0, 256, (4, 6, 3), dtype=np.uint8) for n in b_masks}
    write_video(split, "vid_b", b_images, b_masks)
    write_meta(
        split,
        {
            "vid_a": {1: ("cat", ["00010", "00015", "00020"]), 2: ("dog", ["00015", "00020"])},
            "vid_b": {3: ("dog", ["00000", "00005"])},
        },
    )
    return root


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic dataset (4 videos of 6-8 frames, 48x64), shared read-only."""
    root = tmp_path_factory.mktemp("vos") / "synth"
    generate_synthetic_vos(root, SMALL)
    return root


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A fresh hand-made dataset the test may break."""
    return tiny_dataset(tmp_path / "tiny")


def _meta(root: Path, split: str = "train") -> dict[str, Any]:
    return json.loads((root / split / "meta.json").read_text())


# --------------------------------------------------------------------------- reading


def test_videos_and_objects_follow_meta(synth_root: Path) -> None:
    """Videos are meta.json's, sorted by id, with its objects, ids and categories."""
    ds = YouTubeVos(synth_root)
    meta = _meta(synth_root)["videos"]
    assert [v.id for v in ds.videos] == sorted(meta)
    for video in ds.videos:
        objects = meta[video.id]["objects"]
        assert video.object_ids == tuple(sorted(int(k) for k in objects))
        for obj in video.objects:
            assert obj.category == objects[str(obj.id)]["category"]
            assert obj.frames == tuple(objects[str(obj.id)]["frames"])
    cats = {o["category"] for v in meta.values() for o in v["objects"].values()}
    assert ds.categories == tuple(sorted(cats))


def test_frames_and_masks_have_the_documented_shapes(synth_root: Path) -> None:
    """read_frames is uint8[F, H, W, 3] and read_masks uint8[F, H, W] with ids of the video."""
    ds = YouTubeVos(synth_root)
    for video in ds.videos:
        frames, masks = ds.read_frames(video.id), ds.read_masks(video.id)
        assert frames.shape == (len(video.frames), 48, 64, 3) and frames.dtype == np.uint8
        assert masks.shape == (len(video.frames), 48, 64) and masks.dtype == np.uint8
        assert set(np.unique(masks).tolist()) <= {0, *video.object_ids}
        assert (video.height, video.width) == (48, 64)


def test_masks_are_the_png_ids(synth_root: Path) -> None:
    """Without resizing, read_masks returns exactly the PNGs' pixel values."""
    ds = YouTubeVos(synth_root)
    video = ds.videos[0]
    masks = ds.read_masks(video.id)
    for i, name in enumerate(video.frames):
        expected = read_mask(synth_root / "train" / "Annotations" / video.id / f"{name}.png")
        np.testing.assert_array_equal(masks[i], expected)


def test_frame_names_need_not_start_at_zero(tiny: Path) -> None:
    """Frames are the files' names in numeric order, here 00010, 00015, 00020."""
    ds = YouTubeVos(tiny)
    assert ds.video("vid_a").frames == ("00010", "00015", "00020")
    assert ds.video("vid_b").frames == ("00000", "00005")


def test_first_frame_is_the_first_listed_frame(tiny: Path) -> None:
    """first_frame gives the index in frames of the object's first annotated frame."""
    video = YouTubeVos(tiny).video("vid_a")
    assert video.first_frame(1) == 0
    assert video.first_frame(2) == 1


def test_first_frame_matches_the_masks_of_the_synthetic_data(synth_root: Path) -> None:
    """On the synthetic data (frames listed = visible) the first frame is where the id first
    appears in the masks."""
    ds = YouTubeVos(synth_root)
    for video in ds.videos:
        masks = ds.read_masks(video.id)
        for oid in video.object_ids:
            assert video.first_frame(oid) == int(np.argmax((masks == oid).any(axis=(1, 2))))


def test_read_frames_returns_the_pixels(tiny: Path) -> None:
    """Lossless frames come back unchanged, in frame order."""
    ds = YouTubeVos(tiny)
    frames = ds.read_frames("vid_a")
    expected = np.asarray(Image.open(tiny / "train" / "JPEGImages" / "vid_a" / "00015.png"))
    np.testing.assert_array_equal(frames[1], expected)


def test_resize_doubles_masks_by_nearest(tiny: Path) -> None:
    """Resizing 4x6 masks to 8x12 repeats every id in a 2x2 block (nearest, no new ids)."""
    ds = YouTubeVos(tiny, size=(8, 12))
    masks = ds.read_masks("vid_a")
    original = read_mask(tiny / "train" / "Annotations" / "vid_a" / "00015.png")
    np.testing.assert_array_equal(masks[1], np.kron(original, np.ones((2, 2), np.uint8)))
    assert ds.read_frames("vid_a").shape == (3, 8, 12, 3)
    assert (ds.video("vid_a").height, ds.video("vid_a").width) == (8, 12)


def test_resize_keeps_a_flat_frame_flat(tmp_path: Path) -> None:
    """A constant frame stays the same constant after the bicubic resize."""
    split = tmp_path / "d" / "train"
    image = np.full((16, 16, 3), (10, 120, 250), np.uint8)
    write_video(split, "v", {"00000": image}, {"00000": np.ones((16, 16), np.uint8)})
    write_meta(split, {"v": {1: ("x", ["00000"])}})
    frames = YouTubeVos(tmp_path / "d", size=(7, 5)).read_frames("v")
    assert frames.shape == (1, 7, 5, 3)
    assert (frames == np.array([10, 120, 250], np.uint8)).all()


def test_train_split_has_full_annotations(synth_root: Path) -> None:
    """Every frame of the synthetic train split has a mask."""
    ds = YouTubeVos(synth_root)
    assert ds.full_annotations()
    assert all(ds.has_mask(v.id).all() for v in ds.videos)


def test_unlisted_frame_without_mask_is_skipped(
    tiny: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In train, a frame image without a PNG that meta.json does not list is skipped with a
    warning, and the split no longer has full annotations."""
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(
        tiny / "train" / "JPEGImages" / "vid_b" / "00010.png"
    )
    with caplog.at_level(logging.WARNING, logger="asl_vos.data"):
        ds = YouTubeVos(tiny)
    assert ds.video("vid_b").frames == ("00000", "00005")
    assert not ds.full_annotations()
    assert "have no mask and are skipped" in caplog.text


def test_videos_restricts_the_split(synth_root: Path) -> None:
    """videos= keeps only the named videos."""
    ds = YouTubeVos(synth_root, videos=["synth_0002"])
    assert [v.id for v in ds.videos] == ["synth_0002"]


def test_returned_arrays_are_read_only(tiny: Path) -> None:
    """Frames and masks come back read-only (the cache shares them)."""
    ds = YouTubeVos(tiny)
    assert not ds.read_frames("vid_a").flags.writeable
    assert not ds.read_masks("vid_a").flags.writeable


def test_cache_returns_the_same_arrays(tiny: Path) -> None:
    """A second read of a cached video returns the cached array itself."""
    ds = YouTubeVos(tiny, cache_videos=2)
    assert ds.read_frames("vid_a") is ds.read_frames("vid_a")


def test_cache_evicts_the_least_recently_used_video(tiny: Path) -> None:
    """With room for one video, reading another evicts the first."""
    ds = YouTubeVos(tiny, cache_videos=1)
    first = ds.read_frames("vid_a")
    ds.read_frames("vid_b")
    again = ds.read_frames("vid_a")
    assert again is not first
    np.testing.assert_array_equal(again, first)


def test_cache_respects_the_byte_cap(tiny: Path) -> None:
    """An array larger than cache_bytes is never kept."""
    ds = YouTubeVos(tiny, cache_bytes=10)
    assert ds.read_frames("vid_a") is not ds.read_frames("vid_a")


# --------------------------------------------------------------------------- valid and all frames


def _valid_from_train(train_root: Path, out: Path) -> Path:
    """A valid split made from the synthetic train split: all frames, masks only on frames
    where some object first appears (holding only the objects starting there), meta frames
    from each object's first frame to the end of the video."""
    src, dst = train_root / "train", out / "valid"
    shutil.copytree(src / "JPEGImages", dst / "JPEGImages")
    meta = json.loads((src / "meta.json").read_text())
    for vid, entry in meta["videos"].items():
        frames = sorted(p.stem for p in (src / "JPEGImages" / vid).glob("*.jpg"))
        starts: dict[str, list[int]] = {}
        for key, obj in entry["objects"].items():
            starts.setdefault(obj["frames"][0], []).append(int(key))
            obj["frames"] = frames[frames.index(obj["frames"][0]) :]
            del obj["category"]  # valid releases may omit it
        (dst / "Annotations" / vid).mkdir(parents=True)
        for name, ids in starts.items():
            full = read_mask(src / "Annotations" / vid / f"{name}.png")
            write_mask(
                dst / "Annotations" / vid / f"{name}.png", np.where(np.isin(full, ids), full, 0)
            )
    (dst / "meta.json").write_text(json.dumps(meta))
    return out


def test_valid_layout_has_first_frame_masks_only(synth_root: Path, tmp_path: Path) -> None:
    """In a valid split full_annotations is False, has_mask marks the first frames, other
    frames' masks are 0 and categories may be absent."""
    root = _valid_from_train(synth_root, tmp_path / "yv")
    ds = YouTubeVos(root, "valid", require_masks=False)
    assert not ds.full_annotations()
    for video in ds.videos:
        starts = {video.first_frame(o.id) for o in video.objects}
        has = ds.has_mask(video.id)
        assert set(np.flatnonzero(has).tolist()) == starts
        masks = ds.read_masks(video.id)
        assert not masks[~has].any()
        for obj in video.objects:
            assert obj.category is None
            assert (masks[video.first_frame(obj.id)] == obj.id).any()


def test_valid_layout_needs_require_masks_false(synth_root: Path, tmp_path: Path) -> None:
    """Reading a valid split as train (masks required) names a missing PNG."""
    root = _valid_from_train(synth_root, tmp_path / "yv")
    with pytest.raises(VosDataError, match=r"Annotations/synth_\d+/\d+\.png.*require_masks"):
        YouTubeVos(root, "valid")


def _all_frames_from(train_root: Path, out: Path) -> Path:
    """A copy of the synthetic train split plus an all-frames folder holding every index
    between the first and last sampled frame (copies of the previous sampled frame)."""
    shutil.copytree(train_root / "train", out / "train")
    for folder in sorted((out / "train" / "JPEGImages").iterdir()):
        dest = out / "all_frames" / "train_all_frames" / "JPEGImages" / folder.name
        dest.mkdir(parents=True)
        sampled = sorted(folder.glob("*.jpg"))
        first, last = int(sampled[0].stem), int(sampled[-1].stem)
        for index in range(first, last + 1):
            source = folder / f"{index - (index - first) % 5:05d}.jpg"
            shutil.copyfile(source, dest / f"{index:05d}.jpg")
    return out


def test_all_frames_layout_reads_every_frame(synth_root: Path, tmp_path: Path) -> None:
    """With all_frames_dir, frames stay the sampled ones, all_frames lists every frame, and
    read_frames(all_frames=True) returns them all."""
    root = _all_frames_from(synth_root, tmp_path / "yv")
    plain = YouTubeVos(synth_root)
    ds = YouTubeVos(root, all_frames_dir="all_frames/train_all_frames/JPEGImages")
    for video in ds.videos:
        assert video.frames == plain.video(video.id).frames
        first, last = int(video.frames[0]), int(video.frames[-1])
        assert video.all_frames == tuple(f"{i:05d}" for i in range(first, last + 1))
        every = ds.read_frames(video.id, all_frames=True)
        assert every.shape == (len(video.all_frames), 48, 64, 3)
        sampled = ds.read_frames(video.id)
        np.testing.assert_array_equal(sampled, plain.read_frames(video.id))
        np.testing.assert_array_equal(every[1:5], np.repeat(sampled[:1], 4, axis=0))
    assert ds.full_annotations()


def test_all_frames_needs_the_folder(synth_root: Path) -> None:
    """read_frames(all_frames=True) without an all-frames folder is a usage error."""
    ds = YouTubeVos(synth_root)
    with pytest.raises(ValueError, match="all_frames_dir"):
        ds.read_frames(ds.videos[0].id, all_frames=True)


# --------------------------------------------------------------------------- bad input


def test_missing_root_is_named(tmp_path: Path) -> None:
    """A missing root raises naming it."""
    with pytest.raises(VosDataError, match="nowhere: dataset root not found"):
        YouTubeVos(tmp_path / "nowhere")


def test_missing_split_is_named(tiny: Path) -> None:
    """A missing split folder raises naming it."""
    with pytest.raises(VosDataError, match=r"valid: split folder 'valid' not found"):
        YouTubeVos(tiny, "valid")


def test_missing_meta_is_named(tiny: Path) -> None:
    """A split without meta.json raises naming the file."""
    (tiny / "train" / "meta.json").unlink()
    with pytest.raises(VosDataError, match=r"train/meta\.json: meta file not found"):
        YouTubeVos(tiny)


def test_meta_that_is_not_json_is_named(tiny: Path) -> None:
    """A meta.json that is not JSON raises naming it."""
    (tiny / "train" / "meta.json").write_text("{videos: nope")
    with pytest.raises(VosDataError, match=r"meta\.json: not valid JSON"):
        YouTubeVos(tiny)


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([], "top level"),
        ({"videos": []}, "top level"),
        ({"videos": {"v": {"objects": []}}}, "'v': expected an object"),
        ({"videos": {"v": {"objects": {"x": {"frames": []}}}}}, "object id 'x'"),
        ({"videos": {"v": {"objects": {"0": {"frames": []}}}}}, "object id '0'"),
        ({"videos": {"v": {"objects": {"1": {"frames": "00000"}}}}}, "frames must be a list"),
        ({"videos": {"v": {"objects": {"1": {"frames": [], "category": 3}}}}}, "category"),
        # names become paths under JPEGImages/ and Annotations/: none may leave the dataset
        ({"videos": {"..": {"objects": {}}}}, "'..': not a folder name"),
        ({"videos": {"a\\b": {"objects": {}}}}, "not a folder name"),
        ({"videos": {"v": {"objects": {"1": {"frames": [".."]}}}}}, "frames must be a list"),
        ({"videos": {"v": {"objects": {"1": {"frames": ["a\\b"]}}}}}, "frames must be a list"),
    ],
)
def test_meta_of_the_wrong_schema_is_named(tmp_path: Path, doc: Any, problem: str) -> None:
    """A meta.json of the wrong schema raises naming the file and the entry."""
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(VosDataError, match=r"meta\.json.*" + problem):
        read_meta(path)


def test_mask_ids_not_in_meta_are_named(tiny: Path) -> None:
    """A PNG holding an id meta.json does not list raises, naming the PNG and the id."""
    ids = np.zeros((4, 6), np.uint8)
    ids[1, 1] = 7
    write_mask(tiny / "train" / "Annotations" / "vid_b" / "00005.png", ids)
    ds = YouTubeVos(tiny)
    with pytest.raises(VosDataError, match=r"vid_b/00005\.png: mask holds object ids \[7\]"):
        ds.read_masks("vid_b")


def test_listed_frame_without_image_is_named(tiny: Path) -> None:
    """A frame meta.json lists without an image file raises naming the expected file."""
    (tiny / "train" / "JPEGImages" / "vid_a" / "00015.png").unlink()
    with pytest.raises(VosDataError, match=r"vid_a/00015\.jpg: frame 00015 .* no image file"):
        YouTubeVos(tiny)


def test_listed_frame_without_mask_is_named(tiny: Path) -> None:
    """In train, a listed frame without a PNG raises naming the PNG."""
    (tiny / "train" / "Annotations" / "vid_a" / "00020.png").unlink()
    with pytest.raises(VosDataError, match=r"Annotations/vid_a/00020\.png: .* has no mask"):
        YouTubeVos(tiny)


def test_mask_of_another_size_names_both_files(tiny: Path) -> None:
    """A mask whose size differs from its frame's names both files and both sizes."""
    write_mask(tiny / "train" / "Annotations" / "vid_b" / "00000.png", np.zeros((5, 6), np.uint8))
    ds = YouTubeVos(tiny)
    with pytest.raises(
        VosDataError,
        match=r"vid_b/00000\.png: mask is 6x5 \(WxH\) but its frame .*vid_b/00000\.png is 6x4",
    ):
        ds.read_masks("vid_b")


def test_frames_of_different_sizes_are_named(tiny: Path) -> None:
    """Without size=, a frame of another size than the video's first raises naming both."""
    Image.fromarray(np.zeros((5, 6, 3), np.uint8)).save(
        tiny / "train" / "JPEGImages" / "vid_a" / "00020.png"
    )
    ds = YouTubeVos(tiny)
    with pytest.raises(VosDataError, match=r"vid_a/00020\.png: frame is 6x5 .*vid_a/00010\.png"):
        ds.read_frames("vid_a")


def test_object_never_annotated_is_named(tiny: Path) -> None:
    """An object with no listed frame that no PNG holds raises naming meta.json."""
    meta = _meta(tiny)
    meta["videos"]["vid_b"]["objects"]["4"] = {"category": "cat", "frames": []}
    (tiny / "train" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(
        VosDataError, match=r"meta\.json: object 4 of video 'vid_b' has no annotated"
    ):
        YouTubeVos(tiny)


def test_object_without_listed_frames_gets_the_mask_frames(tiny: Path) -> None:
    """An object meta.json lists no frame for gets the frames whose PNG holds it."""
    meta = _meta(tiny)
    meta["videos"]["vid_a"]["objects"]["2"]["frames"] = []
    (tiny / "train" / "meta.json").write_text(json.dumps(meta))
    video = YouTubeVos(tiny).video("vid_a")
    assert video.object(2).frames == ("00015", "00020")
    assert video.first_frame(2) == 1


def test_rgb_mask_is_named(tiny: Path) -> None:
    """A colour (RGB) mask raises naming the file and its mode."""
    path = tiny / "train" / "Annotations" / "vid_b" / "00005.png"
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(path)
    ds = YouTubeVos(tiny)
    with pytest.raises(VosDataError, match=r"vid_b/00005\.png: a RGB image is not an object-id"):
        ds.read_masks("vid_b")


def test_unreadable_frame_is_named(tiny: Path) -> None:
    """A frame file that does not decode raises naming it."""
    (tiny / "train" / "JPEGImages" / "vid_b" / "00005.png").write_bytes(b"not an image")
    ds = YouTubeVos(tiny, size=(4, 6))
    with pytest.raises(VosDataError, match=r"vid_b/00005\.png: unreadable frame image"):
        ds.read_frames("vid_b")


def test_empty_video_is_named(tiny: Path) -> None:
    """A video folder without frames raises naming it."""
    meta = _meta(tiny)
    meta["videos"]["vid_c"] = {"objects": {"1": {"category": "cat", "frames": []}}}
    (tiny / "train" / "meta.json").write_text(json.dumps(meta))
    (tiny / "train" / "JPEGImages" / "vid_c").mkdir()
    (tiny / "train" / "Annotations" / "vid_c").mkdir()
    with pytest.raises(VosDataError, match=r"JPEGImages/vid_c: video 'vid_c' has no frames"):
        YouTubeVos(tiny)


def test_meta_video_without_folder_is_named(tiny: Path) -> None:
    """A video of meta.json without a frame folder raises naming the folder."""
    shutil.rmtree(tiny / "train" / "JPEGImages" / "vid_b")
    with pytest.raises(VosDataError, match=r"JPEGImages/vid_b: frame folder of video 'vid_b'"):
        YouTubeVos(tiny)


def test_folder_not_in_meta_is_skipped_with_a_warning(
    tiny: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A video folder meta.json does not list is skipped and logged."""
    (tiny / "train" / "JPEGImages" / "stray").mkdir()
    with caplog.at_level(logging.WARNING, logger="asl_vos.data"):
        ds = YouTubeVos(tiny)
    assert [v.id for v in ds.videos] == ["vid_a", "vid_b"]
    assert "not in" in caplog.text and "'stray'" in caplog.text


def test_unknown_restricted_video_is_named(tiny: Path) -> None:
    """videos= with an id meta.json lacks raises naming meta.json and the id."""
    with pytest.raises(VosDataError, match=r"meta\.json: unknown video ids \['vid_z'\]"):
        YouTubeVos(tiny, videos=["vid_a", "vid_z"])


# --------------------------------------------------------------------------- held-out split


def _video(vid: str, *categories: str | None) -> VosVideo:
    objects = [VosObject(i + 1, c, ("00000",)) for i, c in enumerate(categories)]
    return VosVideo(vid, ("00000",), 4, 4, objects)


def _videos() -> list[VosVideo]:
    return [
        _video("a", "X"),
        _video("b", "Y"),
        _video("c", "Y"),
        _video("d", "Z", None),
        _video("e", "Z"),
        _video("f", "X", "Y"),
    ]


def test_holdout_puts_every_unseen_video_in_val() -> None:
    """With unseen X, the videos holding an X object (a, f) are val, the rest train."""
    split = holdout_split(
        _videos(), val_videos=2, unseen_categories=["X"], rng=np.random.default_rng(0)
    )
    assert split.val == ("a", "f")
    assert split.train == ("b", "c", "d", "e")
    assert split.unseen == frozenset({"X"})


def test_holdout_fills_val_without_emptying_a_seen_category() -> None:
    """Filling val to 4 takes one Y and one Z video, never both of a category, for any seed."""
    for seed in range(20):
        split = holdout_split(
            _videos(), val_videos=4, unseen_categories=["X"], rng=np.random.default_rng(seed)
        )
        assert len(split.val) == 4 and {"a", "f"} <= set(split.val)
        assert len({"b", "c"} & set(split.train)) == 1
        assert len({"d", "e"} & set(split.train)) == 1


def test_holdout_is_deterministic() -> None:
    """The same rng state gives the same split; the count of unseen categories is honoured."""
    runs = [
        holdout_split(_videos(), val_videos=3, unseen_categories=1, rng=np.random.default_rng(7))
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert len(runs[0].unseen) == 1


def test_holdout_marks_unseen_objects() -> None:
    """An object is unseen iff its category is unseen; no category makes it unseen."""
    split = holdout_split(
        _videos(), val_videos=2, unseen_categories=["X"], rng=np.random.default_rng(0)
    )
    assert split.is_unseen(VosObject(1, "X", ()))
    assert not split.is_unseen(VosObject(1, "Y", ()))
    assert not split.is_unseen(VosObject(1, None, ()))


def test_holdout_makes_a_category_only_beside_unseen_ones_unseen() -> None:
    """A category whose only video also holds an unseen one has no train video: it is unseen."""
    videos = [_video("a", "A"), _video("b", "B", "C")]
    split = holdout_split(
        videos, val_videos=0, unseen_categories=["C"], rng=np.random.default_rng(0)
    )
    assert split.val == ("b",)
    assert split.unseen == frozenset({"B", "C"})


def test_holdout_refuses_unknown_categories() -> None:
    """An unseen category no video holds is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="'Q'"):
        holdout_split(
            _videos(), val_videos=2, unseen_categories=["Q"], rng=np.random.default_rng(0)
        )


def test_holdout_refuses_an_empty_train_part() -> None:
    """Holding out every category leaves no train video: a ConfigError."""
    with pytest.raises(ConfigError, match="no train video"):
        holdout_split(_videos(), val_videos=1, unseen_categories=3, rng=np.random.default_rng(0))


def test_holdout_keeps_all_unseen_videos_beyond_val_videos(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """More unseen videos than val_videos: all go to val, with a warning."""
    with caplog.at_level(logging.WARNING, logger="asl_vos.data"):
        split = holdout_split(
            _videos(), val_videos=1, unseen_categories=["Y"], rng=np.random.default_rng(0)
        )
    assert split.val == ("b", "c", "f")
    assert "more than val_videos=1" in caplog.text


@settings(max_examples=40, deadline=None)
@given(
    cats=st.lists(
        st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=3), min_size=2, max_size=12
    ),
    val_videos=st.integers(0, 12),
    unseen=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_holdout_invariants(cats: list[list[str]], val_videos: int, unseen: int, seed: int) -> None:
    """Train and val partition the videos, no train video holds an unseen category, every
    other category has a train video, and val holds val_videos where it can."""
    videos = [_video(f"v{i:02d}", *c) for i, c in enumerate(cats)]
    categories = {c for cs in cats for c in cs}
    try:
        split = holdout_split(
            videos,
            val_videos=val_videos,
            unseen_categories=min(unseen, len(categories)),
            rng=np.random.default_rng(seed),
        )
    except ConfigError as exc:
        assert "no train video" in str(exc)  # every video holds an unseen category
        return
    assert sorted(split.train + split.val) == sorted(v.id for v in videos)
    by_id = {v.id: v for v in videos}
    train_cats = {o.category for t in split.train for o in by_id[t].objects}
    assert not train_cats & split.unseen
    assert train_cats == categories - split.unseen
    if len(split.val) < val_videos:
        # each video left in train was kept as the last train video of one of its categories
        counts = Counter(c for t in split.train for c in {o.category for o in by_id[t].objects})
        for t in split.train:
            assert any(counts[o.category] == 1 for o in by_id[t].objects)
