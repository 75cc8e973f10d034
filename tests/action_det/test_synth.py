"""Tests of the synthetic action dataset generator (asl_action_det.synth)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import attrs
import numpy as np
import pytest
from asl_action_det.dataset import ActionDataset
from asl_action_det.synth import (
    CLASSES,
    GT_FILE,
    SyntheticActionsDataset,
    SynthParams,
    generate_synthetic_actions,
)
from scipy.io import loadmat

from asl_core import AslUsageError, ConfigError

TINY = SynthParams(
    num_train=6, num_test=2, min_frames=12, max_frames=16, size=32, seed=3, workers=1
)


class CountingProgress:
    """A Progress that records what it was told."""

    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0

    def start(self, total: int | None, description: str = "") -> None:
        self.total = total

    def advance(self, n: int = 1) -> None:
        self.done += n


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_synthetic_actions(tmp_path_factory.mktemp("synth") / "tiny", TINY)


def open_dataset(root: Path) -> ActionDataset:
    return ActionDataset.from_act_layout(root, GT_FILE)


def all_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def part_mask(root: Path, video: str) -> np.ndarray:
    return loadmat(root / "puppet_mask" / video / "puppet_mask.mat")["part_mask"]


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_pickle_frames_and_masks(tmp_path: Path, tiny: Path):
    """Two generations with the same parameters write the same pickle, PNGs and mask arrays."""
    again = generate_synthetic_actions(tmp_path / "again", TINY)
    first, second = all_files(tiny), all_files(again)
    assert first.keys() == second.keys()
    # scipy stamps the creation time into a MAT header, so masks are compared by content
    for name in first:
        if name.endswith(".mat"):
            video = str(Path(name).parent.relative_to("puppet_mask"))
            assert np.array_equal(part_mask(tiny, video), part_mask(again, video)), name
        else:
            assert first[name] == second[name], name


def test_different_seed_gives_different_data(tmp_path: Path, tiny: Path):
    """Changing the seed changes the ground truth."""
    other = generate_synthetic_actions(tmp_path / "other", attrs.evolve(TINY, seed=4))
    assert (other / GT_FILE).read_bytes() != (tiny / GT_FILE).read_bytes()


def test_worker_processes_do_not_change_the_data(tmp_path: Path, tiny: Path):
    """Drawing videos in two worker processes writes the same pickle and frames as one process."""
    parallel = generate_synthetic_actions(tmp_path / "parallel", attrs.evolve(TINY, workers=2))
    first, second = all_files(tiny), all_files(parallel)
    assert first.keys() == second.keys()
    assert all(first[k] == second[k] for k in first if not k.endswith(".mat"))


# --------------------------------------------------------------------------- layout


def test_pickle_has_the_act_layout(tiny: Path):
    """The ground truth is a protocol-2 pickle with exactly ACT's six keys and types."""
    data = (tiny / GT_FILE).read_bytes()
    assert data[:2] == b"\x80\x02"
    gt = pickle.loads(data)  # our own freshly written file, so plain pickle is fine here
    assert set(gt) == {"labels", "gttubes", "nframes", "train_videos", "test_videos", "resolution"}
    assert gt["labels"] == list(CLASSES)
    assert len(gt["train_videos"]) == 1 and len(gt["train_videos"][0]) == TINY.num_train
    assert len(gt["test_videos"]) == 1 and len(gt["test_videos"][0]) == TINY.num_test
    for video, per_label in gt["gttubes"].items():
        assert gt["resolution"][video] == (TINY.size, TINY.size)
        assert TINY.min_frames <= gt["nframes"][video] <= TINY.max_frames
        for label, tubes in per_label.items():
            assert isinstance(label, int) and video.startswith(gt["labels"][label] + "/")
            for tube in tubes:
                assert tube.dtype == np.float32 and tube.ndim == 2 and tube.shape[1] == 5


