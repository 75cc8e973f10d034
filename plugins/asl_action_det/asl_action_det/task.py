"""Task ``action_det``: video action detection from sparse frame labels (paper §3.3, §4).

The model (:mod:`.model`) predicts the video's action class and a per-pixel localisation of the
actor on every frame of an 8-frame clip. Training uses only the oracle's annotations: labelled
frames are ground truth, every other frame of a clip gets a pseudo-label (the nearest labelled
frame's mask for mask datasets, linear interpolation of the labelled boxes for box datasets,
:mod:`.pseudo`), and the per-frame localisation losses are weighted by the configured
SparseLoss (``mgw``, ``interpolation``, ``masking``; paper eq. 4). Classification uses the
spread loss on the class-capsule activations.

Data: ``task.dataset`` picks the format (:mod:`.layouts`): an ACT-style layout (by default the
embedded synthetic dataset, :mod:`.synth`, generated on first use when its folder is missing),
UCF-101-24 (corrected annotations or ASL pickles, frame folders or ``.avi`` files) or J-HMDB-21
(ACT pickle or the release's splits and puppet masks); see docs/datasets.md.

Evaluation: VideoCapsuleNet-style f-mAP / v-mAP over IoU thresholds and video accuracy
(:mod:`.metrics`, specs §B.5), written to each cycle's ``metrics.json``; with ``box_metrics``
also the box-detection frame-AP / video-AP of the masks' tight boxes (:mod:`.mask_boxes`,
:mod:`.act_eval`, specs §B.2), under their own ``box-`` keys.

Scoring: ``predict`` streams each video clip by clip (tiling of :func:`.clips.tile_clips`) and
yields ``mc_probs`` ``float32[T, F, 2, H, W]`` (background, actor) from ``T`` MC-dropout trials,
running the encoder once per clip and only the dropout-bearing head ``T`` times. A video whose
``mc_probs`` exceed ``predict_chunk_mb`` comes as :class:`asl_core.OutputChunk` values of whole
clip batches (:func:`.clips.chunk_unit`), its frames read chunk by chunk
(:meth:`.dataset.ActionDataset.stream_frames`), so scoring memory does not grow with its length.

Several processes (``torchrun``, :func:`asl_core.dist_context`): ``train`` wraps the model in
``DistributedDataParallel``; every rank draws the whole batch from the shared generator but
decodes and runs only its share, and the losses are scaled so that the averaged gradient is
the one-process gradient of the whole batch.

Loading: with ``loader_workers`` > 0 worker processes decode the training clips of the next
steps while the current one computes (:mod:`.loader`); the draws stay in the training process,
so training is bit-identical to in-process loading.
"""

from __future__ import annotations

import collections
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

from .layouts import DATASETS, as_frame_size

__all__ = ["ActionDetParams", "ActionDetTask"]

log = logging.getLogger(__name__)

HEADLINE = ("f-mAP@0.5", "v-mAP@0.5", "f-mAP@0.2", "v-mAP@0.2", "accuracy")


def _positive(_inst: Any, attr: Any, value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attr.name} must be > 0, got {value}")


