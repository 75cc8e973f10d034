"""Inception-I3D in the layout of the public ``rgb_imagenet.pt`` / ``rgb_charades.pt`` weights.

Written from the architecture description in specs §D (Carreira & Zisserman, "Quo Vadis, Action
Recognition?", CVPR 2017, arXiv:1705.07750) so that :meth:`InceptionI3d.state_dict` has exactly
the keys and shapes of those checkpoints (``../shared/data/i3d/*.tsv``), plus the encoder that the
capsule detector takes from it (specs §E.2).

Layout (specs §D): a stem ``Conv3d_1a_7x7`` (stride 2) → ``MaxPool3d_2a_3x3`` → ``Conv3d_2b_1x1``
→ ``Conv3d_2c_3x3`` → ``MaxPool3d_3a_3x3`` → ``Mixed_3b``, ``Mixed_3c`` → ``MaxPool3d_4a_3x3`` →
``Mixed_4b`` ... ``Mixed_4f`` → ``MaxPool3d_5a_2x2`` → ``Mixed_5b``, ``Mixed_5c`` → average pool
``(2, 7, 7)`` → dropout → ``logits`` (1x1x1 convolution with bias). Every convolution is a
:class:`Unit3D` (Conv3d without bias → BatchNorm3d(eps 1e-3, momentum 0.01) → ReLU). Every
convolution and max-pool pads TensorFlow-"SAME" style, computed from the input size at run time
(:func:`same_padding`), because the weights were trained in TensorFlow with that padding; the
final average pool is unpadded ("VALID"), which is what makes a 16-frame 224 x 224 clip give
exactly one logit vector (specs §D, verified shapes).

Two stride variants share every parameter shape (so both load the same checkpoints):
``"reference"`` (the published network) and ``"asl"``, the copy inside the ASL capsule net,
which strides ``Conv3d_2c_3x3`` by ``(2, 1, 1)`` and ``MaxPool3d_4a_3x3`` by ``(2, 1, 1)``: the
clip is halved in time twice more but ``Mixed_4f`` keeps 1/8 of the spatial resolution instead
of 1/16 (``[832, 1, 28, 28]`` for an 8 x 224 x 224 clip).

Inputs are RGB clips ``[B, 3, T, H, W]`` scaled to ``[-1, 1]`` (what the checkpoints were
trained on). :class:`I3DEncoder` takes the detector's ``[0, 1]`` clips and rescales them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from asl_core import ConfigError

from .model import EncoderOutput, Generators, MCDropout

__all__ = [
    "ENCODER_ENDPOINTS",
    "ENDPOINTS",
    "VARIANTS",
    "I3DEncoder",
    "InceptionBlock",
    "InceptionI3d",
    "MaxPool3dSame",
    "Unit3D",
    "check_i3d_state_dict",
    "load_i3d_weights",
    "same_output_size",
    "same_padding",
]

log = logging.getLogger(__name__)

Triple = tuple[int, int, int]

#: Endpoint names in network order; the first 16 are also the child module names.
ENDPOINTS = (
    "Conv3d_1a_7x7",
    "MaxPool3d_2a_3x3",
    "Conv3d_2b_1x1",
    "Conv3d_2c_3x3",
    "MaxPool3d_3a_3x3",
    "Mixed_3b",
    "Mixed_3c",
    "MaxPool3d_4a_3x3",
    "Mixed_4b",
    "Mixed_4c",
    "Mixed_4d",
    "Mixed_4e",
    "Mixed_4f",
    "MaxPool3d_5a_2x2",
    "Mixed_5b",
    "Mixed_5c",
    "Logits",
)
VARIANTS = ("reference", "asl")

#: Inception branch widths ``(b0, b1a, b1b, b2a, b2b, b3b)`` and input channels (specs §D).
_MIXED: dict[str, tuple[int, tuple[int, int, int, int, int, int]]] = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}
_AVG_POOL: Triple = (2, 7, 7)
_LIST_LIMIT = 20  # keys listed per category in a weights error


# --------------------------------------------------------------------------- SAME padding


def same_output_size(size: int, kernel: int, stride: int) -> int:
    """Output length of a TF-"SAME" convolution or pool along one axis: ``ceil(size / stride)``.

    The kernel does not matter (SAME pads whatever it needs); it is an argument so that call
    sites read like :func:`same_padding`.
    """
    del kernel
    return -(-size // stride)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF-"SAME" padding ``(before, after)`` along one axis of length ``size``.

    The total is whatever makes the last window end at the padded edge:
    ``max((ceil(size / stride) - 1) * stride + kernel - size, 0)``; TensorFlow puts the odd
    element at the end, so ``before = total // 2`` and ``after = total - before``.

    Args:
        size: input length along the axis.
        kernel: window length.
        stride: step.

    Returns:
        ``(before, after)`` padding, both ``>= 0``.
    """
    out = same_output_size(size, kernel, stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: Triple, stride: Triple) -> torch.Tensor:
    """Zero-pad ``x [B, C, T, H, W]`` so that a window ``kernel`` at ``stride`` is TF-"SAME"."""
    pads: list[int] = []
    # F.pad takes the last axis first
    for size, k, s in reversed(list(zip(x.shape[-3:], kernel, stride, strict=True))):
        pads.extend(same_padding(int(size), k, s))
    return F.pad(x, pads) if any(pads) else x


