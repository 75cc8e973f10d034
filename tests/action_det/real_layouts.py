"""Writers of tiny datasets in the real UCF-101-24 and J-HMDB-21 on-disk layouts (for tests).

Every file is written in the public releases' format (MATLAB struct arrays, ASL pickles, PNG/JPEG
frame folders, ``.avi`` files written with PyAV, puppet masks, J-HMDB split files), but with a
few videos of a few 32 x 32 frames.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from asl_action_det.jhmdb import JHMDB21_CLASSES
from PIL import Image
from scipy.io import savemat

SIZE = 32  # frames are SIZE x SIZE

#: (video, num_imgs, [(sf, ef, class, (x, y, w, h))]) with 1-based frames and classes (the .mat)
UcfVideo = tuple[str, int, list[tuple[int, int, int, tuple[int, int, int, int]]]]

UCF_TRAIN: list[UcfVideo] = [
    ("Basketball/v_Basketball_g01_c01", 10, [(2, 9, 1, (4, 6, 10, 12))]),
    ("Basketball/v_Basketball_g02_c01", 9, [(1, 9, 1, (8, 2, 12, 20)), (3, 5, 1, (0, 0, 6, 6))]),
    ("Biking/v_Biking_g01_c01", 11, [(4, 11, 3, (10, 10, 14, 14))]),
]
UCF_TEST: list[UcfVideo] = [
    ("Basketball/v_Basketball_g03_c01", 9, [(1, 8, 1, (5, 5, 9, 9))]),
    ("Biking/v_Biking_g02_c01", 10, [(2, 10, 3, (12, 4, 10, 16))]),
]


def write_ucf_mat(path: Path, videos: Sequence[UcfVideo], *, drop: str | None = None) -> Path:
    """Write ``videos`` as the corrected annotations' struct array ``annot`` (uint8 integers).

    ``drop`` leaves out one field of ``annot`` (``"tubes"``...) or of the tubes (``"boxes"``).
    """
    fields = [f for f in ("num_imgs", "name", "tubes") if f != drop]
    tube_fields = [f for f in ("ef", "sf", "class", "boxes") if f != drop]
    annot = np.empty((1, len(videos)), dtype=[(f, "O") for f in fields])
    for i, (name, n, tubes) in enumerate(videos):
        entry = {"num_imgs": np.array([[n]], dtype=np.uint8), "name": np.array([name])}
        tube_arr = np.empty((1, len(tubes)), dtype=[(f, "O") for f in tube_fields])
        for k, (sf, ef, cls, box) in enumerate(tubes):
            values = {
                "ef": np.array([[ef]], dtype=np.uint8),
                "sf": np.array([[sf]], dtype=np.uint8),
                "class": np.array([[cls]], dtype=np.uint8),
                "boxes": np.tile(np.asarray(box, dtype=np.uint8), (ef - sf + 1, 1)),
            }
            for f in tube_fields:
                tube_arr[0, k][f] = values[f]
        entry["tubes"] = tube_arr
        for f in fields:
            annot[0, i][f] = entry[f]
    savemat(path, {"annot": annot})
    return path


def write_asl_pickle(path: Path, videos: Sequence[UcfVideo], every: int = 3) -> Path:
    """Write ``videos`` in the official ASL pickle layout (0-based, numpy scalars, protocol 5);
    every ``every``-th frame of each tube is 'annotated'."""
    items = []
    for name, _, tubes in videos:
        annots = []
        for sf, ef, cls, box in tubes:
            start, end = np.int64(sf - 1), np.int64(ef - 1)
            boxes = np.tile(np.asarray(box, dtype=np.int32), (ef - sf + 1, 1))
            marks = [np.int64(f) for f in range(int(start), int(end) + 1, every)]
            annots.append((start, end, np.int64(cls - 1), boxes, marks, 1))
        items.append((np.str_(name), annots))
    path.write_bytes(pickle.dumps(items, protocol=5))
    return path


def write_ucf_act_pickle(path: Path) -> Path:
    """ACT's ``UCF101v2-GT.pkl`` for :data:`UCF_TRAIN` + :data:`UCF_TEST`: the 24 class names,
    one split, 1-based frame numbers, inclusive ``x1 y1 x2 y2`` float32 boxes."""
    from asl_action_det.ucf101 import UCF101_24_CLASSES

    gttubes: dict[str, dict[int, list[np.ndarray]]] = {}
    for name, _, tubes in UCF_TRAIN + UCF_TEST:
        per_label: dict[int, list[np.ndarray]] = {}
        for sf, ef, cls, (x, y, w, h) in tubes:
            rows = [[f, x, y, x + w - 1, y + h - 1] for f in range(sf, ef + 1)]
            per_label.setdefault(cls - 1, []).append(np.asarray(rows, dtype=np.float32))
        gttubes[name] = per_label
    gt = {
        "labels": list(UCF101_24_CLASSES),
        "gttubes": gttubes,
        "nframes": {v: n for v, n, _ in UCF_TRAIN + UCF_TEST},
        "train_videos": [[v for v, _, _ in UCF_TRAIN]],
        "test_videos": [[v for v, _, _ in UCF_TEST]],
        "resolution": {v: (SIZE, SIZE) for v, _, _ in UCF_TRAIN + UCF_TEST},
    }
    path.write_bytes(pickle.dumps(gt, protocol=2))
    return path


def frame_image(number: int) -> np.ndarray:
    """The RGB frame written for 1-based frame ``number``: flat grey of value ``number``."""
    return np.full((SIZE, SIZE, 3), number, dtype=np.uint8)


def write_frames(folder: Path, n: int, ext: str = "jpg") -> None:
    """Frames ``00001.<ext> .. n`` of one video."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        Image.fromarray(frame_image(i)).save(folder / f"{i:05d}.{ext}")


