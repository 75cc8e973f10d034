"""Tests of the detector losses: spread loss, per-frame pixel BCE, margin schedule (spec §E)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from asl_action_det.losses import actor_map_loss, margin_at, pixel_bce_per_frame, spread_loss


def test_spread_loss_hand_computed():
    """The spread loss matches a hand computation, the target's own term excluded."""
    act = torch.tensor([[0.9, 0.3, 0.8], [0.2, 0.5, 0.4]])
    target = torch.tensor([0, 1])
    m = 0.2
    # clip 0: t=0 (a_t=0.9): i=1 -> max(0, 0.2-0.6)=0; i=2 -> 0.2-0.1=0.1 -> 0.01
    # clip 1: t=1 (a_t=0.5): i=0 -> 0.2-0.3<0 -> 0; i=2 -> 0.2-0.1=0.1 -> 0.01
    expected = (0.01 + 0.01) / 2
    assert spread_loss(act, target, m).item() == pytest.approx(expected, abs=1e-6)


def test_spread_loss_zero_when_margin_met_and_positive_otherwise():
    """A target that beats every class by the margin costs nothing; a tie costs m^2 per class."""
    act = torch.tensor([[0.95, 0.05, 0.05]])
    assert spread_loss(act, torch.tensor([0]), 0.9).item() == 0.0
    tie = torch.full((1, 4), 0.5)
    assert spread_loss(tie, torch.tensor([2]), 0.5).item() == pytest.approx(3 * 0.25)


def test_spread_loss_gradient_raises_target_and_lowers_others():
    """The gradient pushes the target activation up and the violating ones down."""
    act = torch.tensor([[0.4, 0.5, 0.1]], requires_grad=True)
    spread_loss(act, torch.tensor([0]), 0.5).backward()
    assert act.grad[0, 0] < 0 and act.grad[0, 1] > 0


def test_pixel_bce_per_frame_matches_torch():
    """Per-frame BCE equals torch's mean BCE-with-logits over each frame's pixels."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 5, 7, generator=g) * 3
    target = (torch.rand(2, 3, 5, 7, generator=g) > 0.5).float()
    got = pixel_bce_per_frame(logits, target)
    assert got.shape == (2, 3)
    for b in range(2):
        for t in range(3):
            ref = F.binary_cross_entropy_with_logits(logits[b, t], target[b, t])
            assert got[b, t].item() == pytest.approx(ref.item(), rel=1e-6)


def test_pixel_bce_rejects_shape_mismatch():
    """Logits and target of different shapes are an error, not a silent broadcast."""
    with pytest.raises(ValueError, match="differ"):
        pixel_bce_per_frame(torch.zeros(1, 2, 4, 4), torch.zeros(1, 1, 4, 4))


def test_margin_schedule_is_linear_from_start_to_end():
    """The margin starts at 0.2, ends at 0.9, is linear and clamps outside the run."""
    assert margin_at(0, 11) == pytest.approx(0.2)
    assert margin_at(5, 11) == pytest.approx(0.55)
    assert margin_at(10, 11) == pytest.approx(0.9)
    assert margin_at(50, 11) == pytest.approx(0.9)
    assert margin_at(-3, 11) == pytest.approx(0.2)
    assert margin_at(0, 1) == pytest.approx(0.9)
    values = [margin_at(s, 100, 0.1, 0.5) for s in range(100)]
    assert values == sorted(values)


def test_actor_map_loss_hand_computed():
    """The soft target is the weighted-frame mean of the masks, area-pooled to the map.

    One clip, 2 frames of 2x2 pixels, map 1x1: frame 0 (weight 1) has 2 of 4 pixels on, frame 1
    (weight 0) is ignored, so the target is 0.5 and the loss is BCE(logit 0, 0.5) = log 2.
    """
    target = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0]]]])  # [1, 2, 2, 2]
    weights = torch.tensor([[1.0, 0.0]])
    loss = actor_map_loss(torch.zeros(1, 1, 1), target, weights)
    assert loss.item() == pytest.approx(math.log(2.0))
    # BCE against a soft target is smallest at that probability: a confident logit costs more
    assert actor_map_loss(torch.full((1, 1, 1), 3.0), target, weights).item() > math.log(2.0)


def test_actor_map_loss_ignores_clips_without_weighted_frames():
    """Clips whose frames all weigh 0 do not count; none at all gives 0 (with a gradient path)."""
    target = torch.zeros(2, 2, 4, 4)
    logits = torch.zeros(2, 2, 2, requires_grad=True)
    weights = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    one = actor_map_loss(logits, target, weights)
    assert one.item() == pytest.approx(math.log(2.0))
    none = actor_map_loss(logits, target, torch.zeros(2, 2))
    assert none.item() == 0.0
    none.backward()
    assert logits.grad is not None
