"""STCN-style space-time memory network with an MC-dropout decoder (paper §4.5; specs §C.3).

Pipeline for one query frame (``h, w = H/16, W/16``; ``K`` objects):

1. :meth:`STCN.encode_key` - the key encoder gives ``f4, f8, f16`` (1/4, 1/8, 1/16); the key
   projection (3x3 conv, orthogonal init, zero bias) turns ``f16`` into the key ``k16`` and
   ``key_comp`` (3x3 conv) into the query value ``qv16`` the decoder reads.
2. :meth:`STCN.encode_value` - for each memory frame and object ``k`` the value encoder sees the
   image, the object's mask and the sum of the other objects' masks (3+2 channels); its 1/16
   output is fused with the frame's ``f16`` (ResBlock, CBAM added, ResBlock) into the memory
   value.
3. :meth:`STCN.read_memory` - :func:`memory_affinity` between every memory location (all memory
   frames) and every query location, softmax over memory (top-k at inference), and the memory
   values weighted by it.
4. :meth:`STCN.decode` - readout ⊕ ``qv16`` → compress ResBlock → two upsampling blocks with the
   ``f8``/``f4`` skips → ReLU, 3x3 conv to one logit → bilinear x4: a logit map per object.
5. :func:`soft_aggregate` merges the per-object sigmoids into ``{background, objects}``.

The ``K`` objects of a frame run as a batch (``B*K``) through the value encoder and the decoder.

Backbones: ``"resnet"`` is STCN's (ResNet-50 key encoder, ResNet-18 value encoder with a 5-channel
stem, both up to ``layer3``; :mod:`.resnet`), loadable from local torchvision checkpoints only.
``"tiny"`` keeps every module boundary and stride with small GroupNorm conv stacks for CPU runs
and tests. GroupNorm rather than BatchNorm because CPU batches are 1-4 clips and MC trials must
not depend on what else is in the batch.

Dropout (not in STCN; the paper's uncertainty needs it) is channel dropout in the decoder after
the compress block and after the first upsampling block. In ``eval()`` mode it is off unless a
``torch.Generator`` is passed to :meth:`STCN.decode`, which then draws the masks from it: the
encoders and the memory read run once and only the decoder is repeated per MC trial, with
reproducible masks.
"""

from __future__ import annotations

import math
from types import EllipsisType

import torch
import torch.nn.functional as F
from attrs import frozen
from torch import nn

from asl_core import ConfigError

from .resnet import load_torchvision_weights, resnet18_trunk, resnet50_trunk

__all__ = [
    "BACKBONES",
    "STCN",
    "KeyFeatures",
    "aggregate_logits",
    "memory_affinity",
    "soft_aggregate",
]

BACKBONES = ("tiny", "resnet")

#: ImageNet normalisation of RGB frames in ``[0, 1]`` (both backbones).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Per-backbone defaults: (f4, f8, f16) channels, key dim, value dim, decoder dim.
_DEFAULTS: dict[str, tuple[tuple[int, int, int], int, int, int]] = {
    "tiny": ((16, 32, 64), 16, 32, 32),
    "resnet": ((256, 512, 1024), 64, 512, 256),
}

#: Top-k sentinel: "use the model's ``top_k``".
Default = EllipsisType


# --------------------------------------------------------------------------- value types


@frozen(eq=False)  # holds tensors; never compared
class KeyFeatures:
    """What the key encoder gives for a batch of frames (``h, w = H/16, W/16``).

    Attributes:
        k16: ``[B, Ck, h, w]`` key (memory and query side).
        qv16: ``[B, Cq, h, w]`` query value, concatenated with the memory readout by the decoder.
        f16: ``[B, C16, h, w]`` key-encoder features at 1/16 (also fused into memory values).
        f8: ``[B, C8, 2h, 2w]`` skip features at 1/8.
        f4: ``[B, C4, 4h, 4w]`` skip features at 1/4.
    """

    k16: torch.Tensor
    qv16: torch.Tensor
    f16: torch.Tensor
    f8: torch.Tensor
    f4: torch.Tensor

    def take(self, index: int | slice) -> KeyFeatures:
        """The features of the frames ``index`` selects along the batch (an int keeps a batch
        dimension of 1)."""
        sel = slice(index, index + 1) if isinstance(index, int) else index
        return KeyFeatures(self.k16[sel], self.qv16[sel], self.f16[sel], self.f8[sel], self.f4[sel])