def test_video_ids_name_their_class(tiny: Path):
    """Video ids are "<class>/<class>_<NNNN>" and every class appears in the training split."""
    ds = open_dataset(tiny)
    train = ds.videos("train")
    for record in train + ds.videos("test"):
        match = re.fullmatch(r"([a-z]+)/\1_(\d{4})", record.id)
        assert match and match.group(1) == ds.labels[record.label]
    assert {r.label for r in train} == set(range(len(CLASSES)))


def test_layout_is_read_by_the_loader(tiny: Path):
    """Every video reads back: PNG count = nframes, masks are H x W x T, tubes fit the video."""
    ds = open_dataset(tiny)
    ds.verify()
    for record in ds.videos("train") + ds.videos("test"):
        pngs = sorted((tiny / "Frames" / record.id).glob("*.png"))
        assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(1, record.num_frames + 1)]
        frames = ds.read_frames(record.id)
        assert frames.shape == (record.num_frames, TINY.size, TINY.size, 3)
        assert frames.dtype == np.uint8
        mask = part_mask(tiny, record.id)
        assert mask.shape == (TINY.size, TINY.size, record.num_frames) and mask.dtype == np.uint8
        assert set(np.unique(mask)) <= {0, 1}
        for tube in record.tubes:
            assert np.array_equal(tube.frames, np.arange(tube.start, tube.end + 1))
            assert tube.start >= 0 and tube.end < record.num_frames
            assert tube.frames.size >= np.ceil(TINY.min_tube_fraction * record.num_frames)
            assert (tube.boxes >= 0).all() and (tube.boxes <= TINY.size - 1).all()
            assert (tube.boxes[:, 2] >= tube.boxes[:, 0]).all()
            assert (tube.boxes[:, 3] >= tube.boxes[:, 1]).all()


def test_actors_are_masked_only_inside_their_boxes(tiny: Path):
    """Every actor pixel lies in a tube's box on that frame; frames outside all tubes are empty."""
    ds = open_dataset(tiny)
    for record in ds.videos("train") + ds.videos("test"):
        mask = ds.gt_mask(record.id)
        boxes = np.zeros_like(mask)
        for tube in record.tubes:
            for f, (x1, y1, x2, y2) in zip(tube.frames, tube.boxes.astype(int), strict=True):
                boxes[f, y1 : y2 + 1, x1 : x2 + 1] = True
        assert not (mask & ~boxes).any(), record.id


def test_boxes_are_the_tight_box_of_an_unoccluded_single_actor(tmp_path: Path):
    """Without occluder or second actor, each box is exactly the extent of the frame's mask."""
    params = attrs.evolve(TINY, occlusion_fraction=0.0, two_actor_fraction=0.0)
    ds = open_dataset(generate_synthetic_actions(tmp_path / "plain", params))
    for record in ds.videos("train"):
        mask = ds.gt_mask(record.id)
        (tube,) = record.tubes
        for f, box in zip(tube.frames, tube.boxes, strict=True):
            rows, cols = np.flatnonzero(mask[f].any(axis=1)), np.flatnonzero(mask[f].any(axis=0))
            assert list(box) == [cols[0], rows[0], cols[-1], rows[-1]]


def test_readme_records_parameters_and_seed(tiny: Path):
    """README.txt says what the dataset is and lists the generator parameters and seed."""
    text = (tiny / "README.txt").read_text()
    assert "synthetic" in text.lower()
    assert f"Seed: {TINY.seed}" in text
    assert "num_train = 6" in text and "size = 32" in text


# --------------------------------------------------------------------------- content


def test_full_two_actor_fraction_gives_two_tubes_per_video(tmp_path: Path):
    """With two_actor_fraction=1 every video has two tubes under its one label."""
    params = attrs.evolve(TINY, two_actor_fraction=1.0)
    ds = open_dataset(generate_synthetic_actions(tmp_path / "two", params))
    for record in ds.videos("train") + ds.videos("test"):
        assert len(record.tubes) == 2
        assert {t.label for t in record.tubes} == {record.label}