def write_avi(path: Path, n: int, size: tuple[int, int] = (SIZE, SIZE)) -> Path:
    """An MPEG-4 ``.avi`` of ``n`` frames written with PyAV (frame ``i`` grey at ``20 * i``)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        for i in range(n):
            pixels = np.full((*size, 3), (20 * i) % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_ucf_root(root: Path, *, frames: bool = True, videos: bool = False) -> Path:
    """A UCF-101-24 folder: ``trainAnnot.mat``, ``testAnnot.mat``, ``finalAnnots.mat``,
    ``testlist01.txt``, the ASL pickles, and ``rgb-images`` JPEG folders and/or
    ``UCF101_Videos`` ``.avi`` files."""
    root.mkdir(parents=True, exist_ok=True)
    write_ucf_mat(root / "trainAnnot.mat", UCF_TRAIN)
    write_ucf_mat(root / "testAnnot.mat", UCF_TEST)
    write_ucf_mat(
        root / "finalAnnots.mat", UCF_TRAIN[:2] + UCF_TEST[:1] + UCF_TRAIN[2:] + UCF_TEST[1:]
    )
    (root / "testlist01.txt").write_text("\n".join(v for v, _, _ in UCF_TEST))  # no final newline
    write_asl_pickle(root / "training_annots.pkl", UCF_TRAIN)
    write_asl_pickle(root / "testing_annots.pkl", UCF_TEST)
    for name, n, _ in UCF_TRAIN + UCF_TEST:
        if frames:
            write_frames(root / "rgb-images" / name, n, "jpg")
        if videos:
            write_avi(root / "UCF101_Videos" / f"{name}.avi", n)
    return root


#: J-HMDB videos: (class, video, frames, mask slices, split ids for splits 1..3)
JHMDB_VIDEOS = [
    ("brush_hair", "hair_a", 8, 8, (1, 1, 2)),
    ("brush_hair", "hair_b", 9, 9, (2, 1, 1)),
    ("catch", "catch_a", 8, 6, (1, 2, 1)),  # 6 slices for 8 frames: the J-HMDB quirk
    ("catch", "catch_b", 10, 10, (2, 1, 1)),
]


def puppet_mask(slices: int, offset: int = 0) -> np.ndarray:
    """``uint8[SIZE, SIZE, slices]``: a 6 x 4 actor moving right one pixel per slice."""
    part = np.zeros((SIZE, SIZE, slices), dtype=np.uint8)
    for t in range(slices):
        part[10:16, 4 + offset + t : 8 + offset + t, t] = 1
    return part


def make_jhmdb_root(root: Path, *, act_pickle: bool = False) -> Path:
    """A J-HMDB-21 folder: ``Frames`` PNG folders, ``puppet_mask``, ``splits`` for all 21
    classes (empty for the classes without videos), and optionally ``JHMDB-GT.pkl``."""
    (root / "splits").mkdir(parents=True, exist_ok=True)
    lines: dict[tuple[str, int], list[str]] = {}
    for cls, video, n, slices, ids in JHMDB_VIDEOS:
        write_frames(root / "Frames" / cls / video, n, "png")
        mask_dir = root / "puppet_mask" / cls / video
        mask_dir.mkdir(parents=True, exist_ok=True)
        savemat(mask_dir / "puppet_mask.mat", {"part_mask": puppet_mask(slices)})
        for k, split_id in enumerate(ids, start=1):
            lines.setdefault((cls, k), []).append(f"{video}.avi {split_id} ")
    for cls in JHMDB21_CLASSES:
        for k in (1, 2, 3):
            text = "\n".join(lines.get((cls, k), []))
            (root / "splits" / f"{cls}_test_split{k}.txt").write_text(text + "\n" if text else "")
    if act_pickle:
        write_jhmdb_act_pickle(root / "JHMDB-GT.pkl")
    return root


def write_jhmdb_act_pickle(path: Path) -> Path:
    """ACT's ``JHMDB-GT.pkl`` for :data:`JHMDB_VIDEOS`: one whole-clip tube per video, boxes the
    tight box of :func:`puppet_mask` (last slice repeated), 1-based frames."""
    labels = list(JHMDB21_CLASSES)
    gttubes, nframes, resolution = {}, {}, {}
    train: list[list[str]] = [[], [], []]
    test: list[list[str]] = [[], [], []]
    for cls, video, n, slices, ids in JHMDB_VIDEOS:
        vid = f"{cls}/{video}"
        rows = []
        for f in range(n):
            t = min(f, slices - 1)
            rows.append([f + 1, 4 + t, 10, 7 + t, 15])
        gttubes[vid] = {labels.index(cls): [np.asarray(rows, dtype=np.float32)]}
        nframes[vid] = n
        resolution[vid] = (SIZE, SIZE)
        for k, split_id in enumerate(ids):
            (train if split_id == 1 else test)[k].append(vid)
    gt = {
        "labels": labels,
        "gttubes": gttubes,
        "nframes": nframes,
        "train_videos": train,
        "test_videos": test,
        "resolution": resolution,
    }
    path.write_bytes(pickle.dumps(gt, protocol=2))
    return path