def _triple(v: int | Triple) -> Triple:
    return (v, v, v) if isinstance(v, int) else tuple(v)  # type: ignore[return-value]


# --------------------------------------------------------------------------- building blocks


class Unit3D(nn.Module):
    """Conv3d with TF-"SAME" padding → optional BatchNorm3d → optional ReLU (specs §D).

    Children ``conv3d`` and ``bn`` give the checkpoint keys ``<name>.conv3d.weight``,
    ``<name>.bn.{weight,bias,running_mean,running_var,num_batches_tracked}``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel: ``(t, h, w)`` kernel or one int for all three.
        stride: ``(t, h, w)`` stride or one int.
        batch_norm: add ``bn`` (BatchNorm3d, eps 1e-3, momentum 0.01 = TF's decay 0.99).
        bias: give the convolution a bias (only the logits layer has one).
        relu: end with a ReLU.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int | Triple = 1,
        stride: int | Triple = 1,
        *,
        batch_norm: bool = True,
        bias: bool = False,
        relu: bool = True,
    ) -> None:
        super().__init__()
        self.kernel, self.stride = _triple(kernel), _triple(stride)
        self.conv3d = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, bias=bias)
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.01) if batch_norm else None
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, T, H, W]`` → ``[B, C_out, ceil(T/s_t), ceil(H/s_h), ceil(W/s_w)]``."""
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    """3-D max pool with TF-"SAME" padding (zeros: every pooled input follows a ReLU, so a zero
    pad never exceeds the window's maximum and equals TF's ignore-the-padding semantics).

    Args:
        kernel: ``(t, h, w)`` window.
        stride: ``(t, h, w)`` step.
    """

    def __init__(self, kernel: int | Triple, stride: int | Triple) -> None:
        super().__init__()
        self.kernel, self.stride = _triple(kernel), _triple(stride)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, T, H, W]`` → ``[B, C, ceil(T/s_t), ceil(H/s_h), ceil(W/s_w)]``."""
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class InceptionBlock(nn.Module):
    """An Inception "Mixed" block: four branches concatenated along channels (specs §D).

    Branches: ``b0`` (1x1x1); ``b1a`` (1x1x1) → ``b1b`` (3x3x3); ``b2a`` (1x1x1) → ``b2b``
    (3x3x3); ``b3a`` (3x3x3 max pool, stride 1, no parameters) → ``b3b`` (1x1x1).

    Args:
        in_channels: input channels.
        widths: ``(b0, b1a, b1b, b2a, b2b, b3b)`` output channels.
    """

    def __init__(self, in_channels: int, widths: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3b = widths
        # registration order = checkpoint key order (b0, b1a, b1b, b2a, b2b, b3b)
        self.b0 = Unit3D(in_channels, w0)
        self.b1a = Unit3D(in_channels, w1a)
        self.b1b = Unit3D(w1a, w1b, 3)
        self.b2a = Unit3D(in_channels, w2a)
        self.b2b = Unit3D(w2a, w2b, 3)
        self.b3a = MaxPool3dSame(3, 1)
        self.b3b = Unit3D(in_channels, w3b)
        self.out_channels = w0 + w1b + w2b + w3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, T, H, W]`` → ``[B, out_channels, T, H, W]``."""
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))],
            dim=1,
        )