# --------------------------------------------------------------------------- pure functions


def memory_affinity(mem_k: torch.Tensor, q_k: torch.Tensor, top_k: int | None) -> torch.Tensor:
    """Memory-read affinity of STCN (specs §C.3): softmax over memory of a negative L2 distance.

    ``a_ij = (2 k_i·q_j − ‖k_i‖²) / √Ck`` is ``−‖k_i − q_j‖² / √Ck`` up to ``‖q_j‖²``, a constant
    per query that the softmax over ``i`` cancels: the closer a memory key, the larger its weight.
    With ``top_k`` only the ``min(top_k, N)`` largest ``a_ij`` of each query are kept and
    softmaxed; the others get weight 0 (clamping to ``N`` matters at small sizes: one 64x64
    memory frame has only 16 locations, fewer than the default 20). Ties at the k-th place are
    broken by ``torch.topk``.

    Args:
        mem_k: ``[B, Ck, N]`` memory keys (``N`` = memory frames x locations).
        q_k: ``[B, Ck, M]`` query keys.
        top_k: keep this many memory locations per query, or ``None`` for all.

    Returns:
        ``[B, N, M]`` weights; every column (query) sums to 1.
    """
    ck = mem_k.shape[1]
    sim = 2.0 * torch.bmm(mem_k.transpose(1, 2), q_k) - mem_k.pow(2).sum(1).unsqueeze(2)
    sim = sim / math.sqrt(ck)
    n = sim.shape[1]
    if top_k is None or top_k >= n:
        return torch.softmax(sim, dim=1)
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
    values, idx = sim.topk(top_k, dim=1)
    return torch.zeros_like(sim).scatter_(1, idx, torch.softmax(values, dim=1))


def aggregate_logits(prob: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Log-odds of STCN's soft aggregation, before the softmax (for a cross-entropy loss).

    Background probability ``bg = Π_k (1 − p_k)``; each of ``bg, p_1..p_K`` is clamped to
    ``[eps, 1 − eps]`` and mapped to ``log(p / (1 − p))``.

    Args:
        prob: ``[B, K, H, W]`` per-object foreground probabilities (sigmoids of the decoder).
        eps: clamp of the probabilities (keeps the log-odds finite: ±16.1 for 1e-7).

    Returns:
        ``[B, K+1, H, W]`` log-odds, channel 0 = background.
    """
    bg = torch.prod(1.0 - prob, dim=1, keepdim=True)
    p = torch.cat([bg, prob], dim=1).clamp(eps, 1.0 - eps)
    return torch.log(p / (1.0 - p))


def soft_aggregate(prob: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """STCN's soft aggregation of per-object probabilities into ``{bg, objects}`` (specs §C.3).

    The softmax of :func:`aggregate_logits`: each class's weight is its odds ``p / (1 − p)``, so a
    single object with ``p = 0.9`` (bg 0.1, odds 9 and 1/9) gets ``81/82 ≈ 0.988``, not 0.9; with
    three objects at 0.5 (bg 0.125) each object gets ``7/22`` and the background ``1/22``.

    Args:
        prob: ``[B, K, H, W]`` per-object foreground probabilities.
        eps: clamp of the probabilities.

    Returns:
        ``[B, K+1, H, W]`` probabilities summing to 1 over channels, channel 0 = background.
    """
    return torch.softmax(aggregate_logits(prob, eps), dim=1)


# --------------------------------------------------------------------------- blocks


def _groups(channels: int) -> int:
    """GroupNorm groups: 8 where possible, at least 2 channels per group."""
    return max(g for g in (1, 2, 4, 8) if channels % g == 0 and channels // g >= 2)


class _ConvGN(nn.Sequential):
    """3x3 conv → GroupNorm → ReLU (the tiny backbones)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
            nn.GroupNorm(_groups(c_out), c_out),
            nn.ReLU(inplace=True),
        )


