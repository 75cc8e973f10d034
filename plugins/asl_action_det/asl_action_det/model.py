"""Capsule action detector with an MC-dropout head (paper §3.3; specs §E.1-E.2).

Training notes
--------------
What made the detector learn within a CPU cycle (250 steps of 4 clips), and what did not. All
probes ran on the synthetic data with every frame labelled, one thread, 300-400 steps; "acc" is
the running training accuracy over the last 50 steps (chance 1/6; +-3 points of noise), "IoU"
the running pixel IoU of the training batches.

* **The data was too hard for the budget.** With actors 23-31 px tall and limbs 2-3 px wide on
  high-contrast textures (the first generator defaults), not even a *linear* classifier on the
  mean-pooled encoder features (cross-entropy) left chance in 400 steps, and the pixel IoU reached
  0.14-0.24. Actors of 60-80 % of the frame height, 1.5x thicker limbs, half the background
  contrast and at most one distractor (the current defaults; every difficulty knob is still in
  :class:`~.synth.SynthParams`) lifted the IoU to 0.5-0.6 in 250-300 steps.
* **Classification needs attention on the actor.** On the easier data the linear probe still
  stayed at chance with mean or max pooling over the grid; pooled with the ground-truth mask it
  reached 0.36, and pooled with a *learned* coarse actor map (``actor_logits``, trained against
  the time-averaged target masks by :func:`~.losses.actor_map_loss`) 0.35 at 250 steps. Hence
  ``class_pool="actor"``: the per-position class activations are pooled with that map (detached,
  so the class loss cannot move the attention). The primary-activation weighting
  (``"presence"``, an earlier default) and the plain mean (E.2) stayed at chance.
* **EM routing alone learns too slowly here.** With actor pooling the capsule classifier stayed
  at chance for 400 steps whatever we tried on the routing: the centred or the z-scored cost
  (VCN), ``final_lambda`` 1 or 3, learning rate 1e-3 or 3e-3, spread-loss weight 1 or 3, a
  cross-entropy on the activations instead of the spread loss, and the cost without the share
  factor. The class capsules therefore get **activation evidence**: a 1x1 linear read-out of the
  encoder features under each grid position is added to ``beta_a`` (``evidence=True``; zero at
  initialisation, so training starts from pure routing). Routing still decides the poses that the
  decoder reads and still modulates the activations by agreement. With evidence, a single EM
  iteration reached 0.28-0.29 at 250-300 steps and 3 iterations did too with ``final_lambda=1``,
  but not with ``final_lambda=3``: a sharp E-step feeds the winning class more share of the
  inputs, whose cost then rises, which flattened the activations (their std across classes fell
  to 0.02). ``evidence=False`` gives the paper's pure routing.
* **Clips without an actor carry no class.** A clip centred on a labelled frame outside the tube
  shows background only; its spread loss is skipped (the pixel losses still apply), and at test a
  clip's vote for the video class is weighted by its mean actor probability.
* **Decay the learning rate.** With a constant Adam rate the model evaluated after the last step
  was one noisy point of the trajectory: over three seeds the v-mAP@0.5 of the same label set
  spread over 15 points and the 1 %-vs-100 % gap came out +22, +3.5 and -2 points. Cosine decay
  to 0 over the cycle (``task.lr_schedule``, default) gave +37.5, +27.5 and +22 and lifted the
  100 % model from 22-38 to 48-56 v-mAP@0.5 (``benchmarks/bench_action_det_cycle.py
  --gap-seeds 3``).
* Classification remains the weak part at this budget (about 30 % accuracy against a chance of
  17 %; it is still learning when a cycle stops); the localisation, which f-mAP / v-mAP measure,
  learns first. See docs/tasks/action_det.md for the measured numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from asl_core import ConfigError

from .capsules import POSE_DIM, ConvCaps1x1, PrimaryCaps

__all__ = [
    "ENCODERS",
    "CapsuleDetector",
    "DetectorOutput",
    "EncoderOutput",
    "Features",
    "MCDropout",
    "TinyEncoder3D",
    "build_encoder",
    "trial_generators",
]

ENCODERS = ("tiny", "i3d")
DROPOUT_IN = ("head", "all")
CLASS_POOL = ("actor", "presence", "mean")
COST_NORM = ("center", "zscore")

Generators = Sequence[torch.Generator]


# --------------------------------------------------------------------------- value types


class DetectorOutput(NamedTuple):
    """What the detector predicts for a batch of clips.

    Attributes:
        activations: ``[B, C]`` class-capsule activations in ``(0, 1)``; argmax = predicted class.
        logits: ``[B, T, H, W]`` per-pixel foreground logits for every input frame.
        poses: ``[B, C, 16]`` class-capsule poses (activation-weighted mean over the grid).
        actor_logits: ``[B, H/4, W/4]`` logits of "an actor is here" on the clip's coarse grid
            (trained against the time-averaged target mask; used to pool the class scores).
    """

    activations: torch.Tensor
    logits: torch.Tensor
    poses: torch.Tensor
    actor_logits: torch.Tensor


class EncoderOutput(NamedTuple):
    """What an encoder hands the detector.

    Attributes:
        deep: ``[B, C_deep, h, w]`` time-pooled features for the capsules (``h = H/4`` for the
            tiny encoder; other sizes are resampled by :meth:`CapsuleDetector.encode`).
        half: ``[B, C_half, T', H/2, W/2]`` skip features at half resolution (the I3D encoder
            gives ``Conv3d_2c`` at ``H/4``, resampled likewise).
        full: ``[B, C_full, T'', H, W]`` skip features at full resolution (I3D: ``Conv3d_1a``
            at ``H/2``, resampled).
    """

    deep: torch.Tensor
    half: torch.Tensor
    full: torch.Tensor


class Features(NamedTuple):
    """The deterministic part of a forward pass, computed once per clip for MC dropout.

    Everything up to the first dropout layer of the head: the encoder, the capsules with their
    class activations, and the decoder's skip projections (with ``dropout_in == "head"`` none of
    it sees dropout).

    After :meth:`repeat_trials` the capsule fields hold ``k * B`` rows (trial-major) while the
    three skips keep ``B`` rows and are broadcast over the trials by the decoder.

    Attributes:
        activations: ``[B', C]`` class activations.
        poses: ``[B', C, 16]`` class poses (activation-weighted over the grid).
        caps_pose: ``[B', G, G, C, 16]`` class-capsule poses at every grid position.
        caps_act: ``[B', G, G, C]`` class-capsule activations at every grid position.
        actor_logits: ``[B', H/4, W/4]`` coarse actor-presence logits.
        quarter: ``[B, D_q, H/4, W/4]`` projected deep skip.
        half: ``[B, D_h, T, H/2, W/2]`` projected half-resolution skip.
        full: ``[B, 1, T, H, W]`` full-resolution score skip (a logit map).
    """

    activations: torch.Tensor
    poses: torch.Tensor
    caps_pose: torch.Tensor
    caps_act: torch.Tensor
    actor_logits: torch.Tensor
    quarter: torch.Tensor
    half: torch.Tensor
    full: torch.Tensor

    def repeat_trials(self, trials: int) -> Features:
        """Repeat the capsule fields ``trials`` times (trial-major); the skips are shared."""

        def rep(x: torch.Tensor) -> torch.Tensor:
            return x.repeat(trials, *([1] * (x.dim() - 1)))

        return self._replace(
            activations=rep(self.activations),
            poses=rep(self.poses),
            caps_pose=rep(self.caps_pose),
            caps_act=rep(self.caps_act),
            actor_logits=rep(self.actor_logits),
        )


# --------------------------------------------------------------------------- MC dropout


def trial_generators(generator: torch.Generator | None, trials: int) -> list[torch.Generator]:
    """One CPU generator per MC trial, seeded from ``generator`` (or torch's global RNG).

    Drawing the seeds first makes a batched MC pass and ``trials`` sequential passes use exactly
    the same dropout masks: trial ``k`` always draws from ``generators[k]``, layer after layer.

    Args:
        generator: source of the per-trial seeds; ``None`` uses torch's global RNG.
        trials: number of trials.

    Returns:
        ``trials`` freshly seeded ``torch.Generator`` objects.
    """
    device = generator.device if generator is not None else None
    seeds = torch.randint(0, 2**62, (trials,), generator=generator, device=device)
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


class MCDropout(nn.Module):
    """Dropout whose masks can come from explicit generators, one per MC trial.

    Without generators it behaves like ``nn.Dropout`` (``channelwise=False``) or
    ``nn.Dropout2d``/``nn.Dropout3d`` (``channelwise=True``, one draw per sample and channel):
    active in ``train()`` mode, the identity in ``eval()`` mode, masks from torch's global RNG.

    With ``generators`` (a list of ``k`` generators) it is **always active**, whatever
    ``model.eval()`` says — that is MC dropout at scoring time. The batch is read as ``k`` equal
    trial chunks (trial-major) and chunk ``i`` draws its mask from ``generators[i]``. A layer thus
    consumes each generator in the same order whether the ``k`` trials run batched or one after
    the other, which is what makes the batched MC pass reproduce sequential passes exactly.

    Args:
        p: drop probability in ``[0, 1)``.
        channelwise: drop whole channels (all positions of a sample's channel together).
    """

    def __init__(self, p: float, channelwise: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout probability must be in [0, 1), got {p}")
        self.p, self.channelwise = p, channelwise

    def extra_repr(self) -> str:
        return f"p={self.p}, channelwise={self.channelwise}"

    def _mask_shape(self, x: torch.Tensor, batch: int) -> tuple[int, ...]:
        if self.channelwise:
            return (batch, x.shape[1], *([1] * (x.dim() - 2)))
        return (batch, *x.shape[1:])

    def forward(self, x: torch.Tensor, generators: Generators | None = None) -> torch.Tensor:
        """Apply dropout.

        Args:
            x: ``[N, C, ...]``; with ``k`` generators ``N`` must be a multiple of ``k``.
            generators: per-trial generators (MC mode) or ``None`` (ordinary dropout).

        Returns:
            ``x`` with dropped entries zeroed and the rest scaled by ``1 / (1 - p)``.
        """
        if self.p == 0.0:
            return x
        if generators is None:
            if not self.training:
                return x
            keep = torch.rand(self._mask_shape(x, x.shape[0]), device=x.device) >= self.p
        else:
            k = len(generators)
            if k == 0 or x.shape[0] % k:
                raise ValueError(f"batch {x.shape[0]} is not a multiple of {k} trials")
            shape = self._mask_shape(x, x.shape[0] // k)
            # masks are drawn on each generator's device (CPU) and moved: they are small
            keep = torch.cat([torch.rand(shape, generator=g, device=g.device) for g in generators])
            keep = keep.to(x.device) >= self.p
        return x * keep.to(x.dtype) / (1.0 - self.p)


# --------------------------------------------------------------------------- encoders


def _groups(channels: int) -> int:
    """GroupNorm groups: 8 where possible, at least 2 channels per group."""
    return max(g for g in (1, 2, 4, 8) if channels % g == 0 and channels // g >= 2)


class _ConvGN3d(nn.Sequential):
    """Conv3d (kernel 3) → GroupNorm → ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: tuple[int, int, int] = (1, 1, 1)) -> None:
        super().__init__(
            nn.Conv3d(c_in, c_out, 3, stride, 1, bias=False),
            nn.GroupNorm(_groups(c_out), c_out),
            nn.ReLU(inplace=True),
        )


class TinyEncoder3D(nn.Module):
    """A ~0.85 M-parameter 3-D CNN for CPU runs and the demo (stands in for I3D, spec §D/§E.2).

    Every convolution has a temporal kernel of 3, so the seven layers see the whole 8-frame clip;
    on top, the input can carry a temporal-difference channel per colour (``x_t - x_{t-1}``, 0 for
    the first frame). The difference is free (three extra input channels at the stem) and hands
    the first layer the sign of motion at every edge, which a freshly initialised 3-D conv needs
    many steps to discover; the toy of ``benchmarks/bench_action_det_mc.py --learn`` learns the
    direction of motion much faster with it.

    Normalisation is GroupNorm, not BatchNorm: CPU batches are 2-8 clips, too few for batch
    statistics, and GroupNorm is per sample, so batching MC trials cannot change any output.

    Shapes for ``[B, 3, 8, 64, 64]``: full skip ``[B, 8, 8, 64, 64]``, half skip
    ``[B, 16, 8, 32, 32]``, deep ``[B, 160, 16, 16]`` (time pooled by a mean after two temporal
    stride-2 layers).

    Args:
        in_channels: colour channels of the clip.
        temporal_diff: append the temporal-difference channels.
        widths: channels of (full skip, half skip, 1/4-res stage, deep output).
        dropout: Dropout3d probability inside the encoder (used when the detector's
            ``dropout_in == "all"``; 0 keeps the encoder deterministic).
    """

    def __init__(
        self,
        in_channels: int = 3,
        *,
        temporal_diff: bool = True,
        widths: tuple[int, int, int, int] = (8, 16, 64, 160),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        w_full, w_half, w_mid, w_deep = widths
        self.temporal_diff = temporal_diff
        c_in = in_channels * (2 if temporal_diff else 1)
        self.stem = _ConvGN3d(c_in, w_full)  # T x H x W
        self.down1 = nn.Sequential(  # T x H/2 x W/2
            _ConvGN3d(w_full, w_half, (1, 2, 2)), _ConvGN3d(w_half, w_half)
        )
        self.down2 = nn.Sequential(  # T/2 x H/4 x W/4
            _ConvGN3d(w_half, w_mid // 2, (1, 2, 2)), _ConvGN3d(w_mid // 2, w_mid, (2, 1, 1))
        )
        self.down3 = nn.Sequential(  # T/4 x H/4 x W/4
            _ConvGN3d(w_mid, 2 * w_mid, (2, 1, 1)), _ConvGN3d(2 * w_mid, w_deep)
        )
        self.drop2 = MCDropout(dropout, channelwise=True)
        self.drop3 = MCDropout(dropout, channelwise=True)
        self.out_channels = w_deep
        self.skip_channels = (w_half, w_full)

    def forward(self, clips: torch.Tensor, generators: Generators | None = None) -> EncoderOutput:
        """Encode clips.

        Args:
            clips: ``[B, 3, T, H, W]`` in ``[0, 1]``; ``H`` and ``W`` divisible by 4.
            generators: per-trial dropout generators (see :class:`MCDropout`).

        Returns:
            :class:`EncoderOutput` (deep features pooled over time).
        """
        x = clips
        if self.temporal_diff:
            diff = torch.cat([torch.zeros_like(x[:, :, :1]), x[:, :, 1:] - x[:, :, :-1]], dim=2)
            x = torch.cat([x, diff], dim=1)
        full = self.stem(x)
        half = self.down1(full)
        x = self.drop2(self.down2(half), generators)
        x = self.drop3(self.down3(x), generators)
        return EncoderOutput(deep=x.mean(dim=2), half=half, full=full)


def build_encoder(name: str, **kwargs: Any) -> nn.Module:
    """Build an encoder by config name.

    The encoder contract: attributes ``out_channels`` (deep channels) and ``skip_channels``
    ``(half, full)``, and ``forward(clips, generators=None) -> EncoderOutput``.

    Args:
        name: ``"tiny"`` (:class:`TinyEncoder3D`) or ``"i3d"`` (:class:`.i3d.I3DEncoder`:
            Inception-I3D cut at ``Mixed_4f``, spec §D/§E.2; its ``weights`` argument is a local
            checkpoint path).
        **kwargs: passed to the encoder's constructor.

    Returns:
        The encoder module.

    Raises:
        ConfigError: for an unknown name (the message lists the choices).
    """
    if name == "tiny":
        return TinyEncoder3D(**kwargs)
    if name == "i3d":
        from .i3d import I3DEncoder  # imported here: i3d.py builds on this module

        return I3DEncoder(**kwargs)
    raise ConfigError(f"unknown encoder {name!r}; choose one of: {', '.join(ENCODERS)}")


# --------------------------------------------------------------------------- the detector


def _add_skip(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``x + skip`` where ``x`` may hold ``k`` trial copies of ``skip``'s batch (trial-major).

    Other dimensions broadcast as usual (a time axis of 1 in ``x`` spreads over the frames).
    """
    if x.shape[0] == skip.shape[0]:
        return x + skip
    k = x.shape[0] // skip.shape[0]
    return (x.view(k, *skip.shape[:1], *x.shape[1:]) + skip).flatten(0, 1)


class CapsuleDetector(nn.Module):
    """Encoder → primary capsules → 2-D EM-routed class capsules → masked decoder (§3.3, §E).

    The pipeline (shapes for a ``[B, 3, 8, 64, 64]`` clip, ``C`` classes, ``P`` primary types):

    1. :meth:`encode` — deterministic when ``dropout_in == "head"``: encoder features
       ``[B, 160, 16, 16]`` and skips at 1/4, 1/2 and full resolution (the latter two keep all
       ``T`` frames) → :class:`~.capsules.PrimaryCaps` on an 8x8 grid →
       :class:`~.capsules.ConvCaps1x1` with 2-D EM routing to ``C`` class capsules per grid
       position → class activations (pooled over the grid) and poses; plus the decoder's skip
       projections.
    2. :meth:`head` — the dropout-bearing part: **class-conditional masking** → decoder →
       logits ``[B, T, H, W]``.

    Masking follows VideoCapsuleNet (E.1) and the paper, not the ASL release: the poses of the
    ``C`` class capsules at every grid position are multiplied by the one-hot of the ground-truth
    class during training (``target`` given) and of the predicted class (argmax of the
    activations) otherwise, so the decoder only sees the chosen class's capsules. The released ASL
    code builds that one-hot but leaves the multiplication commented out (E.2). We keep the capsule
    *grid* (as E.2 does, ``C x 16`` channels per position) rather than VCN's FC from the class
    vector, since the grid says where the class capsule agrees, which the decoder needs to
    localise; the masked class-activation map rides along as one more channel per class.

    Class activation = grid pooling of the per-position class activations. The default
    ``class_pool="actor"`` weights each position by the detector's coarse actor map
    (``actor_logits``, its own loss :func:`~.losses.actor_map_loss`); ``"presence"`` weights by the
    summed primary-capsule activations and ``"mean"`` is E.2's plain mean. With ``evidence`` a
    linear read-out of the features is added to the class capsules' activation offsets. Both
    depart from the paper because the pure version did not learn in a CPU cycle: see the training
    notes at the top of this module.

    Dropout (:class:`MCDropout`, usable as MC dropout with explicit generators) sits in the
    decoder: channel dropout after its capsule input layer, after the 1/4-res block and after the
    1/2-res block (VCN/ASL put Dropout3d at the encoder output and before the last layer). The
    capsules stay deterministic, so MC dropout re-runs only the decoder per trial (the pixel
    uncertainty that APU scores comes from there) and the class prediction, hence the masking, is
    the same in every trial. ``dropout_in="all"`` also puts channel dropout inside the encoder;
    then :meth:`encode` is stochastic and MC repeats it.

    Args:
        num_classes: number of actions ``C``.
        encoder: config name for :func:`build_encoder`, or an encoder module.
        encoder_kw: keyword arguments for :func:`build_encoder`.
        primary_caps: primary capsule types ``P``.
        routing_iters: EM iterations.
        final_lambda: inverse temperature of the last EM M-step (1; see the training notes).
        cost_norm: ``"center"`` or ``"zscore"`` (VCN), see :func:`~.capsules.em_routing`.
        class_pool: ``"actor"`` (default), ``"presence"`` or ``"mean"`` (E.2) pooling over the
            grid.
        evidence: add the linear activation evidence to the class capsules (default ``True``).
        dropout: probability of every dropout layer.
        dropout_in: ``"head"`` (encoder and capsules deterministic) or ``"all"``.
        decoder_width: channels of the 1/4-res decoder block (halved at 1/2 res).
        clip_len: expected frames per clip, checked by :meth:`encode` (``None``: any).
        height: expected clip height (``None``: any multiple of 8).
        width: expected clip width (``None``: any multiple of 8).

    Raises:
        ConfigError: for an unknown option value or encoder name.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        encoder: str | nn.Module = "tiny",
        encoder_kw: Mapping[str, Any] | None = None,
        primary_caps: int = 16,
        routing_iters: int = 3,
        final_lambda: float = 1.0,
        cost_norm: str = "center",
        class_pool: str = "actor",
        evidence: bool = True,
        dropout: float = 0.3,
        dropout_in: str = "head",
        decoder_width: int = 32,
        clip_len: int | None = None,
        height: int | None = None,
        width: int | None = None,
    ) -> None:
        super().__init__()
        for name, value, choices in (
            ("dropout_in", dropout_in, DROPOUT_IN),
            ("class_pool", class_pool, CLASS_POOL),
            ("cost_norm", cost_norm, COST_NORM),
        ):
            if value not in choices:
                raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
        if (height is not None and height % 8) or (width is not None and width % 8):
            raise ConfigError(f"clip height and width must be divisible by 8, got {height}x{width}")
        self.num_classes, self.dropout_in, self.class_pool = num_classes, dropout_in, class_pool
        self.clip_shape = (clip_len, height, width)
        if isinstance(encoder, str):
            kw = dict(encoder_kw or {})
            if dropout_in == "all":
                kw.setdefault("dropout", dropout)
            encoder = build_encoder(encoder, **kw)
        self.encoder = encoder
        c_deep = encoder.out_channels
        c_half, c_full = encoder.skip_channels
        d_q, d_h = decoder_width, decoder_width // 2

        # capsules (deterministic: MC dropout re-runs only the decoder, see the class notes)
        self.primary = PrimaryCaps(c_deep, primary_caps, kernel_size=3, stride=2, padding=1)
        self.class_caps = ConvCaps1x1(
            primary_caps,
            num_classes,
            iters=routing_iters,
            final_lambda=final_lambda,
            cost_norm=cost_norm,
        )
        # activation evidence: a linear read-out of the features under each grid position,
        # added to the class capsules' activation offsets (see the class notes)
        self.evidence = nn.Conv2d(c_deep, num_classes, 1) if evidence else None
        if self.evidence is not None:
            nn.init.zeros_(self.evidence.weight)
            nn.init.zeros_(self.evidence.bias)

        # coarse "where is an actor" map that pools the class scores (class_pool="actor")
        self.actor = nn.Conv2d(c_deep, 1, 1)

        # decoder skip projections: deterministic, computed once per clip in encode()
        self.proj_quarter = nn.Conv2d(c_deep, d_q, 1)
        self.proj_half = nn.Conv3d(c_half, d_h, 1)
        # full resolution: FCN-style score skip (a 1-channel logit map added after upsampling)
        self.score_full = nn.Sequential(
            nn.Conv3d(c_full, c_full, (1, 3, 3), 1, (0, 1, 1)),
            nn.ReLU(inplace=True),
            nn.Conv3d(c_full, 1, 1),
        )

        # decoder: every layer here runs once per MC trial, so it stays narrow and stops at
        # half resolution (see the module notes on cost)
        c_caps = num_classes * (POSE_DIM + 1)
        self.dec_in = nn.Conv2d(c_caps, 2 * d_q, 1)
        self.drop_in = MCDropout(dropout, channelwise=True)
        self.up_quarter = nn.ConvTranspose2d(2 * d_q, d_q, 4, 2, 1)  # G -> H/4
        self.drop_quarter = MCDropout(dropout, channelwise=True)
        self.up_half = nn.ConvTranspose2d(d_q, d_h, 4, 2, 1)  # H/4 -> H/2
        self.mix_half = nn.Conv3d(d_h, d_h, (1, 3, 3), 1, (0, 1, 1))
        self.drop_half = MCDropout(dropout, channelwise=True)
        self.score_half = nn.Conv3d(d_h, 1, 1)
        # H/2 -> H on the 1-channel logit map, initialised as bilinear interpolation (FCN)
        self.up_full = nn.ConvTranspose3d(1, 1, (1, 4, 4), (1, 2, 2), (0, 1, 1), bias=False)
        with torch.no_grad():
            k1 = torch.tensor([0.25, 0.75, 0.75, 0.25])
            self.up_full.weight.copy_((k1[:, None] * k1[None, :]).view(1, 1, 1, 4, 4))
            # start near the foreground prior of action tubes (~10 % of pixels), not at 50 %
            self.score_half.bias.fill_(-2.0)

    # ---- the deterministic part

    def encode(self, clips: torch.Tensor, generators: Generators | None = None) -> Features:
        """Encoder, capsules, class activations and the decoder's skip projections.

        Args:
            clips: ``[B, 3, T, H, W]`` in ``[0, 1]``, ``H`` and ``W`` divisible by 8.
            generators: per-trial dropout generators; only used when ``dropout_in == "all"``.

        Returns:
            :class:`Features`; deterministic when ``dropout_in == "head"``.

        Raises:
            ValueError: for a clip size that does not fit (see the constructor).
        """
        _, _, t, h, w = clips.shape
        if h % 8 or w % 8:
            raise ValueError(f"clip height and width must be divisible by 8, got {h}x{w}")
        names = ("length", "height", "width")
        for got, want, what in zip((t, h, w), self.clip_shape, names, strict=True):
            if want is not None and got != want:
                raise ValueError(f"clip {what} {got} differs from the model's {want}")
        enc = self.encoder(clips, generators if self.dropout_in == "all" else None)
        # other encoders (I3D) pool time differently and stop at other strides: resample to the
        # grid the decoder expects
        deep = enc.deep
        if deep.shape[-2:] != (h // 4, w // 4):
            deep = F.interpolate(deep, size=(h // 4, w // 4), mode="bilinear", align_corners=False)
        half, full = enc.half, enc.full
        if half.shape[-3:] != (t, h // 2, w // 2):
            half = F.interpolate(half, size=(t, h // 2, w // 2), mode="trilinear")
        if full.shape[-3:] != (t, h, w):
            full = F.interpolate(full, size=(t, h, w), mode="trilinear")

        p_pose, p_act = self.primary(deep)  # [B, G, G, P, 16], [B, G, G, P]
        offset = None
        if self.evidence is not None:
            g = p_act.shape[1:3]
            offset = self.evidence(F.adaptive_avg_pool2d(deep, g)).permute(0, 2, 3, 1)
        pose, act = self.class_caps(p_pose, p_act, offset)  # [B, G, G, C, 16], [B, G, G, C]
        actor_logits = self.actor(deep).squeeze(1)  # [B, H/4, W/4]
        if self.class_pool == "mean":  # E.2: plain mean over the grid
            presence = torch.ones_like(act[..., :1])
        elif self.class_pool == "actor":
            # where the actor is, as the supervised actor map says; detached so the class loss
            # cannot move the attention towards whatever is easiest to classify
            prob = torch.sigmoid(actor_logits.detach()).unsqueeze(1)
            presence = F.adaptive_avg_pool2d(prob, act.shape[1:3]).squeeze(1).unsqueeze(-1)
        else:  # weight each position by how much primary-capsule activity it routes
            presence = p_act.sum(dim=-1, keepdim=True)  # [B, G, G, 1]
        weight = presence / presence.sum(dim=(1, 2), keepdim=True).clamp_min(1e-6)
        activations = (weight * act).sum(dim=(1, 2))  # [B, C]
        pose_w = weight * act
        pose_w = pose_w / pose_w.sum(dim=(1, 2), keepdim=True).clamp_min(1e-6)
        poses = (pose_w.unsqueeze(-1) * pose).sum(dim=(1, 2))  # [B, C, 16]
        return Features(
            activations=activations,
            poses=poses,
            caps_pose=pose,
            caps_act=act,
            actor_logits=actor_logits,
            quarter=self.proj_quarter(deep),
            half=self.proj_half(half),
            full=self.score_full(full),
        )

    # ---- the dropout-bearing part

    def head(
        self,
        features: Features,
        target: torch.Tensor | None = None,
        *,
        generators: Generators | None = None,
    ) -> DetectorOutput:
        """Class-conditional masking and the decoder.

        Args:
            features: from :meth:`encode`, possibly :meth:`Features.repeat_trials`-ed; the batch
                ``B'`` of its capsule fields is the batch of the output.
            target: ``[B']`` ground-truth class indices (training: mask with them) or ``None``
                (mask with the predicted class, the argmax of ``features.activations``).
            generators: ``k`` per-trial dropout generators (MC mode, always active; ``B'`` is
                read as ``k`` trial-major chunks) or ``None`` (ordinary dropout).

        Returns:
            :class:`DetectorOutput` with batch ``B'``.
        """
        pose, act = features.caps_pose, features.caps_act
        cls = features.activations.argmax(dim=1) if target is None else target
        onehot = F.one_hot(cls, self.num_classes).to(pose.dtype)[:, None, None, :]  # [B',1,1,C]
        masked = torch.cat([pose * onehot.unsqueeze(-1), (act * onehot).unsqueeze(-1)], dim=-1)
        z = masked.flatten(3).permute(0, 3, 1, 2)  # [B', C*17, G, G]; zero outside the class

        z = self.drop_in(F.relu(self.dec_in(z)), generators)
        z = F.relu(_add_skip(self.up_quarter(z), features.quarter))  # [B', d_q, H/4, W/4]
        z = self.drop_quarter(z, generators)
        z = self.up_half(z).unsqueeze(2)  # [B', d_h, 1, H/2, W/2], broadcast over time
        z = F.relu(_add_skip(z, features.half))  # [B', d_h, T, H/2, W/2]
        z = self.drop_half(F.relu(self.mix_half(z)), generators)
        z = self.up_full(self.score_half(z))  # [B', 1, T, H, W]
        logits = _add_skip(z, features.full).squeeze(1)
        return DetectorOutput(features.activations, logits, features.poses, features.actor_logits)

    # ---- passes

    def forward(
        self,
        clips: torch.Tensor,
        target: torch.Tensor | None = None,
        *,
        generators: Generators | None = None,
    ) -> DetectorOutput:
        """One full pass: ``head(encode(clips))``.

        Args:
            clips: ``[B, 3, T, H, W]`` in ``[0, 1]``.
            target: ``[B]`` class indices for training-time masking, or ``None``.
            generators: one generator (a list of length 1) for a reproducible MC trial; see
                :class:`MCDropout`.

        Returns:
            :class:`DetectorOutput`.
        """
        return self.head(self.encode(clips, generators), target, generators=generators)

    @torch.no_grad()
    def mc_forward(
        self,
        clips: torch.Tensor,
        trials: int,
        generator: torch.Generator | None = None,
        *,
        chunk_trials: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """MC-dropout prediction: :meth:`encode` once, the dropout-bearing head ``trials`` times.

        With ``dropout_in == "head"`` nothing before the head has dropout, so running
        :meth:`encode` once and the head on ``trials`` copies of its output has exactly the
        distribution of ``trials`` full passes (and, with the same generators, exactly the same
        outputs). The trials are batched (trial-major), ``chunk_trials`` at a time. Dropout is
        active whatever the module mode. With ``dropout_in == "all"`` every trial also runs
        :meth:`encode` (still batched).

        Args:
            clips: ``[B, 3, T, H, W]`` in ``[0, 1]``.
            trials: number of MC trials.
            generator: seeds the per-trial generators (:func:`trial_generators`); ``None`` uses
                torch's global RNG.
            chunk_trials: trials per batched call (default: all at once).

        Returns:
            ``(act, fg_prob)``: ``[trials, B, C]`` class activations and ``[trials, B, T, H, W]``
            foreground probabilities (sigmoid of the logits).
        """
        if trials < 1:
            raise ValueError(f"trials must be >= 1, got {trials}")
        gens = trial_generators(generator, trials)
        step = trials if chunk_trials is None else max(1, chunk_trials)
        b = clips.shape[0]
        base = self.encode(clips) if self.dropout_in == "head" else None
        acts, probs = [], []
        for start in range(0, trials, step):
            g = gens[start : start + step]
            if base is not None:
                feats = base.repeat_trials(len(g))
            else:
                feats = self.encode(clips.repeat(len(g), 1, 1, 1, 1), g)
            out = self.head(feats, generators=g)
            acts.append(out.activations.view(len(g), b, -1))
            probs.append(torch.sigmoid(out.logits).view(len(g), b, *out.logits.shape[1:]))
        return torch.cat(acts), torch.cat(probs)
