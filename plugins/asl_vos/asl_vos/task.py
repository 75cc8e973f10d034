"""Task ``vos``: semi-supervised video object segmentation from sparse frame labels (paper §4.5).

The paper's second task: an STCN-style space-time memory network (:mod:`.model`, specs §C.3)
on YouTube-VOS 2019 (or the embedded synthetic stand-in, :mod:`.synth`), evaluated with region
similarity J and boundary F (:mod:`.metrics`, specs §C.2), seen and unseen categories apart.

Annotation unit: a frame, with every object on it (paper §4.5). The pool is the training part
of the ``train`` split, one :class:`asl_core.VideoInfo` per video whose frames are the
annotated (sampled) frames; the simulated oracle returns one :class:`asl_core.Region` per
visible object (its id as ``track_id``, its category's index, tight box and COCO RLE mask), so
the annotation cost is objects × clicks as for actors.

Training (:meth:`VosTask.train`) uses only the oracle's annotations. A sample is ``S`` frames
of one video: the first is a **labelled** frame whose annotated masks go into the memory (as
STCN's given first frame); the others lie within ``max_jump`` sampled frames of it, either way
in time, and are segmented in turn with the memory of the frames before them in the sample
(:func:`.inference.training_forward`). Their targets are the annotations when labelled and
otherwise the nearest labelled frame's masks (pseudo-labels); each frame's cross-entropy is
weighted by the configured :class:`asl_core.SparseLoss` (MGW by default, paper eq. 4). A share
``static_fraction`` of the samples are instead random affine warps of one labelled frame with
exact targets (STCN's stage-0 static-image training): at a few labels per video the
pseudo-labels of a real sequence are all copies of one mask, which alone teaches copying.

Evaluation (:meth:`VosTask.evaluate`) is the standard semi-supervised protocol on held-out
videos: every object is given at its first annotated frame and propagated forward with a
permanent memory frame every ``mem_every`` frames (:func:`.inference.propagate`); J and F are
averaged per object over the frames after its first (:mod:`.metrics`). Because YouTube-VOS
valid ground truth beyond first frames is not public, the held-out videos come from train
(``eval_split="holdout"``, :func:`.data.holdout_split`, with unseen categories); a valid split
with full annotations (``eval_split="valid"``) is read as is.

Scoring (:meth:`VosTask.predict`): the memory is the video's labelled frames with their
annotated masks (kept inside the model by ``train``, so a reloaded checkpoint scores the same);
every frame is segmented by reading it, and the decoder runs ``mc_trials`` times with dropout
(:func:`.inference.predict_from_memory`), giving ``mc_probs`` ``float32[T, F, K+1, H, W]``
(background, then the video's objects) for ``apu``, ``gal`` and ``aghdam`` unchanged. A video
longer than ``predict_chunk`` frames comes as :class:`asl_core.OutputChunk` pieces computed on
demand (:func:`.inference.stream_from_memory`), equal to the whole-video values.

Data-parallel training (``torchrun``, :mod:`asl_core.distributed`): :meth:`VosTask.train` wraps
the network in ``DistributedDataParallel``; every rank draws the same per-sample seeds and
forwards its share of each batch, and the result equals one process's training.
"""

from __future__ import annotations

import logging
import math
import pickle
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from attrs import field, frozen, validators

from asl_core import (
    MC_PROBS,
    ConfigError,
    Configurable,
    ExchangeVideo,
    FrameAnnotation,
    FrameRef,
    LabelState,
    OutputChunk,
    Progress,
    Region,
    RunDirError,
    SparseLoss,
    VideoInfo,
    dist_context,
)

__all__ = ["VosModel", "VosParams", "VosTask"]

log = logging.getLogger(__name__)

HEADLINE = ("J&F", "J", "F", "J&F-seen", "J&F-unseen")


def _positive(_inst: Any, attr: Any, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attr.name} must be > 0, got {value}")


def _size(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, int):
        return (value, value)
    h, w = (int(v) for v in value)
    if h <= 0 or w <= 0:
        raise ValueError(f"frame_size must be positive, got {value!r}")
    return (h, w)