@frozen
class ActionDetParams:
    """Parameters of :class:`ActionDetTask` (see docs/tasks/action_det.md).

    Attributes:
        dataset: the annotation format (:mod:`.layouts`, docs/datasets.md): ``"act"`` (an ACT
            ground-truth pickle; the synthetic dataset), ``"ucf101_24"`` (corrected ``.mat``
            annotations, ASL pickles or ``UCF101v2-GT.pkl``) or ``"jhmdb21"``
            (``JHMDB-GT.pkl``, or the release's split files and puppet masks).
        data_root: dataset folder; the paths below are relative to it (or absolute).
        gt_file: ACT ground-truth pickle (``act``; ``ucf101_24`` without
            ``train_annotations``; ``jhmdb21``, where ``None`` reads ``splits_dir`` and the
            masks instead).
        train_annotations, test_annotations: ``ucf101_24``: ``trainAnnot.mat`` +
            ``testAnnot.mat``, or ``training_annots.pkl`` + ``testing_annots.pkl`` (the ASL
            layout; video lengths counted from the frames).
        split_list: ``ucf101_24``: ``testlist01.txt``, splitting a single
            ``train_annotations`` file (``finalAnnots.mat``) into train and test.
        splits_dir: ``jhmdb21`` without ``gt_file``: folder of ``<class>_test_split<k>.txt``.
        frames_dir, frame_pattern, masks_dir: layout of frames and puppet masks.
        videos_dir, video_ext: read ``<videos_dir>/<class>/<video><video_ext>`` with PyAV
            instead of frame folders (``None``: frame folders).
        frame_size: ``(H, W)`` every frame (and mask and box) is resized to, e.g. ``(224,
            224)`` for the paper's I3D input; ``None`` keeps the files' size.
        resolution: ``(H, W)`` of the files for formats that do not store it (UCF-101-24's
            ``.mat`` and ASL pickles; every UCF-101 video is 320 x 240).
        split: 1-based split index (J-HMDB-21 has 3).
        synthesize_if_missing: generate the synthetic dataset when ``data_root`` is missing
            (``dataset="act"`` only).
        synth: generator parameters (see :class:`.synth.SynthParams`).
        target: ``"mask"`` (pixel-wise ground truth, nearest labelled mask as pseudo-label) or
            ``"box"`` (filled boxes, linear box interpolation as pseudo-label).
        clip_len, clip_stride: clip of 8 frames at stride 2 (paper setting).
        encoder: encoder name: ``"tiny"`` (CPU default) or ``"i3d"`` (Inception-I3D cut at
            ``Mixed_4f``, the paper's; see :class:`.i3d.I3DEncoder`).
        encoder_weights: local path of the I3D checkpoint (pytorch-i3d ``rgb_charades.pt``, as
            in the paper, or ``rgb_imagenet.pt``), loaded with ``weights_only=True`` and a strict
            key check; ``None``: random initialisation, with a warning. Only for ``"i3d"``;
            nothing is downloaded.
        dropout: dropout probability of the MC-dropout layers.
        dropout_in: ``"head"`` (encoder deterministic; fast MC) or ``"all"``.
        class_pool: grid pooling of the class scores, ``"actor"`` (default), ``"presence"`` or
            ``"mean"`` (the release's); see :class:`.model.CapsuleDetector`.
        evidence: linear activation evidence in the class capsules (``False``: pure EM routing).
        final_lambda: inverse temperature of the last EM step.
        iterations: training iterations per cycle (the model is retrained from scratch).
        batch_size: clips per training batch.
        lr: Adam learning rate (the peak, with ``lr_schedule="cosine"``).
        lr_schedule: ``"cosine"`` (decay to 0 over the cycle's iterations) or ``"constant"``.
        seg_weight: weight of the localisation losses (pixels and actor map).
        cls_weight: weight of the spread loss.
        margin_start, margin_end: spread-loss margin schedule.
        flip: random horizontal flips in training.
        mc_trials: ``T`` dropout trials of ``predict``.
        eval_batch: clips per forward pass in evaluation and prediction (>= 2: CPU 3-D
            convolutions with batch 1 take a slow path).
        predict_chunk_mb: bound, in MiB (default 32), of the ``mc_probs`` that ``predict``
            holds at once: a video whose ``mc_probs`` (``T * F * 2 * H * W * 4`` bytes) exceed it
            is yielded as :class:`asl_core.OutputChunk` values of the largest whole number of
            alignment units (:func:`.clips.chunk_unit`: ``lcm(clip_stride, eval_batch) *
            clip_len`` frames, 32 with the defaults) that fits, at least one unit. The outputs
            are identical whatever the bound (chunks are cut between the clip batches of the
            unchunked pass).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        loader_workers: worker processes that decode the training clips' frames a few steps
            ahead while the current step computes (:mod:`.loader`; each torchrun process has
            its own); ``0`` (default) reads them in the training process. Training is
            bit-identical for every value: the random draws stay in the training process.
        box_metrics: also report the box-detection frame-AP / video-AP (``act`` preset, IoU 0.5,
            0.2, 0.75 and 0.5:0.95) of the tight boxes of the predicted masks, scored by the
            predicted class's probability, as ``box-frame-AP@<t>`` / ``box-video-AP@<t>``
            (:mod:`.mask_boxes`); never mixed into the VideoCapsuleNet-style ``f-mAP@<t>``.
    """

    dataset: str = field(default="act", validator=validators.in_(DATASETS))
    data_root: str = "data/synthetic_actions"
    gt_file: str | None = "SynthActions-GT.pkl"
    train_annotations: str | None = None
    test_annotations: str | None = None
    split_list: str | None = None
    splits_dir: str = "splits"
    frames_dir: str = "Frames"
    frame_pattern: str = "{:05d}.png"
    videos_dir: str | None = None
    video_ext: str = ".avi"
    masks_dir: str | None = "puppet_mask"
    frame_size: tuple[int, int] | None = field(default=None, converter=as_frame_size)
    resolution: tuple[int, int] = field(
        default=(240, 320), converter=as_frame_size, validator=validators.instance_of(tuple)
    )
    split: int = field(default=1, converter=int)
    synthesize_if_missing: bool = True
    synth: dict = field(factory=dict, converter=dict)
    target: str = field(default="mask", validator=validators.in_(("mask", "box")))
    clip_len: int = field(default=8, converter=int, validator=_positive)
    clip_stride: int = field(default=2, converter=int, validator=_positive)
    encoder: str = "tiny"
    encoder_weights: str | None = field(default=None)
    dropout: float = field(default=0.3, converter=float)
    dropout_in: str = field(default="head", validator=validators.in_(("head", "all")))
    class_pool: str = field(
        default="actor", validator=validators.in_(("actor", "presence", "mean"))
    )
    evidence: bool = field(default=True, validator=validators.instance_of(bool))
    final_lambda: float = field(default=1.0, converter=float, validator=_positive)
    iterations: int = field(default=400, converter=int, validator=_positive)
    batch_size: int = field(default=4, converter=int, validator=_positive)
    lr: float = field(default=1e-3, converter=float, validator=_positive)
    lr_schedule: str = field(default="cosine", validator=validators.in_(("cosine", "constant")))
    seg_weight: float = field(default=1.0, converter=float)
    cls_weight: float = field(default=1.0, converter=float)
    margin_start: float = field(default=0.2, converter=float)
    margin_end: float = field(default=0.9, converter=float)
    flip: bool = True
    mc_trials: int = field(default=10, converter=int, validator=_positive)
    eval_batch: int = field(default=4, converter=int, validator=_positive)
    predict_chunk_mb: float = field(default=32.0, converter=float, validator=_positive)
    device: str = field(default="auto", validator=validators.in_(("auto", "cpu", "cuda")))
    loader_workers: int = field(default=0, converter=int, validator=validators.ge(0))
    box_metrics: bool = field(default=True, validator=validators.instance_of(bool))

    @encoder_weights.validator
    def _check_encoder_weights(self, attribute: Any, value: str | None) -> None:
        if value is None:
            return
        if not isinstance(value, str):
            raise ValueError(f"encoder_weights must be a file path or None, got {value!r}")
        if self.encoder != "i3d":
            raise ValueError(f"encoder_weights is only used by encoder='i3d', not {self.encoder!r}")


