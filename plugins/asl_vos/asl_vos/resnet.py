"""ResNet trunks for the STCN-style memory network (specs §C.3), with torchvision's naming.

The key encoder is a ResNet-50 and the value encoder a ResNet-18, both cut after ``layer3``
(``res4``): stem (``conv1``, ``bn1``, ReLU, 3x3/2 max-pool), ``layer1`` (1/4), ``layer2`` (1/8),
``layer3`` (1/16). The modules are named exactly as torchvision names them (``conv1.weight``,
``bn1.running_mean``, ``layer1.0.conv1.weight``, ``layer1.0.downsample.0.weight``, ...) so that an
ImageNet state dict the user saved locally from torchvision loads with
:func:`load_torchvision_weights`. This file is written from the published architecture (He et
al. 2016, the "v1.5" variant that strides the 3x3 convolution of a bottleneck), not from
torchvision's code. Nothing here downloads anything.

Parameter counts (checked by the tests against torchvision's published totals minus ``layer4``
and ``fc``): ResNet-50 trunk 8,543,296; ResNet-18 trunk 2,782,784 with a 3-channel ``conv1``,
2,789,056 with the value encoder's 5-channel one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from asl_core import ConfigError

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNetTrunk",
    "check_torchvision_state_dict",
    "load_torchvision_weights",
    "resnet18_trunk",
    "resnet50_trunk",
]


def _conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)


def _conv1x1(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False)


def _downsample(c_in: int, c_out: int, stride: int) -> nn.Sequential | None:
    """The projection shortcut (``downsample.0`` conv 1x1, ``downsample.1`` BN) when needed."""
    if stride == 1 and c_in == c_out:
        return None
    return nn.Sequential(_conv1x1(c_in, c_out, stride), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut (ResNet-18/34); the first one carries the stride."""

    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(c_in, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(c_in, width, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, c_in, H, W]`` → ``[B, width, H/stride, W/stride]``."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x if self.downsample is None else self.downsample(x)
        return self.relu(out + short)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided, "v1.5"), 1x1 expand x4, with a shortcut (ResNet-50/101)."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1) -> None:
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = _conv1x1(c_in, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, c_out)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(c_in, c_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, c_in, H, W]`` → ``[B, 4 width, H/stride, W/stride]``."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        short = x if self.downsample is None else self.downsample(x)
        return self.relu(out + short)


_BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {
    "basic": BasicBlock,
    "bottleneck": Bottleneck,
}