def test_zero_two_actor_fraction_gives_one_tube_per_video(tmp_path: Path):
    """With two_actor_fraction=0 every video has exactly one tube."""
    params = attrs.evolve(TINY, two_actor_fraction=0.0)
    ds = open_dataset(generate_synthetic_actions(tmp_path / "one", params))
    assert all(len(r.tubes) == 1 for r in ds.videos("train") + ds.videos("test"))


def test_occluder_hides_mask_pixels_but_keeps_the_boxes(tmp_path: Path):
    """An occluder removes pixels from the visible mask while boxes keep the actor's full extent."""
    plain = attrs.evolve(TINY, occlusion_fraction=0.0)
    occluded = attrs.evolve(TINY, occlusion_fraction=1.0)  # same seed: same actors, plus a bar
    free = open_dataset(generate_synthetic_actions(tmp_path / "free", plain))
    hidden = open_dataset(generate_synthetic_actions(tmp_path / "hidden", occluded))
    for record in free.videos("train") + free.videos("test"):
        other = hidden.video(record.id)
        assert other.tubes == record.tubes
        full, visible = free.gt_mask(record.id), hidden.gt_mask(record.id)
        assert not (visible & ~full).any()
        lost = (full & ~visible).sum(axis=(1, 2))
        assert lost.sum() > 0, record.id


def _nearest_centroid_accuracy(features: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out accuracy of a nearest-centroid classifier on standardised features."""
    x = (features - features.mean(axis=0)) / (features.std(axis=0) + 1e-9)
    hits = 0
    for i in range(len(labels)):
        rest = np.arange(len(labels)) != i
        centroids = np.stack([x[rest & (labels == c)].mean(axis=0) for c in np.unique(labels)])
        hits += int(np.argmin(((centroids - x[i]) ** 2).sum(axis=1)) == labels[i])
    return hits / len(labels)


def test_classes_differ_by_motion_not_by_colour(tmp_path: Path):
    """Actor colour on one frame does not reveal the class, while box motion over time does."""
    params = SynthParams(
        num_train=60, num_test=0, min_frames=16, max_frames=16, size=32, two_actor_fraction=0.0
    )
    ds = open_dataset(generate_synthetic_actions(tmp_path / "motion", params))
    colour, motion, labels = [], [], []
    for record in ds.videos("train"):
        (tube,) = record.tubes
        first = ds.read_frames(record.id, [tube.start])[0]
        colour.append(first[ds.gt_mask(record.id)[tube.start]].mean(axis=0))
        b = tube.boxes.astype(np.float64)
        h, w, cx = b[:, 3] - b[:, 1] + 1, b[:, 2] - b[:, 0] + 1, (b[:, 0] + b[:, 2]) / 2
        scale = np.median(h)
        motion.append(
            [
                abs(cx[-1] - cx[0]) / scale / len(b),  # travel: walk, run
                np.ptp(b[:, 3]) / scale,  # feet leave the ground: jump
                np.std(w) / scale,  # width oscillates: spin, bend
                np.mean(np.abs(np.diff(w))) / scale,
                np.mean(np.abs(np.diff(h))) / scale,
                np.std(h) / scale,
            ]
        )
        labels.append(record.label)
    labels_arr = np.array(labels)
    chance = 1 / len(CLASSES)
    assert _nearest_centroid_accuracy(np.array(colour), labels_arr) < chance + 0.15
    assert _nearest_centroid_accuracy(np.array(motion), labels_arr) > 0.6


# --------------------------------------------------------------------------- parameters, plugin


def test_params_reject_inverted_frame_range():
    """max_frames below min_frames is a ConfigError when built from a config."""
    with pytest.raises(ConfigError, match="max_frames"):
        SyntheticActionsDataset.from_config({"min_frames": 20, "max_frames": 10})


def test_params_reject_unknown_class_and_key():
    """An unknown class name or parameter key is rejected with a ConfigError."""
    with pytest.raises(ConfigError, match="unknown action classes"):
        SyntheticActionsDataset.from_config({"classes": ["walk", "fly"]})
    with pytest.raises(ConfigError, match="did you mean 'num_train'"):
        SyntheticActionsDataset.from_config({"num_trian": 3})


def test_subset_of_classes_sets_the_labels(tmp_path: Path):
    """Choosing classes writes only those, in the given label order."""
    params = attrs.evolve(TINY, classes=("spin", "walk"), num_train=4, num_test=0)
    ds = open_dataset(generate_synthetic_actions(tmp_path / "two_classes", params))
    assert ds.labels == ("spin", "walk")
    assert [r.id.split("/")[0] for r in ds.videos("train")] == ["spin", "walk", "spin", "walk"]


def test_synthesize_reports_progress_per_video(tmp_path: Path):
    """The plugin class writes the dataset and advances progress once per video."""
    plugin = SyntheticActionsDataset.from_config(attrs.asdict(TINY))
    progress = CountingProgress()
    out = plugin.synthesize(tmp_path / "plugin", progress)
    assert (out / GT_FILE).is_file()
    assert progress.total == progress.done == TINY.num_train + TINY.num_test


def test_refuses_to_write_into_a_foreign_directory(tmp_path: Path):
    """A non-empty directory without a synthetic dataset is left alone and an error is raised."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(AslUsageError, match="not an earlier synthetic dataset"):
        generate_synthetic_actions(tmp_path / "mine", TINY)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]  # no partial folder left behind