class ActionDetTask(Configurable):
    """The paper's action-detection task on an ACT-style dataset (synthetic by default)."""

    Params = ActionDetParams
    outputs = frozenset({MC_PROBS})
    checkpoint_suffix = ".pt"
    headline_metrics = HEADLINE

    def __init__(self, params: ActionDetParams | None = None) -> None:
        super().__init__(params)
        from asl_core import parse_params

        from .layouts import DatasetLayout, open_dataset

        p = self.params
        if p.encoder_weights is not None and not Path(p.encoder_weights).expanduser().is_file():
            # before the dataset: reading a real dataset's annotations takes a while
            raise ConfigError(
                f"{p.encoder_weights}: I3D weights file not found (task.encoder_weights); point "
                "it at your local rgb_charades.pt or rgb_imagenet.pt (docs/datasets.md), or set "
                "it to None to start from random weights"
            )
        root = Path(p.data_root).expanduser()
        if not root.exists():
            if not (p.synthesize_if_missing and p.dataset == "act"):
                raise ConfigError(f"{root}: dataset folder not found (task.data_root)")
            from .synth import SynthParams, generate_synthetic_actions

            log.warning("%s is missing: generating the synthetic action dataset there", root)
            generate_synthetic_actions(root, parse_params(SynthParams, p.synth, where="task.synth"))
        layout = parse_params(
            DatasetLayout,
            {
                "gt_file": p.gt_file,
                "train_annotations": p.train_annotations,
                "test_annotations": p.test_annotations,
                "split_list": p.split_list,
                "splits_dir": p.splits_dir,
                "frames_dir": p.frames_dir,
                "frame_pattern": p.frame_pattern,
                "videos_dir": p.videos_dir,
                "video_ext": p.video_ext,
                "masks_dir": p.masks_dir,
                "split": p.split,
                "frame_size": p.frame_size,
                "resolution": p.resolution,
            },
            where="task",
        )
        self.dataset = open_dataset(p.dataset, root, layout, where="task")
        self._train = {v.id: v for v in self.dataset.videos("train")}
        self._test = list(self.dataset.videos("test"))
        if not self._train or not self._test:
            raise ConfigError(f"{root}: the dataset needs train and test videos")
        self.num_classes = len(self.dataset.labels)
        first = next(iter(self._train.values()))
        self.height, self.width = first.height, first.width

    # ------------------------------------------------------------------ helpers

    def _device(self) -> Any:
        """This process's torch device: ``cuda:<local rank>`` under torchrun (task.device)."""
        return dist_context().torch_device(self.params.device)

    def predict_chunk_frames(self, num_frames: int) -> int:
        """Frames per :meth:`predict` chunk of a video of ``num_frames`` frames (see
        ``predict_chunk_mb``); ``num_frames`` itself when the whole video fits."""
        from .clips import chunk_unit

        p = self.params
        per_frame = p.mc_trials * 2 * self.height * self.width * 4  # float32 mc_probs bytes
        if num_frames * per_frame <= p.predict_chunk_mb * 2**20:
            return num_frames
        unit = chunk_unit(p.clip_len, p.clip_stride, p.eval_batch)
        units = int(p.predict_chunk_mb * 2**20 // (unit * per_frame))
        return min(num_frames, unit * max(units, 1))

    def _clip_tensor(self, frames: np.ndarray, index: np.ndarray) -> Any:
        """uint8 [F, H, W, 3] frames gathered at ``index [B, L]`` → float [B, 3, L, H, W]."""
        import torch

        x = torch.from_numpy(frames[index]).float().div_(255.0)  # [B, L, H, W, 3]
        return x.permute(0, 4, 1, 2, 3).contiguous()

    # ------------------------------------------------------------------ Task interface

    def pool(self) -> list[VideoInfo]:
        """The training videos, in the ground-truth file's order."""
        return [VideoInfo(v.id, v.num_frames, v.label, "train") for v in self._train.values()]

    def build_model(self, rng: np.random.Generator) -> Any:
        """A freshly initialised detector (weights drawn from a torch seed taken from ``rng``)."""
        import torch

        from .model import CapsuleDetector

        torch.manual_seed(int(rng.integers(2**63 - 1)))
        p = self.params
        return CapsuleDetector(
            self.num_classes,
            encoder=p.encoder,
            encoder_kw={"weights": p.encoder_weights} if p.encoder == "i3d" else None,
            dropout=p.dropout,
            dropout_in=p.dropout_in,
            class_pool=p.class_pool,
            evidence=p.evidence,
            final_lambda=p.final_lambda,
        )

    def _targets(
        self,
        video: Any,
        labelled: np.ndarray,
        annotations: Mapping[FrameRef, FrameAnnotation],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame training target ``bool[F, H, W]`` of one video from its annotations only,
        and for each frame the labelled frame it was taken from."""
        from .pseudo import nearest_labelled, pseudo_boxes, rasterize_boxes

        h, w, n = self.height, self.width, video.num_frames
        if self.params.target == "mask":
            from pycocotools import mask as mask_utils

            labelled_masks = np.zeros((len(labelled), h, w), dtype=bool)
            for i, f in enumerate(labelled):
                for region in annotations[FrameRef(video.id, int(f))].regions:
                    if region.mask is not None:
                        rle = {"size": list(region.mask["size"]), "counts": region.mask["counts"]}
                        if isinstance(rle["counts"], str):
                            rle["counts"] = rle["counts"].encode("ascii")
                        labelled_masks[i] |= mask_utils.decode(rle).astype(bool)
                    elif region.box is not None:
                        labelled_masks[i] |= rasterize_boxes(np.asarray([region.box]), h, w)
            nearest = nearest_labelled(n, labelled)
            pos = np.searchsorted(labelled, nearest)
            return labelled_masks[pos], nearest
        regions = {
            int(f): [
                r for r in annotations[FrameRef(video.id, int(f))].regions if r.box is not None
            ]
            for f in labelled
        }
        boxes = pseudo_boxes(n, labelled, regions)
        target = np.stack([boxes.mask(f, h, w) for f in range(n)])
        return target, nearest_labelled(n, labelled)

    def train(
        self,
        model: Any,
        labels: LabelState,
        annotations: Mapping[FrameRef, FrameAnnotation],
        loss: SparseLoss,
        rng: np.random.Generator,
        progress: Progress,
    ) -> Any:
        """Train from scratch on clips centred on labelled frames (Adam, spread + weighted BCE).

        Every random choice of a batch item (video, centre frame, clip position, flip and the
        seed of its dropout masks) is drawn from ``rng`` for every item of the batch, in item
        order, so the training does not depend on how many processes share it.

        Under torchrun (:func:`asl_core.dist_context` enabled) the model is wrapped in
        ``DistributedDataParallel`` on ``cuda:<local rank>`` or the CPU; every rank makes the
        same draws (all ranks hold the same ``rng`` state) but decodes frames and runs the model
        only for its share of the batch (:meth:`asl_core.DistContext.batch_share`). Each loss
        term is rescaled from a mean over the rank's items to its share of the mean over the
        whole batch (the counts of clips showing an actor, for the spread loss, and with a
        weighted frame, for the actor-map loss, come from the draws, known on every rank), times
        the world size, so that the gradient DistributedDataParallel averages is the
        one-process gradient of the whole batch. Returns the unwrapped module, on the CPU.

        With ``loader_workers > 0`` the clips' frames are decoded by that many worker processes
        (:class:`.loader.ClipBatchLoader`), a few steps ahead of the step being computed; the
        draws are still made here, from ``rng``, in the same order and number, so the result is
        bit-identical to ``loader_workers = 0``. The workers are shut down when training ends,
        fails or is interrupted.

        Raises:
            ValueError: no labelled frame.
            ConfigError: under torchrun, ``batch_size`` below the number of processes.
            FloatingPointError: a non-finite loss (of the whole batch: every rank raises).
            DatasetError: a clip's frames cannot be read (naming the file), from a worker too.
        """
        import torch

        from .clips import train_clip
        from .loader import ClipBatchLoader, ClipSpec, StepSpec
        from .losses import actor_map_loss, margin_at, pixel_bce_per_frame, spread_loss

        p = self.params
        ctx = dist_context()
        if ctx.enabled and p.batch_size < ctx.world_size:
            raise ConfigError(
                f"task.batch_size={p.batch_size} is smaller than the {ctx.world_size} processes "
                "of this torchrun job: every process needs at least one clip of each batch"
            )
        device = self._device()
        torch.manual_seed(int(rng.integers(2**63 - 1)))
        videos = [v for v in self._train.values() if labels.labelled(v.id).size]
        if not videos:
            raise ValueError("no labelled frame to train on")
        prepared = []
        for v in videos:
            lab = labels.labelled(v.id)
            target, _ = self._targets(v, lab, annotations)
            weights = np.asarray(loss.frame_weights(v.num_frames, lab), dtype=np.float32)
            prepared.append((v, lab, target, weights))
        model.to(device).train()
        net = model
        if ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel

            net = DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )
        optimiser = torch.optim.Adam(model.parameters(), lr=p.lr)
        # a cycle ends at a fixed step count, not at convergence: decaying the rate to 0 makes the
        # evaluated model the average of the last steps' region rather than one noisy Adam step
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimiser,
            (lambda s: 0.5 * (1.0 + math.cos(math.pi * s / p.iterations)))
            if p.lr_schedule == "cosine"
            else (lambda s: 1.0),
        )
        mine = list(ctx.batch_share(p.batch_size))
        # each step's draws, waiting for their frames: with loader workers the specs are drawn
        # up to a few steps ahead of the step that computes (from rng alone, in the same order)
        pending: collections.deque[list[tuple]] = collections.deque()

        def step_specs() -> Iterator[StepSpec]:
            for step in range(p.iterations):
                picks = rng.integers(len(prepared), size=p.batch_size)
                draws = []
                for k in picks:
                    v, lab, target, w = prepared[int(k)]
                    center = int(lab[rng.integers(lab.size)])
                    index, valid = train_clip(center, v.num_frames, p.clip_len, p.clip_stride, rng)
                    flip = bool(p.flip and rng.random() < 0.5)
                    seed = int(rng.integers(2**63 - 1))
                    fw = np.where(valid, w[index], 0.0)
                    # a clip centred on a labelled frame without actor shows nothing of the class
                    draws.append((v, target, index, fw, flip, seed, bool(target[center].any())))
                pending.append(draws)
                yield StepSpec(
                    step, [ClipSpec(draws[i][0].id, draws[i][2], draws[i][4]) for i in mine]
                )

        progress.start(p.iterations, "steps")
        with ClipBatchLoader(self.dataset, step_specs(), p.loader_workers) as batches:
            for step, frames in batches:
                draws = pending.popleft()
                masks, weights, classes, shown, gens = [], [], [], [], []
                for i in mine:
                    v, target, index, fw, flip, seed, on = draws[i]
                    mask = target[index]
                    masks.append(mask[:, :, ::-1] if flip else mask)
                    weights.append(fw)
                    classes.append(v.label)
                    shown.append(on)
                    # per-clip dropout masks: the same for a clip whichever process computes it
                    gens.append(torch.Generator().manual_seed(seed))
                x = frames.permute(0, 4, 1, 2, 3).to(device)  # [B, 3, L, H, W]
                y = torch.from_numpy(np.stack(masks).astype(np.float32)).to(device)
                fw = torch.from_numpy(np.stack(weights).astype(np.float32)).to(device)
                cls = torch.as_tensor(classes, dtype=torch.long, device=device)
                out = net(x, target=cls, generators=gens)
                margin = margin_at(step, p.iterations, p.margin_start, p.margin_end)
                on = torch.as_tensor(shown, device=device)
                cls_loss = (
                    spread_loss(out.activations[on], cls[on], margin)
                    if bool(on.any())
                    else out.activations.sum() * 0.0
                )
                seg_loss = loss.reduce(pixel_bce_per_frame(out.logits, y), fw).mean()
                map_loss = actor_map_loss(out.actor_logits, y, fw)
                if ctx.enabled:
                    # each term: a mean over this rank's items → its part of the whole batch's mean
                    cls_loss = cls_loss * (sum(shown) / max(sum(d[6] for d in draws), 1))
                    seg_loss = seg_loss * (len(mine) / p.batch_size)
                    used = [bool((d[3] > 0).any()) for d in draws]
                    map_loss = map_loss * (sum(used[i] for i in mine) / max(sum(used), 1))
                seg_loss = seg_loss + map_loss
                total = p.cls_weight * cls_loss + p.seg_weight * seg_loss
                report = torch.stack([total, cls_loss, seg_loss]).detach()
                if ctx.enabled:
                    import torch.distributed as dist

                    dist.all_reduce(report)  # the whole batch's losses, the same on every rank
                if not bool(torch.isfinite(report[0])):
                    # never keep training on garbage: a NaN here poisons every later step
                    raise FloatingPointError(
                        f"action_det training diverged at step {step}: loss {float(report[0])} "
                        f"(classification {float(report[1])}, localisation {float(report[2])}); "
                        "lower task.lr"
                    )
                optimiser.zero_grad(set_to_none=True)
                # DistributedDataParallel averages the ranks' gradients; their sum is wanted
                (total * ctx.world_size if ctx.enabled else total).backward()
                optimiser.step()
                scheduler.step()
                progress.advance(1)
        del net  # drops DistributedDataParallel's hooks on the parameters
        return model.cpu()

    def _tiles(self, video: Any) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(frames, index [N, L], valid [N, L])`` tiling of one video, in eval-batch chunks."""
        from .clips import tile_clips

        frames = self.dataset.read_frames(video.id)
        index, valid = tile_clips(video.num_frames, self.params.clip_len, self.params.clip_stride)
        for s in range(0, len(index), self.params.eval_batch):
            yield (
                frames,
                index[s : s + self.params.eval_batch],
                valid[s : s + self.params.eval_batch],
            )

    def evaluate(
        self, model: Any, rng: np.random.Generator, progress: Progress
    ) -> dict[str, float]:
        """f-mAP / v-mAP at every threshold and video accuracy on the test split (specs §B.5);
        with ``box_metrics`` also box frame-AP / video-AP (``box-`` keys, :mod:`.mask_boxes`).

        The predicted mask of a frame is ``logits > 0`` (sigmoid >= 0.5); the video's class is the
        argmax of its clip votes (class activations weighted by the clip's mean actor-map
        probability, summed). The box detections are the masks' tight boxes, labelled with that
        class and scored with its share of the votes (:func:`.mask_boxes.class_probabilities`).
        """
        import torch

        from .metrics import LocalizationMetric

        device = self._device()
        model.to(device).eval()
        metric = LocalizationMetric(self.num_classes)
        boxes = None
        if self.params.box_metrics:
            from .mask_boxes import MaskBoxDetections, class_probabilities

            boxes = MaskBoxDetections(self._test, self.dataset.labels)
        progress.start(len(self._test), "videos")
        with torch.no_grad():
            for video in self._test:
                gt = self.dataset.gt_mask(video.id)
                act_sum = np.zeros(self.num_classes)
                for frames, index, valid in self._tiles(video):
                    out = model(self._clip_tensor(frames, index).to(device))
                    # clips vote for the video's class by how much actor they show, so stretches
                    # outside the tube (no class evidence) hardly count
                    shown = torch.sigmoid(out.actor_logits).mean(dim=(1, 2), keepdim=True)
                    act_sum += (out.activations * shown[:, :, 0]).sum(0).cpu().numpy()
                    pred = (out.logits > 0).cpu().numpy()  # sigmoid >= 0.5
                    real = index[valid]
                    p_valid = pred[valid]
                    inter = (p_valid & gt[real]).sum(axis=(1, 2))
                    union = (p_valid | gt[real]).sum(axis=(1, 2))
                    has_gt = gt[real].any(axis=(1, 2))
                    metric.update_frames(video.id, video.label, inter, union, has_gt)
                    if boxes is not None:
                        boxes.update(video.id, real, p_valid)
                label = int(np.argmax(act_sum))
                metric.end_video(video.id, label)
                if boxes is not None:
                    boxes.end_video(video.id, label, float(class_probabilities(act_sum)[label]))
                progress.advance(1)
        model.cpu()
        out = metric.compute()
        if boxes is not None:
            out.update(boxes.compute())
        return out

    def predict(
        self,
        model: Any,
        videos: Sequence[VideoInfo],
        requires: frozenset[str],
        rng: np.random.Generator,
    ) -> Iterator[tuple[str, dict[str, np.ndarray]] | OutputChunk]:
        """``mc_probs`` ``float32[T, F, 2, H, W]`` per video, streamed clip batch by clip batch.

        A video whose ``mc_probs`` fit in ``predict_chunk_mb`` is yielded whole, as
        ``(video_id, {"mc_probs": ...})``; a longer one as consecutive
        :class:`asl_core.OutputChunk` values of :meth:`predict_chunk_frames` frames
        (``mc_probs`` ``float32[T, stop - start, 2, H, W]``), its frames decoded chunk by chunk.
        Chunks are cut between the clip batches of the unchunked pass, and the MC-dropout
        generator is consumed batch after batch in the same order, so the outputs are
        identical whatever ``predict_chunk_mb`` is.
        """
        import torch

        from .clips import tile_clips

        p = self.params
        device = self._device()
        model.to(device).eval()
        gen = torch.Generator(device=device)
        gen.manual_seed(int(rng.integers(2**63 - 1)))
        try:
            for info in videos:
                video = self._train[info.id]
                n = video.num_frames
                step = self.predict_chunk_frames(n)
                index, valid = tile_clips(n, p.clip_len, p.clip_stride)
                # a clip's first position is in its block, and clips go block by block
                first = index[:, 0]
                start = 0
                for frames in self.dataset.stream_frames(video.id, step):
                    stop = start + frames.shape[0]
                    c0, c1 = (int(c) for c in np.searchsorted(first, [start, stop]))
                    probs = np.empty(
                        (p.mc_trials, stop - start, 2, self.height, self.width), dtype=np.float32
                    )
                    with torch.no_grad():
                        for s in range(c0, c1, p.eval_batch):
                            idx = index[s : min(s + p.eval_batch, c1)] - start
                            ok = valid[s : min(s + p.eval_batch, c1)]
                            _, prob = model.mc_forward(
                                self._clip_tensor(frames, idx).to(device), p.mc_trials, gen
                            )
                            # every frame lies in exactly one clip: each is written once
                            probs[:, idx[ok], 1] = prob.cpu().numpy()[:, ok]
                    probs[:, :, 0] = 1.0 - probs[:, :, 1]
                    if start == 0 and stop == n:
                        yield info.id, {MC_PROBS: probs}
                    else:
                        yield OutputChunk(info.id, start, stop, n, {MC_PROBS: probs})
                    del probs  # not kept alive while the next chunk is computed
                    start = stop
        finally:
            model.cpu()

    @property
    def category_names(self) -> tuple[str, ...]:
        """The action classes, in label order (for annotation tools)."""
        return tuple(self.dataset.labels)

    def exchange_videos(self, ids: Sequence[str]) -> dict[str, ExchangeVideo]:
        """Each pool video as an annotation tool sees it: frame count, size, and the frame file
        names (``frame_pattern`` of the 1-based frame number) (``asl-run export`` / ``import``)."""
        out = {}
        for vid in ids:
            video = self._train[vid]
            names = tuple(self.params.frame_pattern.format(i + 1) for i in range(video.num_frames))
            out[vid] = ExchangeVideo(vid, video.num_frames, self.width, self.height, names)
        return out

    def predict_regions(self, model: Any, frames: Sequence[FrameRef]) -> list[tuple[Region, ...]]:
        """The model's actor on each frame, to pre-fill an annotation tool (``asl-run export``):
        the tight box of the predicted mask (``logits > 0``), with the mask itself as RLE for
        mask datasets, labelled with the video's predicted class (the clip votes of
        :meth:`evaluate`); no region on a frame without predicted pixels."""
        import torch
        from pycocotools import mask as mask_utils

        device = self._device()
        model.to(device).eval()
        by_video: dict[str, list[int]] = {}
        for ref in frames:
            by_video.setdefault(ref.video, []).append(ref.frame)
        found: dict[FrameRef, tuple[Region, ...]] = {}
        try:
            with torch.no_grad():
                for vid, wanted in by_video.items():
                    video = self._train[vid]
                    masks = np.zeros((video.num_frames, self.height, self.width), dtype=bool)
                    votes = np.zeros(self.num_classes)
                    for clip_frames, index, valid in self._tiles(video):
                        out = model(self._clip_tensor(clip_frames, index).to(device))
                        shown = torch.sigmoid(out.actor_logits).mean(dim=(1, 2), keepdim=True)
                        votes += (out.activations * shown[:, :, 0]).sum(0).cpu().numpy()
                        masks[index[valid]] = (out.logits > 0).cpu().numpy()[valid]
                    label = int(np.argmax(votes))
                    for f in wanted:
                        ys, xs = np.nonzero(masks[f])
                        if not ys.size:
                            found[FrameRef(vid, f)] = ()
                            continue
                        box = (
                            float(xs.min()),
                            float(ys.min()),
                            float(xs.max() + 1),
                            float(ys.max() + 1),
                        )
                        rle = None
                        if self.params.target == "mask":
                            rle = mask_utils.encode(np.asfortranarray(masks[f].astype(np.uint8)))
                        found[FrameRef(vid, f)] = (Region(0, label, box, rle),)
        finally:
            model.cpu()
        return [found[FrameRef(ref.video, ref.frame)] for ref in frames]

    def read_frame(self, video: str, index: int) -> np.ndarray:
        """Frame ``index`` of a pool video, ``uint8[H, W, 3]`` (``asl-run export --frames-dir``)."""
        return np.asarray(self.dataset.read_frames(video)[index])

    def ground_truth(self, frames: Sequence[FrameRef]) -> list[tuple[Region, ...]]:
        """Each actor on the frame: box and mask from the dataset (simulated oracle only)."""
        return [tuple(self.dataset.frame_regions(ref.video, ref.frame)) for ref in frames]

    def save_checkpoint(self, model: Any, path: Path) -> None:
        """The model's ``state_dict`` (tensors only) written to exactly ``path``."""
        import torch

        with open(path, "wb") as fh:
            torch.save(model.state_dict(), fh)

    def load_checkpoint(self, path: Path) -> Any:
        """A model with the weights of ``path`` (``weights_only``: no code runs)."""
        import torch

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model = self.build_model(np.random.default_rng(0))
            model.load_state_dict(state, strict=True)
        except pickle.UnpicklingError as exc:
            # weights_only refused a global (code the file wanted to run), or the file is torn
            raise RunDirError(
                f"{path}: not a plain-tensor checkpoint; refused without running anything "
                f"({str(exc).splitlines()[0]})"
            ) from None
        except (RuntimeError, OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            raise RunDirError(
                f"{path}: checkpoint does not match the action_det model ({exc})"
            ) from None
        return model