class TinyTrunk(nn.Module):
    """Small GroupNorm conv stack with outputs at exactly 1/4, 1/8 and 1/16 (stands in for the
    ResNets; specs §C.3 "small CPU variant").

    Args:
        in_channels: input channels (3 for the key encoder, 5 for the value encoder).
        channels: output channels ``(f4, f8, f16)``.
    """

    def __init__(self, in_channels: int, channels: tuple[int, int, int]) -> None:
        super().__init__()
        c4, c8, c16 = channels
        self.channels = channels
        self.stage4 = nn.Sequential(
            _ConvGN(in_channels, max(c4 // 2, 4), 2),
            _ConvGN(max(c4 // 2, 4), c4, 2),
            _ConvGN(c4, c4),
        )
        self.stage8 = nn.Sequential(_ConvGN(c4, c8, 2), _ConvGN(c8, c8))
        self.stage16 = nn.Sequential(_ConvGN(c8, c16, 2), _ConvGN(c16, c16))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``[B, in_channels, H, W]`` → ``(f4, f8, f16)``."""
        f4 = self.stage4(x)
        f8 = self.stage8(f4)
        return f4, f8, self.stage16(f8)


class ResBlock(nn.Module):
    """``x' + conv3x3(relu(conv3x3(relu(x))))`` with ``x'`` = ``x`` or its 3x3 projection when the
    channel count changes (specs §C.3)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.proj = None if c_in == c_out else nn.Conv2d(c_in, c_out, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, c_in, H, W]`` → ``[N, c_out, H, W]``."""
        r = self.conv2(F.relu(self.conv1(F.relu(x))))
        return (x if self.proj is None else self.proj(x)) + r


class CBAM(nn.Module):
    """Channel then spatial attention (Woo et al. 2018): the input rescaled by a sigmoid gate per
    channel (shared MLP on the average- and max-pooled vector) and then per position (7x7 conv on
    the channel mean and max)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 2)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels)
        )
        self.spatial = nn.Conv2d(2, 1, 7, 1, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W]`` → ``[N, C, H, W]``."""
        gate = self.mlp(x.mean((2, 3))) + self.mlp(x.amax((2, 3)))
        x = x * torch.sigmoid(gate)[:, :, None, None]
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class FeatureFuser(nn.Module):
    """Memory value from value-encoder and key-encoder features: concat → ResBlock → + CBAM →
    ResBlock (specs §C.3, 1280 → 512 for the ResNets)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.block1 = ResBlock(c_in, c_out)
        self.attention = CBAM(c_out)
        self.block2 = ResBlock(c_out, c_out)

    def forward(self, value: torch.Tensor, f16: torch.Tensor) -> torch.Tensor:
        """``[N, Cv', h, w]`` and ``[N, C16, h, w]`` → ``[N, c_out, h, w]``."""
        x = self.block1(torch.cat([value, f16], dim=1))
        x = x + self.attention(x)
        return self.block2(x)


class UpsampleBlock(nn.Module):
    """Decoder stage: 3x3-projected skip + bilinear x2 of the coarser map → ResBlock."""

    def __init__(self, c_skip: int, c_up: int, c_out: int) -> None:
        super().__init__()
        self.skip_conv = nn.Conv2d(c_skip, c_up, 3, 1, 1)
        self.block = ResBlock(c_up, c_out)

    def forward(self, skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``skip`` ``[N, c_up, 2h, 2w]`` (already through :attr:`skip_conv`), ``x``
        ``[N, c_up, h, w]`` → ``[N, c_out, 2h, 2w]``."""
        up = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.block(skip + up)


class ChannelDropout(nn.Module):
    """Channel dropout (``Dropout2d``-like: one draw per sample and channel) with optional
    explicit generator.

    ``generator=None``: active only in ``train()`` mode, masks from torch's global RNG. With a
    generator: always active (MC dropout at scoring time), masks drawn from it (on the
    generator's device, then moved), so equal generator states give equal masks.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[N, C, H, W]`` with whole channels zeroed, the rest scaled by ``1 / (1 − p)``."""
        if self.p == 0.0 or (generator is None and not self.training):
            return x
        shape = (x.shape[0], x.shape[1], 1, 1)
        if generator is None:
            u = torch.rand(shape, device=x.device)
        else:
            u = torch.rand(shape, generator=generator, device=generator.device).to(x.device)
        return x * (u >= self.p).to(x.dtype) / (1.0 - self.p)


class Decoder(nn.Module):
    """compress ResBlock(2 Cv → 2 D) → dropout → Up(f8; 2D → D) → dropout → Up(f4; D → D) →
    ReLU, 3x3 conv → 1 logit → bilinear x4 (specs §C.3 with D = 256: 1024 → 512 → 256 → 256)."""

    def __init__(self, c_in: int, channels: tuple[int, int, int], dim: int, dropout: float) -> None:
        super().__init__()
        c4, c8, _ = channels
        self.compress = ResBlock(c_in, 2 * dim)
        self.drop16 = ChannelDropout(dropout)
        self.up8 = UpsampleBlock(c8, 2 * dim, dim)
        self.drop8 = ChannelDropout(dropout)
        self.up4 = UpsampleBlock(c4, dim, dim)
        self.pred = nn.Conv2d(dim, 1, 3, 1, 1)

    def forward(
        self,
        x: torch.Tensor,
        f8: torch.Tensor,
        f4: torch.Tensor,
        objects: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``x`` ``[B*K, c_in, h, w]`` (object-major within each frame), skips ``[B, ., ., .]``
        → logits ``[B*K, 1, 16h, 16w]``."""
        # the skip projections do not depend on the object: compute per frame, then repeat
        s8 = self.up8.skip_conv(f8).repeat_interleave(objects, dim=0)
        s4 = self.up4.skip_conv(f4).repeat_interleave(objects, dim=0)
        x = self.drop16(self.compress(x), generator)
        x = self.drop8(self.up8(s8, x), generator)
        x = self.up4(s4, x)
        x = self.pred(F.relu(x))
        return F.interpolate(x, scale_factor=4.0, mode="bilinear", align_corners=False)


# --------------------------------------------------------------------------- the network


class STCN(nn.Module):
    """Space-time correspondence network (Cheng et al. 2021) with MC-dropout decoder.

    Args:
        backbone: ``"tiny"`` (CPU default, 0.36 M parameters) or ``"resnet"`` (STCN's ResNet-50
            / ResNet-18 encoders, 54.4 M parameters).
        key_dim: key channels ``Ck`` (tiny 16, resnet 64).
        value_dim: memory value channels ``Cv`` (tiny 32, resnet 512); the query value ``qv16``
            has as many channels.
        channels: key-encoder ``(f4, f8, f16)`` channels (tiny 16/32/64; resnet is fixed at
            256/512/1024); the tiny value encoder uses half of each.
        decoder_dim: decoder width ``D`` (tiny 32, resnet 256).
        dropout: decoder channel-dropout probability (MC dropout).
        top_k: default top-k of the memory read (``None``: all memory locations).
        key_weights: local torchvision ResNet-50 ``.pth`` for the key encoder (resnet only).
        value_weights: local torchvision ResNet-18 ``.pth`` for the value encoder (resnet only).
            ``None`` weights mean random initialisation (the caller warns).

    Raises:
        ConfigError: unknown backbone, bad sizes or dropout, weights with the tiny backbone, or
            unusable weight files (the message names the file).
    """

    def __init__(
        self,
        *,
        backbone: str = "tiny",
        key_dim: int | None = None,
        value_dim: int | None = None,
        channels: tuple[int, int, int] | None = None,
        decoder_dim: int | None = None,
        dropout: float = 0.2,
        top_k: int | None = 20,
        key_weights: str | None = None,
        value_weights: str | None = None,
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ConfigError(f"unknown STCN backbone {backbone!r}; expected one of {BACKBONES}")
        d_channels, d_key, d_value, d_decoder = _DEFAULTS[backbone]
        channels = d_channels if channels is None else tuple(channels)  # type: ignore[assignment]
        key_dim = d_key if key_dim is None else key_dim
        value_dim = d_value if value_dim is None else value_dim
        decoder_dim = d_decoder if decoder_dim is None else decoder_dim
        if len(channels) != 3 or min(channels) < 1:
            raise ConfigError(f"channels must be three positive ints, got {channels}")
        if min(key_dim, value_dim, decoder_dim) < 1:
            raise ConfigError(
                f"key_dim, value_dim, decoder_dim must be >= 1, got {key_dim}, {value_dim}, "
                f"{decoder_dim}"
            )
        if top_k is not None and top_k < 1:
            raise ConfigError(f"top_k must be >= 1 or None, got {top_k}")
        self.backbone = backbone
        self.channels: tuple[int, int, int] = channels  # type: ignore[assignment]
        self.key_dim, self.value_dim, self.decoder_dim = key_dim, value_dim, decoder_dim
        self.top_k = top_k

        if backbone == "resnet":
            if channels != d_channels:
                raise ConfigError(
                    f"the resnet backbone has channels {d_channels}; got channels={channels}"
                )
            self.key_encoder: nn.Module = resnet50_trunk()
            self.value_encoder: nn.Module = resnet18_trunk(in_channels=5)
            if key_weights is not None:
                load_torchvision_weights(
                    self.key_encoder, key_weights, what="key_weights (ResNet-50)"
                )
            if value_weights is not None:
                load_torchvision_weights(
                    self.value_encoder, value_weights, what="value_weights (ResNet-18)"
                )
        else:
            if key_weights is not None or value_weights is not None:
                raise ConfigError(
                    "key_weights/value_weights are ImageNet ResNet checkpoints: they need "
                    "backbone='resnet', not 'tiny'"
                )
            self.key_encoder = TinyTrunk(3, self.channels)
            c4, c8, c16 = self.channels
            self.value_encoder = TinyTrunk(5, (max(c4 // 2, 4), max(c8 // 2, 4), max(c16 // 2, 4)))
        c16 = self.channels[2]
        value_trunk = self.value_encoder.channels[2]

        self.key_proj = nn.Conv2d(c16, key_dim, 3, 1, 1)
        # STCN: orthogonal key projection keeps the key space well spread at initialisation
        nn.init.orthogonal_(self.key_proj.weight)
        nn.init.zeros_(self.key_proj.bias)
        self.key_comp = nn.Conv2d(c16, value_dim, 3, 1, 1)
        self.fuser = FeatureFuser(value_trunk + c16, value_dim)
        self.decoder = Decoder(2 * value_dim, self.channels, decoder_dim, dropout)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _normalise(self, frames: torch.Tensor) -> torch.Tensor:
        return (frames - self.mean) / self.std

    @staticmethod
    def _check_size(x: torch.Tensor) -> None:
        if x.shape[-1] % 16 or x.shape[-2] % 16:
            raise ValueError(
                f"frame height and width must be multiples of 16, got {tuple(x.shape[-2:])}"
            )

    def encode_key(self, frames: torch.Tensor) -> KeyFeatures:
        """Key-encoder features of frames.

        Args:
            frames: ``[B, 3, H, W]`` RGB in ``[0, 1]``, ``H, W`` multiples of 16 (ImageNet
                normalisation happens here).

        Returns:
            :class:`KeyFeatures` (``k16``, ``qv16``, ``f16`` at 1/16, ``f8``, ``f4``).
        """
        self._check_size(frames)
        f4, f8, f16 = self.key_encoder(self._normalise(frames))
        return KeyFeatures(self.key_proj(f16), self.key_comp(f16), f16, f8, f4)

    def encode_value(
        self, frames: torch.Tensor, f16: torch.Tensor, masks: torch.Tensor
    ) -> torch.Tensor:
        """Memory values of frames, one per object.

        Object ``k``'s input is the normalised image, ``masks[:, k]`` and the sum of the other
        objects' masks (probabilities or 0/1 masks; an object that has not started has a zero
        mask). The value encoder's 1/16 output is fused with the frame's key features ``f16``.

        Args:
            frames: ``[B, 3, H, W]`` in ``[0, 1]``.
            f16: ``[B, C16, H/16, W/16]`` from :meth:`encode_key` of the same frames.
            masks: ``[B, K, H, W]`` object masks in ``[0, 1]``.

        Returns:
            ``[B, K, Cv, H/16, W/16]``.
        """
        self._check_size(frames)
        b, k = masks.shape[:2]
        others = masks.sum(1, keepdim=True) - masks
        image = self._normalise(frames).unsqueeze(1).expand(b, k, *frames.shape[1:])
        x = torch.cat([image, masks.unsqueeze(2), others.unsqueeze(2)], dim=2)
        _, _, v16 = self.value_encoder(x.flatten(0, 1))
        value = self.fuser(v16, f16.repeat_interleave(k, dim=0))
        return value.view(b, k, *value.shape[1:])

    def read_memory(
        self,
        mem_k: torch.Tensor,
        mem_v: torch.Tensor,
        q_k: torch.Tensor,
        top_k: int | Default | None = ...,
    ) -> torch.Tensor:
        """Read the memory at every query location (:func:`memory_affinity` x values).

        Args:
            mem_k: ``[B, Ck, T, h, w]`` keys of ``T`` memory frames.
            mem_v: ``[B, K, Cv, T, h, w]`` their values per object.
            q_k: ``[B, Ck, h', w']`` query keys.
            top_k: memory locations kept per query; ``...`` = the model's :attr:`top_k`,
                ``None`` = all.

        Returns:
            ``[B, K, Cv, h', w']`` readout.
        """
        top = self.top_k if top_k is ... else top_k
        b, k, cv = mem_v.shape[:3]
        affinity = memory_affinity(mem_k.flatten(2), q_k.flatten(2), top)  # [B, N, M]
        readout = torch.bmm(mem_v.reshape(b, k * cv, -1), affinity)
        return readout.view(b, k, cv, *q_k.shape[-2:])

    def decode(
        self,
        readout: torch.Tensor,
        feats: KeyFeatures,
        *,
        mc_generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Per-object logits from the memory readout and the query frame's features.

        Args:
            readout: ``[B, K, Cv, h, w]`` from :meth:`read_memory`.
            feats: the query frames' :class:`KeyFeatures`.
            mc_generator: draw the decoder's dropout masks from this generator, in any mode (MC
                dropout); ``None``: ordinary dropout (on in ``train()``, off in ``eval()``).

        Returns:
            ``[B, K, H, W]`` logits at input resolution (sigmoid → per-object probability).
        """
        b, k = readout.shape[:2]
        qv = feats.qv16.unsqueeze(1).expand(b, k, *feats.qv16.shape[1:])
        x = torch.cat([readout, qv], dim=2).flatten(0, 1)
        logits = self.decoder(x, feats.f8, feats.f4, k, mc_generator)
        return logits.view(b, k, *logits.shape[-2:])

    def segment(
        self,
        feats: KeyFeatures,
        mem_k: torch.Tensor,
        mem_v: torch.Tensor,
        *,
        top_k: int | Default | None = ...,
        mc_generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """:meth:`read_memory` with ``feats.k16`` then :meth:`decode`: ``[B, K, H, W]`` logits."""
        readout = self.read_memory(mem_k, mem_v, feats.k16, top_k)
        return self.decode(readout, feats, mc_generator=mc_generator)