def _unseen(value: Any) -> int | tuple[str, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


@frozen
class VosParams:
    """Parameters of :class:`VosTask` (docs/tasks/vos.md).

    Attributes:
        data_root: dataset folder in the YouTube-VOS layout (``<split>/JPEGImages``,
            ``<split>/Annotations``, ``<split>/meta.json``).
        split: the folder whose videos form the pool (and the held-out part), ``"train"``.
        eval_split: ``"holdout"`` (evaluate on videos held out of ``split``) or the name of a
            folder with complete annotations (e.g. ``"valid"`` of the synthetic data; the real
            valid split has first-frame masks only and is refused).
        val_videos: videos held out for evaluation (``holdout``).
        unseen_categories: categories whose videos all go to the held-out part, so that their
            objects are "unseen" (a count drawn with ``holdout_seed``, or a list of names).
        holdout_seed: seed of the held-out draw; fixed apart from the run seed so every run of
            a comparison evaluates on the same videos.
        meta_file, images_dir, annotations_dir: names inside each split folder.
        all_frames_dir: folder (relative to ``data_root``) of every frame's JPEG (the
            ``*_all_frames`` download); the pool stays the annotated frames.
        frame_size: ``(H, W)`` frames and masks are resized to (multiples of 16); ``None``
            keeps the files' size (the synthetic data is 64 x 112). Real YouTube-VOS needs one,
            e.g. ``(240, 432)`` on a GPU.
        synthesize_if_missing: generate the synthetic dataset when ``data_root`` is missing.
        synth: generator parameters (:class:`.synth.SynthVosParams`).
        cache_videos: decoded videos kept in memory (training revisits the same videos).
        backbone: ``"tiny"`` (CPU default) or ``"resnet"`` (ResNet-50 key / ResNet-18 value
            encoders, specs §C.3).
        key_weights, value_weights: local torchvision-layout ResNet-50 / ResNet-18 checkpoints
            for ``backbone="resnet"`` (nothing is downloaded; ``None``: random initialisation,
            with a warning).
        dropout: decoder dropout (MC dropout for ``gal`` / ``apu``).
        top_k: memory locations each query reads at inference (clamped to the memory size).
        mem_every: evaluation adds a predicted frame to the memory every this many frames.
        max_objects: objects per training sample (drawn among those on the labelled frame).
        sample_frames: frames per training sample (STCN: 3).
        max_jump: largest gap, in annotated frames, between consecutive frames of a sample.
        static_fraction: share of training samples made from a single labelled frame by random
            affine warps (STCN's stage-0 training on static images), whose targets are exact;
            the others are real frame sequences trained through the SparseLoss. Without them a
            video with one labelled frame teaches only "copy that mask" (its pseudo-labels are
            all that same mask).
        iterations: training steps per cycle (the model is retrained from scratch).
        batch_size: samples per step.
        lr: Adam learning rate (the peak, with ``lr_schedule="cosine"``).
        lr_schedule: ``"cosine"`` (decay to 0 over the cycle) or ``"constant"``.
        weight_decay: Adam weight decay (STCN: 1e-7).
        flip: random horizontal flips in training.
        mc_trials: ``T`` dropout trials of ``predict``.
        predict_chunk: frames per piece of a video's ``mc_probs`` in ``predict``: a longer
            video comes as :class:`asl_core.OutputChunk` values of this many frames, reading
            only its labelled frames and one batch of frames at a time, so scoring memory is
            about ``mc_trials x predict_chunk x (K+1) x H x W x 4`` bytes whatever the video's
            length. The values do not depend on it (the dropout draws are the same).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    """

    data_root: str = "data/synthetic_vos"
    split: str = "train"
    eval_split: str = "holdout"
    val_videos: int = field(default=16, converter=int, validator=validators.ge(1))
    unseen_categories: int | tuple[str, ...] = field(default=1, converter=_unseen)
    holdout_seed: int = field(default=0, converter=int)
    meta_file: str = "meta.json"
    images_dir: str = "JPEGImages"
    annotations_dir: str = "Annotations"
    all_frames_dir: str | None = None
    frame_size: tuple[int, int] | None = field(default=None, converter=_size)
    synthesize_if_missing: bool = True
    synth: dict = field(factory=dict, converter=dict)
    cache_videos: int = field(default=128, converter=int, validator=validators.ge(1))
    backbone: str = field(default="tiny", validator=validators.in_(("tiny", "resnet")))
    key_weights: str | None = None
    value_weights: str | None = None
    dropout: float = field(default=0.2, converter=float)
    top_k: int = field(default=20, converter=int, validator=_positive)
    mem_every: int = field(default=5, converter=int, validator=_positive)
    max_objects: int = field(default=3, converter=int, validator=_positive)
    sample_frames: int = field(default=3, converter=int, validator=validators.ge(2))
    max_jump: int = field(default=3, converter=int, validator=_positive)
    static_fraction: float = field(default=0.5, converter=float)
    iterations: int = field(default=600, converter=int, validator=_positive)
    batch_size: int = field(default=4, converter=int, validator=_positive)
    lr: float = field(default=1e-3, converter=float, validator=_positive)
    lr_schedule: str = field(default="cosine", validator=validators.in_(("cosine", "constant")))
    weight_decay: float = field(default=1e-7, converter=float)
    flip: bool = True
    mc_trials: int = field(default=5, converter=int, validator=_positive)
    predict_chunk: int = field(default=64, converter=int, validator=_positive)
    device: str = field(default="auto", validator=validators.in_(("auto", "cpu", "cuda")))

    @frame_size.validator
    def _check_size(self, attribute: Any, value: tuple[int, int] | None) -> None:
        if value is not None and (value[0] % 16 or value[1] % 16):
            raise ValueError(f"frame_size must be multiples of 16 (the 1/16 stride), got {value}")

    @static_fraction.validator
    def _check_static(self, attribute: Any, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"static_fraction must lie in [0, 1], got {value}")

    @dropout.validator
    def _check_dropout(self, attribute: Any, value: float) -> None:
        if not 0.0 <= value < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {value}")


def _memory_entry(regions: Sequence[Region]) -> list[list[Any]]:
    """The masks of an annotation in the checkpoint's plain form ``[[id, h, w, counts,
    category], ...]``."""
    out = []
    for r in regions:
        if r.mask is None or not isinstance(r.mask["counts"], str):
            continue
        h, w = r.mask["size"]
        out.append([int(r.track_id), int(h), int(w), str(r.mask["counts"]), int(r.category)])
    return out


def _decode_entry(entry: Sequence[Sequence[Any]], h: int, w: int) -> np.ndarray:
    """``uint8[h, w]`` object ids of one memory entry (later objects paint over earlier)."""
    from pycocotools import mask as mask_utils

    ids = np.zeros((h, w), dtype=np.uint8)
    for track_id, mh, mw, counts, *_ in entry:
        m = mask_utils.decode({"size": [int(mh), int(mw)], "counts": counts.encode("ascii")})
        if m.shape != (h, w):
            raise ValueError(f"annotation mask of size {m.shape} on a {h}x{w} frame")
        ids[m.astype(bool)] = int(track_id)
    return ids


def _piece(
    video: VideoInfo, start: int, stop: int, probs: np.ndarray
) -> tuple[str, dict[str, np.ndarray]] | OutputChunk:
    """What ``predict`` yields for frames ``[start, stop)`` of ``video``: the plain
    ``(video_id, outputs)`` pair when they are the whole video, else an OutputChunk."""
    if start == 0 and stop == video.num_frames:
        return video.id, {MC_PROBS: probs}
    return OutputChunk(video.id, start, stop, video.num_frames, {MC_PROBS: probs})


class VosModel:
    """The trained network plus the annotated masks it was trained on (its scoring memory).

    ``net`` is the :class:`.model.STCN`; ``memory`` maps a video id to ``{frame: [[object id,
    h, w, RLE counts, category], ...]}`` for every labelled frame. Both go into the checkpoint, so that a
    run resumed after a crash scores the pool exactly as the uninterrupted run would.
    """

    def __init__(self, net: Any, memory: dict[str, dict[int, list[list[Any]]]] | None = None):
        self.net = net
        self.memory = memory or {}


class VosTask(Configurable):
    """Video object segmentation on a YouTube-VOS-layout dataset (synthetic by default)."""

    Params = VosParams
    outputs = frozenset({MC_PROBS})
    checkpoint_suffix = ".pt"
    headline_metrics = HEADLINE

    def __init__(self, params: VosParams | None = None) -> None:
        super().__init__(params)
        from asl_core import parse_params

        from .data import YouTubeVos, holdout_split

        p = self.params
        if p.backbone != "resnet" and (p.key_weights or p.value_weights):
            raise ConfigError("task.key_weights / task.value_weights need task.backbone='resnet'")
        for name in ("key_weights", "value_weights"):
            path = getattr(p, name)
            if path is not None and not Path(path).expanduser().is_file():
                raise ConfigError(
                    f"{path}: weights file not found (task.{name}); point it at a local "
                    "torchvision ResNet checkpoint, or set it to None for random weights"
                )
        root = Path(p.data_root).expanduser()
        if not root.exists():
            if not p.synthesize_if_missing:
                raise ConfigError(f"{root}: dataset folder not found (task.data_root)")
            from .synth import SynthVosParams, generate_synthetic_vos

            log.warning("%s is missing: generating the synthetic VOS dataset there", root)
            generate_synthetic_vos(root, parse_params(SynthVosParams, p.synth, where="task.synth"))
        common = {
            "meta_file": p.meta_file,
            "images_dir": p.images_dir,
            "annotations_dir": p.annotations_dir,
            "size": p.frame_size,
            "cache_videos": p.cache_videos,
        }
        pool_data = YouTubeVos(root, p.split, all_frames_dir=p.all_frames_dir, **common)
        if not pool_data.full_annotations():
            raise ConfigError(
                f"{root / p.split}: not every frame has a mask; the pool split (task.split) "
                "needs the train layout (a mask for every sampled frame)"
            )
        self.categories = tuple(pool_data.categories)
        if p.eval_split == "holdout":
            split = holdout_split(
                pool_data.videos,
                val_videos=p.val_videos,
                unseen_categories=p.unseen_categories,
                rng=np.random.default_rng(p.holdout_seed),
            )
            self.unseen = frozenset(split.unseen)
            self._pool_ids = list(split.train)
            self._eval_ids = list(split.val)
            self.eval_data = pool_data
        else:
            self.eval_data = YouTubeVos(root, p.eval_split, require_masks=False, **common)
            if not self.eval_data.full_annotations():
                raise ConfigError(
                    f"{root / p.eval_split}: masks exist only on first frames (the public "
                    "YouTube-VOS valid split); evaluate on held-out train videos with "
                    "task.eval_split='holdout', or score predictions on the official server"
                )
            pool_cats = {o.category for v in pool_data.videos for o in v.objects}
            self.unseen = frozenset(
                o.category
                for v in self.eval_data.videos
                for o in v.objects
                if o.category is not None and o.category not in pool_cats
            )
            self._pool_ids = [v.id for v in pool_data.videos]
            self._eval_ids = [v.id for v in self.eval_data.videos]
            for c in sorted({o.category for v in self.eval_data.videos for o in v.objects}):
                if c is not None and c not in self.categories:
                    self.categories = (*self.categories, c)
        self.data = pool_data
        if not self._pool_ids or not self._eval_ids:
            raise ConfigError(f"{root}: the dataset needs pool and evaluation videos")
        first = pool_data.video(self._pool_ids[0])
        self.height, self.width = first.height, first.width
        if self.height % 16 or self.width % 16:
            raise ConfigError(
                f"{root / p.split}: frames are {self.height}x{self.width}; the model needs "
                "multiples of 16: set task.frame_size, e.g. (240, 432)"
            )

    # ------------------------------------------------------------------ helpers

    def _device(self) -> Any:
        """This process's torch device: ``cuda:<local rank>`` under torchrun with CUDA."""
        return dist_context().torch_device(self.params.device)

    @staticmethod
    def _frames_tensor(frames: np.ndarray) -> Any:
        """uint8 ``[F, H, W, 3]`` → float ``[F, 3, H, W]`` in [0, 1]."""
        import torch

        # a copy: the loader's cached arrays are read-only, and torch wants writable memory
        return torch.from_numpy(np.array(frames, copy=True)).permute(0, 3, 1, 2).float() / 255.0

    def _category_index(self, name: str | None) -> int:
        # objects without a category (allowed in valid meta) share one index past the known ones
        return self.categories.index(name) if name in self.categories else len(self.categories)

    # ------------------------------------------------------------------ Task interface

    def pool(self) -> list[VideoInfo]:
        """The training part of ``split``, sorted by video id (frames: the annotated ones)."""
        return [VideoInfo(v, len(self.data.video(v).frames), None, "train") for v in self._pool_ids]

    def build_model(self, rng: np.random.Generator) -> VosModel:
        """A freshly initialised network (weights drawn from a torch seed taken from ``rng``)."""
        import torch

        from .model import STCN

        torch.manual_seed(int(rng.integers(2**63 - 1)))
        p = self.params
        if p.backbone == "resnet" and p.key_weights is None:
            log.warning(
                "task.key_weights is None: the ResNet key encoder starts from random weights"
            )
        net = STCN(
            backbone=p.backbone,
            dropout=p.dropout,
            top_k=p.top_k,
            key_weights=p.key_weights,
            value_weights=p.value_weights,
        )
        return VosModel(net)

    def _annotated_ids(
        self, video: str, labelled: np.ndarray, annotations: Mapping[FrameRef, FrameAnnotation]
    ) -> tuple[np.ndarray, dict[int, list[list[Any]]]]:
        """``uint8[L, H, W]`` object ids of the labelled frames, from the annotations only, and
        their checkpoint form."""
        ids = np.zeros((len(labelled), self.height, self.width), dtype=np.uint8)
        memory: dict[int, list[list[Any]]] = {}
        for i, f in enumerate(labelled):
            entry = _memory_entry(annotations[FrameRef(video, int(f))].regions)
            memory[int(f)] = entry
            ids[i] = _decode_entry(entry, self.height, self.width)
        return ids, memory

    def _sample(
        self,
        video: str,
        labelled: np.ndarray,
        ids: np.ndarray,
        weights: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
        """One training sample: frame indices ``[S]`` (the first labelled), targets ``[S, H,
        W]`` (annotation or nearest labelled frame's masks), loss weights ``[S]``, and the
        object ids it trains on (at most ``max_objects``, those on the first frame)."""
        p = self.params
        n = len(self.data.video(video).frames)
        start = int(labelled[rng.integers(labelled.size)])
        direction = 1 if rng.random() < 0.5 else -1
        index = [start]
        for _ in range(p.sample_frames - 1):
            step = int(rng.integers(1, p.max_jump + 1)) * direction
            nxt = index[-1] + step
            if not 0 <= nxt < n:
                # the video ends this way: turn around from the start (short videos repeat frames)
                direction = -direction
                nxt = min(max(index[-1] + direction * abs(step), 0), n - 1)
            index.append(nxt)
        frames = np.asarray(index, dtype=np.int64)
        # nearest labelled frame of each sample frame (ties toward the earlier one)
        pos = np.searchsorted(labelled, frames)
        left = labelled[np.clip(pos - 1, 0, labelled.size - 1)]
        right = labelled[np.clip(pos, 0, labelled.size - 1)]
        nearest = np.where(np.abs(frames - left) <= np.abs(right - frames), left, right)
        targets = ids[np.searchsorted(labelled, nearest)]
        present = [int(i) for i in np.unique(targets[0]) if i != 0]
        if len(present) > p.max_objects:
            present = sorted(int(i) for i in rng.choice(present, p.max_objects, replace=False))
        return frames, targets, weights[frames], present

    def _static_sample(
        self, video: str, labelled: np.ndarray, ids: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
        """A sample of ``S`` random affine warps of one labelled frame (rotation within 15
        degrees, scale 0.85-1.15, shear within 0.1, shift within 10 % of the frame, each warp
        composed on the previous one so the motion accumulates): frames ``uint8[S, H, W, 3]``,
        exact targets ``[S, H, W]``, weights 1, and the objects it trains on."""
        from scipy import ndimage

        p = self.params
        i = int(rng.integers(labelled.size))
        image = np.asarray(self.data.read_frames(video)[int(labelled[i])])
        target = ids[i]
        h, w = target.shape
        centre = np.asarray([(h - 1) / 2.0, (w - 1) / 2.0])
        frames, targets = [image], [target]
        matrix, offset = np.eye(2), np.zeros(2)
        for _ in range(p.sample_frames - 1):
            angle = np.deg2rad(rng.uniform(-15.0, 15.0))
            scale = rng.uniform(0.85, 1.15)
            shear = rng.uniform(-0.1, 0.1)
            step = (
                np.asarray([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
                @ np.asarray([[1.0, shear], [0.0, 1.0]])
                / scale
            )
            shift = rng.uniform(-0.1, 0.1, size=2) * np.asarray([h, w])
            # output pixel q reads input pixel M q + o; composing keeps the warps cumulative
            step_offset = centre - step @ centre + shift
            matrix, offset = matrix @ step, matrix @ step_offset + offset
            warped = np.stack(
                [
                    ndimage.affine_transform(
                        image[..., c], matrix, offset, order=1, mode="constant", cval=0.0
                    )
                    for c in range(3)
                ],
                axis=-1,
            )
            frames.append(warped)
            targets.append(
                ndimage.affine_transform(target, matrix, offset, order=0, mode="constant", cval=0)
            )
        stack = np.stack(targets)
        present = [int(o) for o in np.unique(stack[0]) if o != 0]
        if len(present) > p.max_objects:
            present = sorted(int(o) for o in rng.choice(present, p.max_objects, replace=False))
        weights = np.ones(p.sample_frames, dtype=np.float32)
        return np.stack(frames), stack, weights, present

    def _training_sample(
        self, prepared: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]], seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """One training sample, every random choice drawn from its own generator seeded with
        ``seed``: the video, static or sequence sample, its frames, the flip, and the seed of
        its dropout masks. Returns frames ``uint8[S, H, W, 3]``, first-frame masks
        ``float32[max_objects, H, W]``, targets ``int64[S-1, H, W]`` (channel index: 0
        background, ``c+1`` the ``c``-th trained object), loss weights ``float32[S-1]`` and the
        dropout seed."""
        p = self.params
        rng = np.random.default_rng(seed)
        vid, lab, ids, w = prepared[int(rng.integers(len(prepared)))]
        if rng.random() < p.static_fraction:
            frames, target, fw, objects = self._static_sample(vid, lab, ids, rng)
        else:
            index, target, fw, objects = self._sample(vid, lab, ids, w, rng)
            frames = self.data.read_frames(vid)[index]  # [S, H, W, 3]
        # channel c+1 is object objects[c]; other objects' pixels count as background
        chan = np.zeros(256, dtype=np.int64)
        for c, oid in enumerate(objects):
            chan[oid] = c + 1
        target = chan[target]
        if p.flip and rng.random() < 0.5:
            frames, target = frames[:, :, ::-1], target[:, :, ::-1]
        first = np.zeros((p.max_objects, self.height, self.width), dtype=np.float32)
        for c in range(len(objects)):
            first[c] = target[0] == c + 1
        dropout_seed = int(rng.integers(2**63 - 1))
        return (
            np.ascontiguousarray(frames),
            first,
            np.ascontiguousarray(target[1:]),
            np.asarray(fw[1:], dtype=np.float32),
            dropout_seed,
        )

    def train(
        self,
        model: VosModel,
        labels: LabelState,
        annotations: Mapping[FrameRef, FrameAnnotation],
        loss: SparseLoss,
        rng: np.random.Generator,
        progress: Progress,
    ) -> VosModel:
        """Train from scratch on samples starting at labelled frames (Adam, weighted CE).

        Each step draws ``batch_size`` sample seeds from ``rng``; sample ``b`` makes every
        random choice (and its dropout masks) from its own seed, so it is the same whichever
        process builds it. Under torchrun (``asl_core.dist_context().enabled``) every rank
        draws the same seeds, builds and forwards only its share of the batch
        (``batch_share``) through ``DistributedDataParallel``, and scales its loss by
        ``world_size / batch_size``: the averaged gradient is the gradient of the whole batch's
        mean loss, so the ranks train exactly like one process (up to float rounding). Returns
        the model with the plain (unwrapped) network on the CPU.

        Raises:
            ValueError: no labelled frame. ConfigError: ``batch_size`` below the number of
                processes. FloatingPointError: a non-finite batch loss (on every rank).
        """
        import torch
        import torch.nn.functional as F

        from .inference import TrainingPass

        p = self.params
        ctx = dist_context()
        if p.batch_size < ctx.world_size:
            raise ConfigError(
                f"task.batch_size={p.batch_size} is below the {ctx.world_size} processes of "
                "this torchrun job: every process needs a sample per step"
            )
        device = self._device()
        torch.manual_seed(int(rng.integers(2**63 - 1)))
        prepared = []
        memory: dict[str, dict[int, list[list[Any]]]] = {}
        for vid in self._pool_ids:
            lab = labels.labelled(vid)
            if not lab.size:
                continue
            ids, memory[vid] = self._annotated_ids(vid, lab, annotations)
            n = len(self.data.video(vid).frames)
            weights = np.asarray(loss.frame_weights(n, lab), dtype=np.float32)
            prepared.append((vid, lab, ids, weights))
        if not prepared:
            raise ValueError("no labelled frame to train on")
        net = model.net.to(device).train()
        runner: Any = TrainingPass(net)
        if ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel

            runner = DistributedDataParallel(
                runner, device_ids=[device.index] if device.type == "cuda" else None
            )
        optimiser = torch.optim.Adam(net.parameters(), lr=p.lr, weight_decay=p.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimiser,
            (lambda s: 0.5 * (1.0 + math.cos(math.pi * s / p.iterations)))
            if p.lr_schedule == "cosine"
            else (lambda s: 1.0),
        )
        share = list(ctx.batch_share(p.batch_size))
        # DDP averages gradients over ranks: world/batch x (sum over the share) makes that
        # average the gradient of the mean over the whole batch
        scale = ctx.world_size / p.batch_size
        progress.start(p.iterations, "steps")
        try:
            for step in range(p.iterations):
                seeds = rng.integers(2**63 - 1, size=p.batch_size)
                samples = [self._training_sample(prepared, int(seeds[b])) for b in share]
                clips, firsts, targets, weights, dropout_seeds = zip(*samples, strict=True)
                x = torch.from_numpy(np.stack(clips)).to(device).permute(0, 1, 4, 2, 3)
                x = x.float() / 255.0  # [B', S, 3, H, W]
                first_t = torch.from_numpy(np.stack(firsts)).to(device)
                y = torch.from_numpy(np.stack(targets)).to(device)  # [B', S-1, H, W]
                fw_t = torch.from_numpy(np.stack(weights)).to(device)
                gens = [torch.Generator().manual_seed(s) for s in dropout_seeds]
                logits = runner(x, first_t, gens)  # [B', S-1, K+1, H, W]
                b, s1 = y.shape[:2]
                ce = F.cross_entropy(
                    logits.flatten(0, 1), y.flatten(0, 1), reduction="none"
                )  # [B'*(S-1), H, W]
                per_frame = ce.mean(dim=(1, 2)).view(b, s1)
                total = loss.reduce(per_frame, fw_t).sum() * scale
                optimiser.zero_grad(set_to_none=True)
                total.backward()
                batch_loss = total.detach()
                if ctx.enabled:
                    import torch.distributed as dist

                    dist.all_reduce(batch_loss)
                # every rank sees the same batch loss, so all stop together
                batch_loss = float(batch_loss) / ctx.world_size
                if not math.isfinite(batch_loss):
                    raise FloatingPointError(
                        f"vos training diverged at step {step}: loss {batch_loss}; lower task.lr"
                    )
                optimiser.step()
                scheduler.step()
                progress.advance(1)
        finally:
            del runner
            model.net = net.cpu()
        model.memory = memory
        return model

    def evaluate(
        self, model: VosModel, rng: np.random.Generator, progress: Progress
    ) -> dict[str, float]:
        """J, F and J&F (all, seen, unseen) and the YouTube-VOS overall score on the held-out
        videos: each object given at its first annotated frame, propagated forward."""
        import torch

        from .inference import propagate
        from .metrics import ObjectScore, score_video, summarize

        p = self.params
        device = self._device()
        net = model.net.to(device).eval()
        per_object: dict[str, ObjectScore] = {}
        progress.start(len(self._eval_ids), "videos")
        try:
            for vid in self._eval_ids:
                video = self.eval_data.video(vid)
                gt = np.asarray(self.eval_data.read_masks(vid))
                objects = [o for o in video.objects if (gt == o.id).any()]
                first = {o.id: int(np.argmax((gt == o.id).any(axis=(1, 2)))) for o in objects}
                given: dict[int, tuple[Any, Any]] = {}
                for c, o in enumerate(objects):
                    t = first[o.id]
                    if t not in given:
                        given[t] = (
                            torch.zeros(len(objects), self.height, self.width),
                            torch.zeros(len(objects), dtype=torch.bool),
                        )
                    given[t][0][c] = torch.from_numpy(gt[t] == o.id).float()
                    given[t][1][c] = True
                if objects:
                    frames = self._frames_tensor(np.asarray(self.eval_data.read_frames(vid)))
                    with torch.no_grad():
                        probs = propagate(
                            net,
                            frames.to(device),
                            {t: (m.to(device), s.to(device)) for t, (m, s) in given.items()},
                            mem_every=p.mem_every,
                            top_k=p.top_k,
                        )
                    lut = np.asarray([0] + [o.id for o in objects], dtype=np.uint8)
                    pred = lut[probs.argmax(dim=1).cpu().numpy()]
                    scores = score_video(gt, pred, first)
                    for o in objects:
                        j, f = scores[o.id]
                        per_object[f"{vid}/{o.id}"] = ObjectScore.from_frames(
                            j, f, seen=o.category not in self.unseen, category=o.category
                        )
                progress.advance(1)
        finally:
            model.net = net.cpu()
        summary = summarize(per_object)
        out: dict[str, float] = {}
        for key in ("J", "F", "J&F"):
            if summary[key] is not None:
                out[key] = float(summary[key])
        for group in ("seen", "unseen"):
            for key in ("J", "F", "J&F"):
                value = summary[group][key]
                if value is not None:
                    out[f"{key}-{group}"] = float(value)
        if summary["overall"] is not None:
            out["overall"] = float(summary["overall"])
        out["objects"] = float(summary["objects"])
        return out

    def predict(
        self,
        model: VosModel,
        videos: Sequence[VideoInfo],
        requires: frozenset[str],
        rng: np.random.Generator,
    ) -> Iterator[tuple[str, dict[str, np.ndarray]] | OutputChunk]:
        """``mc_probs`` ``float32[T, F, K+1, H, W]`` per video from the memory of its labelled
        frames (``K`` = objects on them); a video without labelled frame (or without object on
        them) has nothing to propagate: all background, ``[T, F, 2, H, W]``.

        A video of at most ``predict_chunk`` frames comes whole, as ``(video_id, outputs)``; a
        longer one as consecutive :class:`asl_core.OutputChunk` values of ``predict_chunk``
        frames (the last shorter), computed as they are consumed from its labelled frames and
        one batch of frames at a time (:func:`.inference.stream_from_memory`), with the same
        values as in one piece. The MC-dropout masks come from a torch generator seeded from
        ``rng`` (one draw per call), then per video and trial in order."""
        import torch

        from .inference import stream_from_memory

        p = self.params
        device = self._device()
        net = model.net.to(device).eval()
        gen = torch.Generator(device=device)
        gen.manual_seed(int(rng.integers(2**63 - 1)))
        try:
            for info in videos:
                n = info.num_frames
                span = min(p.predict_chunk, n)
                entries = model.memory.get(info.id, {})
                ids = {
                    int(f): _decode_entry(e, self.height, self.width) for f, e in entries.items()
                }
                objects = sorted({int(i) for m in ids.values() for i in np.unique(m) if i})
                if not objects:
                    for start in range(0, n, span):
                        stop = min(start + span, n)
                        probs = np.zeros(
                            (p.mc_trials, stop - start, 2, self.height, self.width), np.float32
                        )
                        probs[:, :, 0] = 1.0
                        yield _piece(info, start, stop, probs)
                    continue
                given = {
                    f: torch.from_numpy(np.stack([m == o for o in objects]).astype(np.float32))
                    for f, m in sorted(ids.items())
                }
                pieces = stream_from_memory(
                    net,
                    lambda index, vid=info.id: self._frames_tensor(
                        self.data.read_frames_at(vid, list(index))
                    ),
                    n,
                    given,
                    top_k=p.top_k,
                    mc_trials=p.mc_trials,
                    generator=gen,
                    span=span,
                )
                for start, stop, probs in pieces:
                    yield _piece(info, start, stop, probs.numpy())
        finally:
            model.net = net.cpu()

    @property
    def category_names(self) -> tuple[str, ...]:
        """Object categories, index = ``Region.category`` (for annotation tools)."""
        return (*self.categories, "unknown")

    def exchange_videos(self, ids: Sequence[str]) -> dict[str, ExchangeVideo]:
        """Each pool video as an annotation tool sees it: the annotated frames' JPEG names and
        the (resized) frame size (``asl-run export`` / ``import``)."""
        out = {}
        for vid in ids:
            video = self.data.video(vid)
            names = tuple(f"{name}.jpg" for name in video.frames)
            out[vid] = ExchangeVideo(vid, len(names), video.width, video.height, names)
        return out

    def predict_regions(
        self, model: VosModel, frames: Sequence[FrameRef]
    ) -> list[tuple[Region, ...]]:
        """The model's objects on each frame, to pre-fill an annotation tool (``asl-run
        export``): each video segmented from the memory of its labelled frames (as for
        scoring, without dropout), one region per object with pixels on the frame (its id,
        the category it was annotated with, tight box and RLE mask)."""
        import torch
        from pycocotools import mask as mask_utils

        from .inference import predict_from_memory

        device = self._device()
        net = model.net.to(device).eval()
        by_video: dict[str, list[int]] = {}
        for ref in frames:
            by_video.setdefault(ref.video, []).append(ref.frame)
        found: dict[FrameRef, tuple[Region, ...]] = {}
        try:
            for vid, wanted in by_video.items():
                entries = model.memory.get(vid, {})
                ids = {
                    int(f): _decode_entry(e, self.height, self.width) for f, e in entries.items()
                }
                objects = sorted({int(i) for m in ids.values() for i in np.unique(m) if i})
                if not objects:
                    found.update({FrameRef(vid, f): () for f in wanted})
                    continue
                category = {
                    int(e[0]): int(e[4]) for es in entries.values() for e in es if len(e) > 4
                }
                masks = {
                    f: torch.from_numpy(np.stack([m == o for o in objects]).astype(np.float32))
                    for f, m in sorted(ids.items())
                }
                # without dropout a frame's segmentation depends only on it and the memory:
                # read just the memory frames and the wanted ones, predict_chunk at a time
                todo = sorted(set(wanted))
                labels: dict[int, np.ndarray] = {}
                for g in range(0, len(todo), self.params.predict_chunk):
                    group = todo[g : g + self.params.predict_chunk]
                    needed = sorted(set(masks) | set(group))
                    at = {f: i for i, f in enumerate(needed)}
                    frames_t = self._frames_tensor(self.data.read_frames_at(vid, needed))
                    with torch.no_grad():
                        probs = predict_from_memory(
                            net,
                            frames_t.to(device),
                            {at[f]: m.to(device) for f, m in masks.items()},
                            top_k=self.params.top_k,
                            mc_trials=1,
                        )
                    best = probs[0].argmax(dim=1).cpu().numpy()  # [len(needed), H, W], 0 = bg
                    labels.update({f: best[at[f]] for f in group})
                for f in wanted:
                    regions = []
                    for c, oid in enumerate(objects, start=1):
                        m = labels[f] == c
                        if not m.any():
                            continue
                        ys, xs = np.nonzero(m)
                        box = (
                            float(xs.min()),
                            float(ys.min()),
                            float(xs.max() + 1),
                            float(ys.max() + 1),
                        )
                        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
                        cat = category.get(oid, len(self.categories))
                        regions.append(Region(oid, cat, box, rle))
                    found[FrameRef(vid, f)] = tuple(regions)
        finally:
            model.net = net.cpu()
        return [found[FrameRef(ref.video, ref.frame)] for ref in frames]

    def read_frame(self, video: str, index: int) -> np.ndarray:
        """Frame ``index`` of a pool video, ``uint8[H, W, 3]`` (``asl-run export --frames-dir``)."""
        return np.asarray(self.data.read_frames(video)[index])

    def ground_truth(self, frames: Sequence[FrameRef]) -> list[tuple[Region, ...]]:
        """Every visible object of each frame: id, category index, tight box and RLE mask
        (simulated oracle only)."""
        from pycocotools import mask as mask_utils

        out = []
        for ref in frames:
            video = self.data.video(ref.video)
            if not 0 <= ref.frame < len(video.frames):
                raise IndexError(f"frame {ref.frame} outside video {ref.video!r}")
            ids = np.asarray(self.data.read_masks(ref.video)[ref.frame])
            regions = []
            for o in video.objects:
                m = ids == o.id
                if not m.any():
                    continue
                ys, xs = np.nonzero(m)
                box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
                rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
                regions.append(Region(o.id, self._category_index(o.category), box, rle))
            out.append(tuple(regions))
        return out

    def save_checkpoint(self, model: VosModel, path: Path) -> None:
        """The network's ``state_dict`` and the scoring memory (plain lists and strings)."""
        import torch

        memory = {v: {str(f): e for f, e in m.items()} for v, m in model.memory.items()}
        with open(path, "wb") as fh:
            torch.save({"state_dict": model.net.state_dict(), "memory": memory}, fh)

    def load_checkpoint(self, path: Path) -> VosModel:
        """A model with the weights and memory of ``path`` (``weights_only``: no code runs)."""
        import torch

        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
            model = self.build_model(np.random.default_rng(0))
            model.net.load_state_dict(data["state_dict"], strict=True)
            model.memory = {
                str(v): {int(f): [list(x) for x in e] for f, e in m.items()}
                for v, m in data["memory"].items()
            }
        except pickle.UnpicklingError as exc:
            # weights_only refused a global (code the file wanted to run), or the file is torn
            raise RunDirError(
                f"{path}: not a plain-tensor checkpoint; refused without running anything "
                f"({str(exc).splitlines()[0]})"
            ) from None
        except (
            RuntimeError, OSError, ValueError, KeyError, TypeError, AttributeError, EOFError
        ) as exc:  # fmt: skip
            raise RunDirError(f"{path}: checkpoint does not match the vos model ({exc})") from None
        return model
