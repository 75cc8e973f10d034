"""Propagation, memory-based prediction and the training pass of the STCN-style model (specs §C.3).

* :func:`propagate` - semi-supervised VOS inference, causal, as STCN evaluates YouTube-VOS: each
  object starts at its first given frame, given frames are permanent memory, and every
  ``mem_every`` frames a predicted frame joins the memory.
* :func:`predict_from_memory` - for uncertainty scoring with sparse labels: the memory is exactly
  the labelled frames, every frame reads it, and the decoder runs ``mc_trials`` times with
  dropout masks from an explicit generator (paper §3.3 applied to VOS, §4.5);
  :func:`stream_from_memory` gives the same values in pieces, reading frames on demand, so a
  long video is never whole in memory.
* :func:`training_forward` - STCN's training scheme on ``S`` frames: frame 0's masks are the
  memory, each later frame is segmented from the memory of the frames before it and its soft
  prediction becomes its memory value; per-sample dropout generators make a sample's result
  independent of the rest of its batch, and :class:`TrainingPass` is the module that
  ``DistributedDataParallel`` wraps.

Frames are RGB in ``[0, 1]``; inference functions take ``[F, 3, H, W]`` tensors on any device,
run on the model's device and return CPU ``float32`` probabilities with channel 0 = background.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .model import STCN, ChannelDropout, KeyFeatures, aggregate_logits, soft_aggregate

__all__ = [
    "FrameReader",
    "TrainingPass",
    "predict_from_memory",
    "propagate",
    "stream_from_memory",
    "training_forward",
]


def _pad_amounts(h: int, w: int, multiple: int = 16) -> tuple[int, int, int, int]:
    """``(left, right, top, bottom)`` padding to the next multiple, split evenly (extra at the
    end), as STCN centres its padded frames."""
    ph, pw = -h % multiple, -w % multiple
    return pw // 2, pw - pw // 2, ph // 2, ph - ph // 2


def _pad(x: torch.Tensor, pads: tuple[int, int, int, int], mode: str) -> torch.Tensor:
    if not any(pads):
        return x
    if mode == "replicate":
        return F.pad(x, pads, mode="replicate")
    return F.pad(x, pads)


def _crop(x: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
    left, right, top, bottom = pads
    return x[..., top : x.shape[-2] - bottom, left : x.shape[-1] - right]


def _device(model: STCN) -> torch.device:
    return next(model.parameters()).device


def _chunks(frames: int, chunk: int) -> Iterator[tuple[int, int]]:
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    for start in range(0, frames, chunk):
        yield start, min(start + chunk, frames)


def _check_frames(frames: torch.Tensor) -> None:
    if frames.dim() != 4 or frames.shape[1] != 3:
        raise ValueError(f"frames must be [F, 3, H, W], got {tuple(frames.shape)}")


@torch.no_grad()
def propagate(
    model: STCN,
    frames: torch.Tensor,
    given: Mapping[int, tuple[torch.Tensor, torch.Tensor]],
    *,
    mem_every: int = 5,
    top_k: int | None = 20,
    chunk: int = 8,
) -> torch.Tensor:
    """Semi-supervised VOS inference (STCN style, causal).

    ``given[t] = (masks, starts)``: at frame ``t`` the objects with ``starts[k]`` true are given
    by ``masks[k]``. Processing runs from the first given frame ``t0`` forward:

    * frames before ``t0`` are all background (probability 1 in channel 0);
    * an object is exactly 0 before its first given frame and takes no part in the aggregation;
    * at a given frame the given objects take their given masks, the other started objects keep
      their predictions except where a given mask is > 0.5 (set to 0 there, so the given
      objects win), and the result is soft-aggregated; the frame becomes permanent memory;
    * any other frame is segmented from the memory; it joins the memory when ``mem_every``
      frames have passed since the last memory frame (its soft probabilities are the value);
    * memory values of objects not yet started come from zero masks.

    Frames are padded to multiples of 16 (replicated borders, masks padded with 0) and cropped
    back. Key features are computed ``chunk`` frames at a time and only memory frames' keys and
    values are kept, so memory grows with the memory bank, not with the video. The model is used
    as it is (call ``model.eval()`` first for deterministic output).

    Args:
        model: the network.
        frames: ``[F, 3, H, W]`` RGB in ``[0, 1]``.
        given: ``{t: (masks [K, H, W] in [0, 1], starts [K] bool)}``; every entry has the same
            ``K``; ``t`` in ``[0, F)``.
        mem_every: memory period in frames (STCN: 5).
        top_k: memory locations kept per query (STCN: 20; ``None`` = all).
        chunk: frames per key-encoder batch.

    Returns:
        ``float32[F, K+1, H, W]`` probabilities on the CPU; channels sum to 1; channel 0 =
        background, channel ``1 + k`` = object ``k``. With an empty ``given`` (``K = 0``) every
        frame is background.

    Raises:
        ValueError: bad shapes, frame indices outside the video, ``mem_every < 1``.
    """
    _check_frames(frames)
    if mem_every < 1:
        raise ValueError(f"mem_every must be >= 1, got {mem_every}")
    n_frames, _, height, width = frames.shape
    entries = _check_given(given, n_frames, height, width)
    k = entries[next(iter(entries))][0].shape[0] if entries else 0
    out = torch.zeros(n_frames, k + 1, height, width)
    out[:, 0] = 1.0
    if not entries or k == 0:
        return out
    device = _device(model)
    pads = _pad_amounts(height, width)
    t0 = min(entries)
    started = torch.zeros(k, dtype=torch.bool, device=device)
    mem_k: list[torch.Tensor] = []  # [1, Ck, 1, h, w] each
    mem_v: list[torch.Tensor] = []  # [1, K, Cv, 1, h, w] each
    last_mem = t0
    for start, stop in _chunks(n_frames - t0, chunk):
        block = _pad(frames[t0 + start : t0 + stop].to(device, torch.float32), pads, "replicate")
        feats = model.encode_key(block)
        for i in range(stop - start):
            t = t0 + start + i
            f = feats.take(i)
            if mem_k:
                logits = model.segment(
                    f, torch.cat(mem_k, dim=2), torch.cat(mem_v, dim=3), top_k=top_k
                )
                prob = torch.sigmoid(logits)[0]  # [K, H', W']
            else:
                prob = torch.zeros(k, *block.shape[-2:], device=device)
            is_given = t in entries
            if is_given:
                masks, starts = entries[t]
                masks = _pad(masks.to(device, torch.float32), pads, "constant")
                starts = starts.to(device)
                if starts.any():
                    prob = prob * (masks[starts].amax(0, keepdim=True) <= 0.5)
                    prob[starts] = masks[starts]
                started |= starts
            idx = started.nonzero().flatten()
            full = torch.zeros(k + 1, *prob.shape[-2:], device=device)
            full[0] = 1.0
            if len(idx):
                agg = soft_aggregate(prob[idx].unsqueeze(0))[0]
                full[0] = agg[0]
                full[1 + idx] = agg[1:]
            out[t] = _crop(full, pads).float().cpu()
            if is_given or t - last_mem >= mem_every:
                mem_k.append(f.k16.unsqueeze(2))
                mem_v.append(
                    model.encode_value(block[i : i + 1], f.f16, full[1:].unsqueeze(0)).unsqueeze(3)
                )
                last_mem = t
    return out


def _check_given(
    given: Mapping[int, tuple[torch.Tensor, torch.Tensor]], n_frames: int, height: int, width: int
) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    entries: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    k: int | None = None
    for t, (masks, starts) in sorted(given.items()):
        t = int(t)
        if not 0 <= t < n_frames:
            raise ValueError(f"given frame {t} is outside the video (0..{n_frames - 1})")
        starts = torch.as_tensor(starts, dtype=torch.bool).flatten()
        if masks.dim() != 3 or tuple(masks.shape[1:]) != (height, width):
            raise ValueError(
                f"given[{t}] masks must be [K, {height}, {width}], got {tuple(masks.shape)}"
            )
        if starts.shape[0] != masks.shape[0] or (k is not None and masks.shape[0] != k):
            raise ValueError(
                f"given[{t}]: {masks.shape[0]} masks and {starts.shape[0]} start flags; "
                f"every given frame needs the same K (first: {k})"
            )
        k = masks.shape[0]
        entries[t] = (masks, starts)
    return entries


def _trial_generators(generator: torch.Generator, trials: int) -> list[torch.Generator]:
    """One CPU generator per MC trial, seeded from ``generator``, so that trial ``i`` draws its
    masks from the same stream whatever the other trials do."""
    seeds = torch.randint(0, 2**62, (trials,), generator=generator, device=generator.device)
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


#: reads frames of a video by index: ``frames_at([t, ...])`` → ``[n, 3, H, W]`` RGB in [0, 1]
FrameReader = Callable[[Sequence[int]], torch.Tensor]


@torch.no_grad()
def stream_from_memory(
    model: STCN,
    frames_at: FrameReader,
    num_frames: int,
    given: Mapping[int, torch.Tensor],
    *,
    top_k: int | None = 20,
    mc_trials: int = 1,
    generator: torch.Generator | None = None,
    chunk: int = 8,
    span: int | None = None,
) -> Iterator[tuple[int, int, torch.Tensor]]:
    """:func:`predict_from_memory` in consecutive pieces of ``span`` frames, reading frames on
    demand: memory stays that of the memory frames, one batch of ``chunk`` query frames and one
    piece of output, whatever the video's length.

    The memory (keys and values of the given frames, read with ``frames_at(sorted(given))``)
    is encoded and the per-trial generators are drawn from ``generator`` when this is called;
    the query frames are then read ``chunk`` at a time (``frames_at([start, ..., stop - 1])``)
    as the pieces are consumed. The batches always start at multiples of ``chunk``, whatever
    ``span``, and a piece boundary may cut a batch (its frames are held until the next piece):
    the decoder draws each trial's dropout masks per batch in order, so every ``span`` gives
    exactly the probabilities of the whole-video call with the same generator state.

    Args:
        model: the network (normally in ``eval()`` mode).
        frames_at: reads frames by index (:data:`FrameReader`), on any device.
        num_frames: ``F``.
        given: ``{t: masks [K, H, W]}`` of the labelled frames (``0 <= t < F``), as for
            :func:`predict_from_memory`.
        top_k, mc_trials, generator, chunk: as for :func:`predict_from_memory`.
        span: frames per piece, ``>= 1``; ``None``: the whole video in one piece.

    Returns:
        An iterator of ``(start, stop, float32[mc_trials, stop - start, K+1, H, W])`` CPU
        tensors, consecutive, covering ``0..F-1``, each ``span`` frames but the last.

    Raises:
        ValueError: as :func:`predict_from_memory`; ``span < 1``; frames of the wrong shape
            from ``frames_at``.
    """
    if mc_trials < 1:
        raise ValueError(f"mc_trials must be >= 1, got {mc_trials}")
    if mc_trials > 1 and generator is None:
        raise ValueError("mc_trials > 1 needs a generator (dropout is off in eval mode without)")
    if not given:
        raise ValueError("predict_from_memory needs at least one given (labelled) frame")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    span = num_frames if span is None else int(span)
    if span < 1:
        raise ValueError(f"span must be >= 1, got {span}")
    height, width = next(iter(given.values())).shape[-2:]
    entries = _check_given(
        {t: (m, torch.ones(m.shape[0], dtype=torch.bool)) for t, m in given.items()},
        num_frames,
        height,
        width,
    )
    k = next(iter(entries.values()))[0].shape[0]
    device = _device(model)
    pads = _pad_amounts(height, width)

    def read(index: Sequence[int]) -> torch.Tensor:
        frames = frames_at(index)
        _check_frames(frames)
        if tuple(frames.shape) != (len(index), 3, height, width):
            raise ValueError(
                f"frames_at gave {tuple(frames.shape)} for {len(index)} frames of {height}x{width}"
            )
        return _pad(frames.to(device, torch.float32), pads, "replicate")

    times = sorted(entries)
    keys, values = [], []
    for start, stop in _chunks(len(times), chunk):
        sel = times[start:stop]
        block = read(sel)
        masks = torch.stack([entries[t][0] for t in sel]).to(device, torch.float32)
        feats = model.encode_key(block)
        keys.append(feats.k16)  # [n, Ck, h, w]
        values.append(model.encode_value(block, feats.f16, _pad(masks, pads, "constant")))
    mem_k = torch.cat(keys).permute(1, 0, 2, 3).unsqueeze(0).contiguous()  # [1, Ck, T, h, w]
    mem_v = torch.cat(values).permute(1, 2, 0, 3, 4).unsqueeze(0).contiguous()  # [1,K,Cv,T,h,w]
    del keys, values
    gens = _trial_generators(generator, mc_trials) if generator is not None else [None]

    def pieces() -> Iterator[tuple[int, int, torch.Tensor]]:
        piece: torch.Tensor | None = None
        piece_start = filled = 0
        for start, stop in _chunks(num_frames, chunk):
            n = stop - start
            with torch.no_grad():
                feats: KeyFeatures = model.encode_key(read(range(start, stop)))
                readout = model.read_memory(
                    mem_k.expand(n, *mem_k.shape[1:]),
                    mem_v.expand(n, *mem_v.shape[1:]),
                    feats.k16,
                    top_k,
                )
                batch = torch.empty(mc_trials, n, k + 1, height, width)
                for trial, g in enumerate(gens):
                    logits = model.decode(readout, feats, mc_generator=g)
                    batch[trial] = _crop(soft_aggregate(torch.sigmoid(logits)), pads).float().cpu()
            pos = 0
            while pos < n:
                if piece is None:
                    size = min(span, num_frames - piece_start)
                    piece = torch.empty(mc_trials, size, k + 1, height, width)
                    filled = 0
                take = min(n - pos, piece.shape[1] - filled)
                piece[:, filled : filled + take] = batch[:, pos : pos + take]
                filled += take
                pos += take
                if filled == piece.shape[1]:
                    yield piece_start, piece_start + filled, piece
                    piece_start += filled
                    piece = None

    return pieces()


@torch.no_grad()
def predict_from_memory(
    model: STCN,
    frames: torch.Tensor,
    given: Mapping[int, torch.Tensor],
    *,
    top_k: int | None = 20,
    mc_trials: int = 1,
    generator: torch.Generator | None = None,
    chunk: int = 8,
) -> torch.Tensor:
    """Segment every frame from a memory of exactly the labelled frames, with MC dropout.

    The memory holds the given frames (keys and values encoded once, the values from their
    masks; not causal: memory frames before and after a query count alike). Every frame, given
    ones included, reads that memory once; the decoder then runs ``mc_trials`` times. With a
    ``generator``, trial ``i`` draws its dropout masks from its own generator seeded from it
    (so the result is reproducible for a given generator state and ``chunk``); without one,
    the decoder's dropout follows the module mode (off in ``eval()``), which only makes sense
    with ``mc_trials == 1``. Frames are padded to multiples of 16 and cropped back, and
    processed ``chunk`` at a time. :func:`stream_from_memory` gives the same in pieces.

    Args:
        model: the network (normally in ``eval()`` mode).
        frames: ``[F, 3, H, W]`` RGB in ``[0, 1]``.
        given: ``{t: masks [K, H, W]}`` of the labelled frames (an object absent from a frame
            has a zero mask); same ``K`` everywhere, at least one frame.
        top_k: memory locations kept per query (``None`` = all).
        mc_trials: decoder passes per frame.
        generator: source of the dropout masks; required when ``mc_trials > 1``.
        chunk: frames per batch.

    Returns:
        ``float32[mc_trials, F, K+1, H, W]`` soft-aggregated probabilities on the CPU, channel 0
        = background.

    Raises:
        ValueError: no given frame, bad shapes, ``mc_trials < 1``, or ``mc_trials > 1`` without
            a generator.
    """
    _check_frames(frames)
    n_frames = frames.shape[0]
    if given:
        masks = next(iter(given.values()))
        if masks.dim() != 3 or tuple(masks.shape[1:]) != tuple(frames.shape[2:]):
            raise ValueError(
                f"given masks must be [K, {frames.shape[2]}, {frames.shape[3]}], "
                f"got {tuple(masks.shape)}"
            )
    ((_, _, out),) = stream_from_memory(
        model,
        lambda index: frames[list(index)],
        n_frames,
        given,
        top_k=top_k,
        mc_trials=mc_trials,
        generator=generator,
        chunk=chunk,
    )
    return out


@contextlib.contextmanager
def _per_sample_dropout(model: STCN, generators: Sequence[torch.Generator]) -> Iterator[None]:
    """Inside the block, the decoder's channel dropout (when the model is in ``train()`` mode)
    draws sample ``b``'s masks from ``generators[b]`` alone: each call on ``[B*K, C, h, w]``
    (object-major within a sample) draws ``rand(K, C)`` from each sample's generator in turn,
    on the CPU. So a sample's masks do not depend on which other samples share the batch,
    which is what lets data-parallel ranks each forward a part of a batch and still train
    exactly as one process forwarding all of it."""
    modules = [m for m in model.modules() if isinstance(m, ChannelDropout) and m.p > 0.0]
    active = [m for m in modules if m.training]
    handles = []

    def hook(module: ChannelDropout, args: tuple[torch.Tensor, ...], out: torch.Tensor):
        x = args[0]
        per = x.shape[0] // len(generators)
        u = torch.cat([torch.rand((per, x.shape[1]), generator=g) for g in generators])
        keep = (u >= module.p).to(device=x.device, dtype=x.dtype).view(*u.shape, 1, 1)
        return x * keep / (1.0 - module.p)

    try:
        for m in active:
            # eval mode makes the module itself an identity; the hook applies the masks
            m.eval()
            handles.append(m.register_forward_hook(hook))
        yield
    finally:
        for h in handles:
            h.remove()
        for m in active:
            m.train()


def training_forward(
    model: STCN,
    frames: torch.Tensor,
    first_masks: torch.Tensor,
    *,
    top_k: int | None = None,
    dropout_generators: Sequence[torch.Generator] | None = None,
) -> torch.Tensor:
    """STCN's training pass generalised to ``S`` frames (specs §C.3; STCN uses ``S = 3``).

    Frame 0's masks give its memory value; frame 1 is segmented with memory ``{0}``; its soft
    aggregated object probabilities (differentiable) give its value; frame 2 is segmented with
    memory ``{0, 1}``; and so on. The model's mode decides dropout (``train()``: active), its
    masks drawn from torch's global generator, or from ``dropout_generators[b]`` for sample
    ``b`` (then a sample's result does not depend on the rest of the batch). No top-k by
    default (STCN uses it only at inference). Objects absent from frame 0 have empty
    masks; the caller masks them out of the loss if needed.

    Args:
        model: the network.
        frames: ``[B, S, 3, H, W]`` RGB in ``[0, 1]``, ``S >= 2``, ``H, W`` multiples of 16.
        first_masks: ``[B, K, H, W]`` masks of frame 0 in ``[0, 1]``.
        top_k: memory locations kept per query (``None`` = all).
        dropout_generators: ``B`` CPU generators, one per sample, for the dropout masks.

    Returns:
        ``[B, S-1, K+1, H, W]`` aggregated log-odds (:func:`~.model.aggregate_logits`) of frames
        ``1..S-1``, for a cross-entropy over ``{background, objects}`` (class 0 = background).
    """
    s = frames.shape[1]
    if s < 2:
        raise ValueError(f"training_forward needs at least 2 frames per sample, got {s}")
    if dropout_generators is not None:
        if len(dropout_generators) != frames.shape[0]:
            raise ValueError(
                f"{len(dropout_generators)} dropout generators for {frames.shape[0]} samples"
            )
        with _per_sample_dropout(model, dropout_generators):
            return training_forward(model, frames, first_masks, top_k=top_k)
    flat = model.encode_key(frames.flatten(0, 1))
    feats = [flat.take(slice(i, None, s)) for i in range(s)]  # frame i of every sample

    keys = [feats[0].k16.unsqueeze(2)]
    values = [model.encode_value(frames[:, 0], feats[0].f16, first_masks).unsqueeze(3)]
    outputs = []
    for i in range(1, s):
        logits = model.segment(
            feats[i], torch.cat(keys, dim=2), torch.cat(values, dim=3), top_k=top_k
        )
        agg = aggregate_logits(torch.sigmoid(logits))
        outputs.append(agg)
        if i < s - 1:
            prob = torch.softmax(agg, dim=1)[:, 1:]
            keys.append(feats[i].k16.unsqueeze(2))
            values.append(model.encode_value(frames[:, i], feats[i].f16, prob).unsqueeze(3))
    return torch.stack(outputs, dim=1)


class TrainingPass(nn.Module):
    """:func:`training_forward` of ``net`` as a module's ``forward``, so that
    ``DistributedDataParallel`` can wrap it (its gradient synchronisation is prepared in
    ``forward``; calling ``net``'s methods directly would skip it). Parameter names gain the
    prefix ``net.``; train and save ``net`` itself."""

    def __init__(self, net: STCN) -> None:
        super().__init__()
        self.net = net

    def forward(
        self,
        frames: torch.Tensor,
        first_masks: torch.Tensor,
        dropout_generators: Sequence[torch.Generator] | None = None,
    ) -> torch.Tensor:
        """``[B, S-1, K+1, H, W]`` log-odds of :func:`training_forward`."""
        return training_forward(
            self.net, frames, first_masks, dropout_generators=dropout_generators
        )