# --------------------------------------------------------------------------- the network


def _layers(variant: str) -> list[tuple[str, nn.Module, int]]:
    """``(endpoint, module, out_channels)`` for every endpoint before ``Logits``."""
    asl = variant == "asl"
    layers: list[tuple[str, nn.Module, int]] = [
        ("Conv3d_1a_7x7", Unit3D(3, 64, 7, 2), 64),
        ("MaxPool3d_2a_3x3", MaxPool3dSame((1, 3, 3), (1, 2, 2)), 64),
        ("Conv3d_2b_1x1", Unit3D(64, 64, 1), 64),
        ("Conv3d_2c_3x3", Unit3D(64, 192, 3, (2, 1, 1) if asl else 1), 192),
        ("MaxPool3d_3a_3x3", MaxPool3dSame((1, 3, 3), (1, 2, 2)), 192),
    ]
    for name in ("Mixed_3b", "Mixed_3c"):
        block = InceptionBlock(*_MIXED[name])
        layers.append((name, block, block.out_channels))
    layers.append(("MaxPool3d_4a_3x3", MaxPool3dSame(3, (2, 1, 1) if asl else 2), 480))
    for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
        block = InceptionBlock(*_MIXED[name])
        layers.append((name, block, block.out_channels))
    layers.append(("MaxPool3d_5a_2x2", MaxPool3dSame(2, 2), 832))
    for name in ("Mixed_5b", "Mixed_5c"):
        block = InceptionBlock(*_MIXED[name])
        layers.append((name, block, block.out_channels))
    return layers


