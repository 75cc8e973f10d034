"""Losses of the capsule detector (paper §3.2-3.3; spec §E.1-E.2).

* :func:`spread_loss` — the margin ("spread") loss on the class-capsule activations that
  VideoCapsuleNet and ASL train with (Hinton et al. 2018).
* :func:`pixel_bce_per_frame` — the localisation loss ``L_l^i`` of every frame ``i`` (paper §3.2):
  binary cross-entropy with logits, averaged over the pixels of each frame. It is returned per
  frame so that a SparseLoss (masking, interpolation or MGW, eq. 4) can weight the frames.
* :func:`actor_map_loss` — the loss of the detector's coarse actor map (the attention that pools
  the class scores; not in the paper, see :class:`~.model.CapsuleDetector`).
* :func:`margin_at` — the margin schedule of the spread loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["actor_map_loss", "margin_at", "pixel_bce_per_frame", "spread_loss"]


def spread_loss(act: torch.Tensor, target: torch.Tensor, margin: float) -> torch.Tensor:
    """Spread loss ``mean_b sum_{i != t} max(0, m - (a_t - a_i))^2`` (spec §E.1-E.2).

    VCN sums over the batch; we average (as ASL does, E.2) so the learning rate does not depend
    on the batch size. The ``i = t`` term, which would add the constant ``m^2``, is left out
    (ASL subtracts it).

    Args:
        act: ``[B, C]`` class activations.
        target: ``[B]`` class indices.
        margin: ``m`` (see :func:`margin_at`).

    Returns:
        Scalar loss.
    """
    a_t = act.gather(1, target[:, None])  # [B, 1]
    gap = F.relu(margin - (a_t - act)).square()  # [B, C]
    others = torch.ones_like(gap).scatter_(1, target[:, None], 0.0)
    return (gap * others).sum(dim=1).mean()


def pixel_bce_per_frame(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-frame localisation loss: BCE with logits, mean over the pixels of each frame.

    Args:
        logits: ``[B, T, H, W]`` foreground logits.
        target: ``[B, T, H, W]`` foreground masks in ``[0, 1]`` (same shape).

    Returns:
        ``[B, T]`` mean BCE per frame.
    """
    if logits.shape != target.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} differ")
    bce = F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="none")
    return bce.mean(dim=(-2, -1))


def actor_map_loss(
    actor_logits: torch.Tensor, target: torch.Tensor, frame_weights: torch.Tensor
) -> torch.Tensor:
    """BCE of the coarse actor map against the clip's target masks, averaged over time.

    The actor map is time-pooled (one map per clip), so its target is the mean of the clip's
    per-frame targets over the frames that carry weight, area-averaged down to the map's size: a
    soft target in ``[0, 1]``. Clips with no weighted frame do not count.

    Args:
        actor_logits: ``[B, h, w]`` logits.
        target: ``[B, T, H, W]`` per-frame foreground targets in ``[0, 1]`` (``H, W`` multiples of
            ``h, w``).
        frame_weights: ``[B, T]`` frame weights of the sparse loss (only ``> 0`` matters here).

    Returns:
        Scalar loss (0 when no clip has a weighted frame).
    """
    used = (frame_weights > 0).to(target.dtype)  # [B, T]
    count = used.sum(dim=1)  # [B]
    mean = (target.to(used.dtype) * used[:, :, None, None]).sum(dim=1) / count.clamp_min(1.0)[
        :, None, None
    ]
    soft = F.adaptive_avg_pool2d(mean.unsqueeze(1), actor_logits.shape[-2:]).squeeze(1)
    bce = F.binary_cross_entropy_with_logits(actor_logits, soft, reduction="none").mean(dim=(1, 2))
    keep = count > 0
    if not keep.any():
        return actor_logits.sum() * 0.0
    return bce[keep].mean()


def margin_at(step: int, total_steps: int, start: float = 0.2, end: float = 0.9) -> float:
    """Margin of the spread loss at ``step``: linear from ``start`` to ``end``.

    VCN raises ``m`` from 0.2 by 0.1 every 5 epochs up to 0.9 (E.1) — a staircase over a fixed
    epoch count. A linear ramp over the steps of one training run is the same idea without the
    epoch bookkeeping (active-learning cycles train for a step budget, not epochs); it reaches
    ``end`` at ``total_steps - 1`` and stays there.

    Args:
        step: current step, from 0.
        total_steps: steps of the run (``<= 1`` gives ``end`` at once).
        start: margin at step 0 (0.2 in VCN and ASL).
        end: final margin (0.9 in VCN).

    Returns:
        The margin.
    """
    if total_steps <= 1:
        return end
    frac = min(max(step / (total_steps - 1), 0.0), 1.0)
    return start + (end - start) * frac