def test_replaces_an_earlier_synthetic_dataset(tmp_path: Path):
    """Regenerating into an earlier synthetic dataset replaces it completely."""
    out = generate_synthetic_actions(tmp_path / "data", TINY)
    smaller = attrs.evolve(TINY, num_train=2, num_test=1)
    generate_synthetic_actions(out, smaller)
    ds = open_dataset(out)
    assert len(ds.videos("train")) == 2
    assert len(list((out / "Frames").glob("*/*"))) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_params_reject_bad_actor_height():
    """actor_height must be an ordered pair inside [0.1, 0.9]."""
    with pytest.raises(ConfigError, match="actor_height"):
        SyntheticActionsDataset.from_config({"actor_height": (0.8, 0.6)})
    with pytest.raises(ConfigError, match="actor_height"):
        SyntheticActionsDataset.from_config({"actor_height": (0.5, 0.95)})


def test_actor_height_sets_the_box_height(tmp_path: Path):
    """Taller actors give taller boxes: the median box height follows ``actor_height``."""
    heights = {}
    for name, rng in (("small", (0.3, 0.3)), ("large", (0.7, 0.7))):
        params = attrs.evolve(
            TINY, occlusion_fraction=0.0, two_actor_fraction=0.0, actor_height=rng, scale_change=0.0
        )
        ds = open_dataset(generate_synthetic_actions(tmp_path / name, params))
        boxes = np.concatenate([t.boxes for r in ds.videos("train") for t in r.tubes])
        heights[name] = float(np.median(boxes[:, 3] - boxes[:, 1] + 1)) / params.size
    # a standing figure's box is about its height (bends and jumps change it a little)
    assert 0.2 < heights["small"] < 0.4 < 0.55 < heights["large"] < 0.85


def test_background_contrast_zero_gives_a_flat_background(tmp_path: Path):
    """With contrast 0, no noise and no clutter, a frame without actor is one colour."""
    params = attrs.evolve(
        TINY,
        background_contrast=0.0,
        noise=0.0,
        max_distractors=0,
        occlusion_fraction=0.0,
        lighting_change=0.0,
    )
    ds = open_dataset(generate_synthetic_actions(tmp_path / "flat", params))
    record = next(iter(ds.videos("train")))
    frames, mask = ds.read_frames(record.id), ds.gt_mask(record.id)
    empty = ~mask.any(axis=(1, 2))
    if empty.any():
        frame = frames[np.flatnonzero(empty)[0]].reshape(-1, 3)
    else:  # no empty frame: the background pixels of frame 0
        frame = frames[0][~mask[0]]
    assert np.ptp(frame.astype(int), axis=0).max() <= 1