class InceptionI3d(nn.Module):
    """Inception-I3D, optionally cut at an endpoint (specs §D; arXiv:1705.07750).

    Built to ``final_endpoint="Logits"`` its ``state_dict()`` has the keys, order and shapes of
    ``rgb_imagenet.pt`` (``num_classes=400``) or ``rgb_charades.pt`` (``157``): ``logits`` first
    (registered before the endpoints, as in the checkpoints), then ``Conv3d_1a_7x7`` ...
    ``Mixed_5c``. Cut earlier (e.g. ``"Mixed_4f"``, the ASL encoder) it has only the modules up
    to that endpoint, so its keys are the checkpoint's keys of those layers; :func:`load_i3d_weights`
    loads a full checkpoint into it.

    Shapes (reference strides; ``⌈·⌉`` = ceil): ``Conv3d_1a_7x7`` ``[B, 64, ⌈T/2⌉, ⌈H/2⌉,
    ⌈W/2⌉]``; ``Conv3d_2c_3x3`` ``[B, 192, ⌈T/2⌉, ⌈H/4⌉, ⌈W/4⌉]``; ``Mixed_3c`` ``[B, 480,
    ⌈T/2⌉, ⌈H/8⌉, ⌈W/8⌉]``; ``Mixed_4f`` ``[B, 832, ⌈T/4⌉, ⌈H/16⌉, ⌈W/16⌉]``; ``Mixed_5c``
    ``[B, 1024, ⌈T/8⌉, ⌈H/32⌉, ⌈W/32⌉]``; logits ``[B, num_classes, ⌈T/8⌉ - 1]`` (16 x 224 x 224
    → 1 step, 64 x 224 x 224 → 7). The ``"asl"`` variant halves time once more at
    ``Conv3d_2c_3x3`` and keeps ``⌈H/8⌉`` from ``Mixed_3c`` to ``Mixed_4f``.

    Args:
        num_classes: logits classes (400 Kinetics / ImageNet-inflated, 157 Charades); unused
            when cut before ``Logits``.
        final_endpoint: last endpoint built, one of :data:`ENDPOINTS`.
        variant: ``"reference"`` or ``"asl"`` strides (see the module docstring).
        dropout: dropout probability before the logits (the reference's keep-probability 0.5).

    Raises:
        ConfigError: for an unknown endpoint or variant.
    """

    def __init__(
        self,
        num_classes: int = 400,
        *,
        final_endpoint: str = "Logits",
        variant: str = "reference",
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if final_endpoint not in ENDPOINTS:
            raise ConfigError(
                f"unknown I3D endpoint {final_endpoint!r}; choose one of: {', '.join(ENDPOINTS)}"
            )
        if variant not in VARIANTS:
            raise ConfigError(
                f"unknown I3D variant {variant!r}; choose one of: {', '.join(VARIANTS)}"
            )
        self.final_endpoint, self.variant = final_endpoint, variant
        self.num_classes = num_classes if final_endpoint == "Logits" else None
        if final_endpoint == "Logits":
            # registered first so that it leads the state_dict, as in the checkpoints
            self.logits = Unit3D(1024, num_classes, batch_norm=False, bias=True, relu=False)
        cut = ENDPOINTS.index(final_endpoint)
        self.channels: dict[str, int] = {}
        for name, module, channels in _layers(variant)[: cut + 1]:
            self.add_module(name, module)
            self.channels[name] = channels
        if final_endpoint == "Logits":
            self.dropout = nn.Dropout(dropout)
            self.channels["Logits"] = num_classes
        self.endpoints = ENDPOINTS[: cut + 1]

    def extract(self, x: torch.Tensor, endpoints: Iterable[str]) -> dict[str, torch.Tensor]:
        """Run the network as far as the deepest requested endpoint.

        Args:
            x: ``[B, 3, T, H, W]`` RGB in ``[-1, 1]``.
            endpoints: names from :attr:`endpoints` (see the class docstring for shapes).

        Returns:
            ``{endpoint: features}`` for the requested endpoints.

        Raises:
            ValueError: for an endpoint this network does not build, or a clip too small for
                the final average pool (``Logits`` needs ``Mixed_5c`` of at least 2 x 7 x 7).
        """
        wanted = set(endpoints)
        unknown = wanted - set(self.endpoints)
        if unknown:
            raise ValueError(
                f"endpoints {sorted(unknown)} are not built (final_endpoint={self.final_endpoint!r})"
            )
        last = max((self.endpoints.index(e) for e in wanted), default=-1)
        out: dict[str, torch.Tensor] = {}
        for name in self.endpoints[: last + 1]:
            x = self._logits(x) if name == "Logits" else getattr(self, name)(x)
            if name in wanted:
                out[name] = x
        return out

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """``Mixed_5c [B, 1024, t, h, w]`` → ``[B, num_classes, t - 1]`` (VALID average pool,
        dropout, 1x1x1 logits; any spatial positions left by inputs over 224 px are averaged)."""
        t, h, w = x.shape[-3:]
        if t < _AVG_POOL[0] or h < _AVG_POOL[1] or w < _AVG_POOL[2]:
            raise ValueError(
                f"Mixed_5c is {t}x{h}x{w}, smaller than the {_AVG_POOL} average pool of the "
                "logits: the full network needs clips of at least 9 frames and 193 x 193 pixels"
            )
        x = self.logits(self.dropout(F.avg_pool3d(x, _AVG_POOL, stride=1)))
        return x.mean(dim=(3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The final endpoint's output.

        Args:
            x: ``[B, 3, T, H, W]`` RGB in ``[-1, 1]``.

        Returns:
            Logits ``[B, num_classes, T']`` for the full network, otherwise the features of
            ``final_endpoint`` ``[B, C, T', H', W']``.
        """
        return self.extract(x, (self.final_endpoint,))[self.final_endpoint]


# --------------------------------------------------------------------------- weights


def _listing(title: str, items: list[str]) -> str:
    shown = items[:_LIST_LIMIT]
    more = f" ... and {len(items) - len(shown)} more" if len(items) > len(shown) else ""
    return f"\n  {title} ({len(items)}): {', '.join(shown)}{more}"


def check_i3d_state_dict(
    model: InceptionI3d, state: object, *, source: str = "state dict"
) -> dict[str, torch.Tensor]:
    """Check a pytorch-i3d state dict against ``model`` and keep the keys it builds.

    Keys of layers the model does not build (those after its ``final_endpoint``, and ``logits``
    when it is cut) are dropped; every other key must be one of the model's, with the model's
    shape, and every model key must be present, except ``*.num_batches_tracked``: the public
    checkpoints predate that buffer (specs §D), so it keeps its current value.

    Args:
        model: the network to load into.
        state: what ``torch.load`` returned.
        source: how messages name the state dict (the file path).

    Returns:
        ``{key: tensor}`` restricted to the model's keys, ready for ``load_state_dict``.

    Raises:
        ConfigError: ``state`` is not a mapping of ``str`` to tensors, or it does not fit:
            the message lists the missing and unexpected keys and the shape mismatches.
    """
    if not isinstance(state, Mapping):
        raise ConfigError(
            f"{source}: not a state dict (a mapping of parameter names to tensors) but a "
            f"{type(state).__name__}; save the weights with torch.save(model.state_dict(), path)"
        )
    bad = [repr(k) for k, v in state.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if bad:
        raise ConfigError(
            f"{source}: not a state dict: these entries are not name -> tensor"
            + _listing("entries", bad)
        )
    own = model.state_dict()
    skipped = set(ENDPOINTS[len(model.endpoints) :])  # the layers after the cut
    if model.num_classes is None:
        skipped.add("logits")
    kept: dict[str, torch.Tensor] = {}
    unexpected, mismatched, ignored = [], [], 0
    for key, value in state.items():
        if key in own:
            if tuple(value.shape) != tuple(own[key].shape):
                mismatched.append(
                    f"{key}: file {tuple(value.shape)}, model {tuple(own[key].shape)}"
                )
            kept[key] = value
        elif key.split(".", 1)[0] in skipped:
            ignored += 1
        else:
            unexpected.append(key)
    missing = [k for k in own if k not in kept and not k.endswith(".num_batches_tracked")]
    if missing or unexpected or mismatched:
        what = f"final_endpoint={model.final_endpoint!r}"
        if model.num_classes is not None:
            what += f", num_classes={model.num_classes}"
        msg = f"{source}: the I3D weights do not fit the network ({what})"
        if missing:
            msg += _listing("missing keys", missing)
        if unexpected:
            msg += _listing("unexpected keys", unexpected)
        if mismatched:
            msg += _listing("shape mismatches", mismatched)
        raise ConfigError(msg)
    if ignored:
        log.debug("%s: ignored %d keys of layers after %s", source, ignored, model.final_endpoint)
    return kept


def load_i3d_weights(model: InceptionI3d, path: str | os.PathLike[str]) -> None:
    """Load pytorch-i3d weights (``rgb_imagenet.pt``, ``rgb_charades.pt``) from a local file.

    Reads with ``torch.load(..., weights_only=True)`` (no code in the file runs), checks the keys
    with :func:`check_i3d_state_dict` (strict, except for the layers after the model's cut) and
    copies the tensors in. Nothing is ever downloaded.

    Args:
        model: the network to load into (full or cut).
        path: the checkpoint file.

    Raises:
        ConfigError: the file is missing or unreadable, is not a state dict, or does not fit;
            every message starts with the path.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"{file}: I3D weights file not found (task.encoder_weights)")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and weights_only errors alike
        raise ConfigError(
            f"{file}: cannot read I3D weights with torch.load(weights_only=True): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    kept = check_i3d_state_dict(model, state, source=str(file))
    model.load_state_dict(kept, strict=False)
    log.info("loaded I3D weights from %s (%d tensors)", file, len(kept))


# --------------------------------------------------------------------------- the encoder


#: I3D endpoints the encoder hands the detector: (deep, half skip, full skip).
ENCODER_ENDPOINTS = ("Mixed_4f", "Conv3d_2c_3x3", "Conv3d_1a_7x7")


class I3DEncoder(nn.Module):
    """I3D cut at ``Mixed_4f`` as the capsule detector's encoder (specs §E.2).

    The encoder contract of :func:`.model.build_encoder`: ``deep`` = ``Mixed_4f`` (832 channels,
    after optional channel dropout, the ASL release's ``Dropout3d`` at the encoder output),
    averaged over time; skips ``half`` = ``Conv3d_2c_3x3`` (192 channels) and ``full`` =
    ``Conv3d_1a_7x7`` (64 channels). These are the two skips of the ASL decoder (E.2): the two
    finest I3D feature maps and the last ones before the first Inception block. Every I3D level
    is one factor of two coarser than the detector level it feeds (``Mixed_4f`` at 1/8 with the
    ``"asl"`` strides feeds the 1/4 grid, ``Conv3d_2c`` at 1/4 the 1/2 skip, ``Conv3d_1a`` at
    1/2 the full-resolution skip, each also shorter in time), and
    :meth:`.model.CapsuleDetector.encode` resamples each to the size it expects, as the ASL
    decoder's transposed convolutions do.

    Shapes for ``[B, 3, 8, 64, 64]`` with the ``"asl"`` strides: deep ``[B, 832, 8, 8]``, half
    ``[B, 192, 2, 16, 16]``, full ``[B, 64, 4, 32, 32]`` (224 x 224: ``28``, ``56``, ``112``).

    BatchNorm: with pretrained weights the statistics are frozen (``freeze_bn``: BatchNorm layers
    stay in eval mode under ``model.train()``; their affine weights still train): training
    batches are a few clips, too few for batch statistics, and frozen statistics keep each clip's
    features independent of the rest of the batch. Randomly initialised, the statistics must be
    learnt, so they are not frozen by default.

    Args:
        weights: local path of a pytorch-i3d checkpoint (``rgb_charades.pt`` as in the paper, or
            ``rgb_imagenet.pt``); ``None`` keeps the random initialisation, with a warning.
        variant: I3D strides, ``"asl"`` (default: the paper's encoder, ``Mixed_4f`` at 1/8) or
            ``"reference"`` (``Mixed_4f`` at 1/16).
        dropout: channel-dropout probability on ``Mixed_4f`` (set by the detector when
            ``dropout_in == "all"``).
        freeze_bn: keep BatchNorm statistics frozen; ``None`` = frozen iff ``weights`` is given.

    Raises:
        ConfigError: for unusable weights (see :func:`load_i3d_weights`) or an unknown variant.
    """

    def __init__(
        self,
        *,
        weights: str | os.PathLike[str] | None = None,
        variant: str = "asl",
        dropout: float = 0.0,
        freeze_bn: bool | None = None,
    ) -> None:
        super().__init__()
        self.backbone = InceptionI3d(final_endpoint="Mixed_4f", variant=variant)
        if weights is not None:
            load_i3d_weights(self.backbone, weights)
        else:
            log.warning(
                "I3D encoder: no weights file (task.encoder_weights), so it starts from random "
                "initialisation; point it at rgb_charades.pt or rgb_imagenet.pt to use pretrained "
                "weights"
            )
        self.freeze_bn = weights is not None if freeze_bn is None else freeze_bn
        self.drop = MCDropout(dropout, channelwise=True)
        ch = self.backbone.channels
        self.out_channels = ch["Mixed_4f"]
        self.skip_channels = (ch["Conv3d_2c_3x3"], ch["Conv3d_1a_7x7"])

    def train(self, mode: bool = True) -> I3DEncoder:
        """Set the training mode; BatchNorm layers stay in eval mode when ``freeze_bn``."""
        super().train(mode)
        if self.freeze_bn:
            for m in self.backbone.modules():
                if isinstance(m, nn.BatchNorm3d):
                    m.eval()
        return self

    def forward(self, clips: torch.Tensor, generators: Generators | None = None) -> EncoderOutput:
        """Encode clips.

        Args:
            clips: ``[B, 3, T, H, W]`` RGB in ``[0, 1]`` (rescaled here to I3D's ``[-1, 1]``).
            generators: per-trial dropout generators (see :class:`.model.MCDropout`).

        Returns:
            :class:`.model.EncoderOutput`: deep ``[B, 832, h, w]`` (time-averaged ``Mixed_4f``),
            half ``[B, 192, T', h2, w2]`` and full ``[B, 64, T'', h1, w1]`` (shapes above).
        """
        feats = self.backbone.extract(clips * 2.0 - 1.0, ENCODER_ENDPOINTS)
        deep = self.drop(feats["Mixed_4f"], generators).mean(dim=2)
        return EncoderOutput(deep=deep, half=feats["Conv3d_2c_3x3"], full=feats["Conv3d_1a_7x7"])