class ResNetTrunk(nn.Module):
    """A ResNet up to ``layer3``: returns the 1/4, 1/8 and 1/16 feature maps.

    Args:
        block: ``"basic"`` (ResNet-18/34) or ``"bottleneck"`` (ResNet-50/101).
        layers: number of blocks in ``layer1``, ``layer2``, ``layer3``.
        in_channels: input channels of ``conv1`` (3 for images; 5 for STCN's value encoder:
            image, object mask, other objects' masks).

    Attributes:
        channels: output channels ``(f4, f8, f16)``: ``(64, 128, 256)`` for basic blocks,
            ``(256, 512, 1024)`` for bottlenecks.
    """

    def __init__(self, block: str, layers: tuple[int, int, int], in_channels: int = 3) -> None:
        super().__init__()
        if block not in _BLOCKS:
            raise ConfigError(f"unknown ResNet block {block!r}; expected one of {sorted(_BLOCKS)}")
        cls = _BLOCKS[block]
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = 64
        stages = []
        for width, n, stride in zip((64, 128, 256), layers, (1, 2, 2), strict=True):
            blocks = [cls(c, width, stride)]
            c = width * cls.expansion
            blocks += [cls(c, width) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.channels = tuple(64 * m * cls.expansion for m in (1, 2, 4))
        self._init_weights()

    def _init_weights(self) -> None:
        # He et al.'s initialisation (also torchvision's): fan-out normal convs, BN = identity
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``[B, in_channels, H, W]`` → ``(f4, f8, f16)`` at 1/4, 1/8 and 1/16 of ``H, W``
        (``H, W`` multiples of 16)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        f4 = self.layer1(x)
        f8 = self.layer2(f4)
        f16 = self.layer3(f8)
        return f4, f8, f16


def resnet50_trunk() -> ResNetTrunk:
    """ResNet-50 up to ``layer3`` (the STCN key encoder): f4 256, f8 512, f16 1024 channels."""
    return ResNetTrunk("bottleneck", (3, 4, 6), 3)


def resnet18_trunk(in_channels: int = 3) -> ResNetTrunk:
    """ResNet-18 up to ``layer3`` (the STCN value encoder with ``in_channels=5``): f16 256."""
    return ResNetTrunk("basic", (2, 2, 2), in_channels)


# --------------------------------------------------------------------------- weights


def check_torchvision_state_dict(
    trunk: ResNetTrunk, state: object, *, source: str
) -> dict[str, torch.Tensor]:
    """Pick the tensors ``trunk`` needs from a torchvision ResNet state dict and check them.

    Keys the trunk does not have (``layer4.*``, ``fc.*``) are ignored. Every trunk key must be
    present with the trunk's shape, except ``*.num_batches_tracked`` (older torchvision
    checkpoints predate that buffer; it keeps its value). A ``conv1.weight`` with fewer input
    channels than the trunk's (the 3-channel ImageNet stem for the 5-channel value encoder) is
    widened: the checkpoint fills the first input channels and the extra ones are **zero**
    (specs §C.3), so the loaded network initially ignores the mask channels' weights.

    Args:
        trunk: the network to load into.
        state: what ``torch.load`` returned (a ``{name: tensor}`` mapping).
        source: how messages name the state dict (the file path).

    Returns:
        ``{key: tensor}`` for every key the checkpoint provides, shaped like the trunk's.

    Raises:
        ConfigError: ``state`` is not a mapping, or a key is missing, or a shape differs; the
            message starts with ``source`` and names the first problem.
    """
    if not isinstance(state, Mapping):
        raise ConfigError(
            f"{source}: not a state dict (a mapping of parameter names to tensors) but a "
            f"{type(state).__name__}; save the weights with torch.save(model.state_dict(), path)"
        )
    own = trunk.state_dict()
    kept: dict[str, torch.Tensor] = {}
    for key, mine in own.items():
        if key not in state:
            if key.endswith(".num_batches_tracked"):
                continue
            raise ConfigError(
                f"{source}: missing key {key!r} (expected a torchvision ResNet state dict "
                f"with conv1, bn1, layer1-layer3; {len(state)} keys in the file)"
            )
        value = state[key]
        if not torch.is_tensor(value):
            raise ConfigError(f"{source}: {key!r} is a {type(value).__name__}, not a tensor")
        shape, want = tuple(value.shape), tuple(mine.shape)
        widen = key == "conv1.weight" and len(shape) == 4 and shape[1] < want[1]
        if widen and (shape[0], *shape[2:]) == (want[0], *want[2:]):
            wide = torch.zeros(want, dtype=mine.dtype)
            wide[:, : shape[1]] = value.to(mine.dtype)
            kept[key] = wide
            continue
        if shape != want:
            raise ConfigError(f"{source}: {key!r} has shape {shape}, the network needs {want}")
        kept[key] = value
    return kept


def load_torchvision_weights(trunk: ResNetTrunk, path: str | os.PathLike[str], *, what: str) -> int:
    """Load a locally saved torchvision ImageNet ResNet state dict into ``trunk``.

    Reads with ``torch.load(path, weights_only=True, map_location="cpu")`` (no code in the file
    runs) and applies :func:`check_torchvision_state_dict`. Nothing is ever downloaded.

    Args:
        trunk: the network to load into.
        path: the ``.pth`` file (e.g. ``torch.save(torchvision.models.resnet50(weights=...)
            .state_dict(), path)`` on a machine that has torchvision).
        what: how messages name the option (e.g. ``"key_weights (ResNet-50)"``).

    Returns:
        The number of tensors loaded.

    Raises:
        ConfigError: the file is missing or unreadable, is not a state dict, or does not fit;
            every message starts with the path.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"{file}: weights file not found ({what})")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and weights_only errors alike
        raise ConfigError(
            f"{file}: cannot read {what} with torch.load(weights_only=True): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    kept = check_torchvision_state_dict(trunk, state, source=f"{file} ({what})")
    trunk.load_state_dict(kept, strict=False)
    return len(kept)
