"""Tests of EM routing and the capsule layers (Hinton et al. 2018; spec §E.1-E.2)."""

from __future__ import annotations

import pytest
import torch
from asl_action_det.capsules import ConvCaps1x1, PrimaryCaps, em_routing


def _inputs(n=6, i=5, j=4, d=16, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    votes = torch.randn(n, i, j, d, generator=g) * scale
    a_in = torch.rand(n, i, generator=g)
    beta_u = torch.randn(j, d, generator=g) * 0.1
    beta_a = torch.randn(j, generator=g) * 0.1
    return votes, a_in, beta_u, beta_a


def test_em_routing_shapes_and_activation_range():
    """Routing returns one pose and one activation in (0, 1) per output capsule."""
    votes, a_in, beta_u, beta_a = _inputs()
    pose, act = em_routing(votes, a_in, beta_u, beta_a, iters=3)
    assert pose.shape == (6, 4, 16) and act.shape == (6, 4)
    assert bool(((act > 0) & (act < 1)).all())


def test_em_routing_is_invariant_to_input_order():
    """Permuting the input capsules (votes and activations together) changes nothing.

    In float64: in float32 the different summation order alone moves poses by ~1e-5.
    """
    votes, a_in, beta_u, beta_a = (x.double() for x in _inputs(i=7))
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(1))
    p1, a1 = em_routing(votes, a_in, beta_u, beta_a)
    p2, a2 = em_routing(votes[:, perm], a_in[:, perm], beta_u, beta_a)
    torch.testing.assert_close(p1, p2, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(a1, a2, rtol=1e-10, atol=1e-10)


def test_em_routing_is_equivariant_in_output_capsules():
    """Permuting the output capsules (votes and betas together) permutes the outputs (float64)."""
    votes, a_in, beta_u, beta_a = (x.double() for x in _inputs())
    perm = torch.tensor([2, 0, 3, 1])
    p1, a1 = em_routing(votes, a_in, beta_u, beta_a)
    p2, a2 = em_routing(votes[:, :, perm], a_in, beta_u[perm], beta_a[perm])
    torch.testing.assert_close(p1[:, perm], p2, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(a1[:, perm], a2, rtol=1e-10, atol=1e-10)


def test_em_routing_identical_votes_give_the_vote_as_pose():
    """If every input casts the same vote for a capsule, that capsule's pose is that vote."""
    votes, a_in, beta_u, beta_a = _inputs(n=3, i=6, j=3)
    target = torch.randn(3, 16)
    votes[:, :, 1] = target[:, None, :]
    pose, act = em_routing(votes, a_in, beta_u, beta_a)
    torch.testing.assert_close(pose[:, 1], target, rtol=1e-5, atol=1e-5)
    # perfect agreement is the cheapest explanation: that capsule wins everywhere
    assert bool((act.argmax(dim=1) == 1).all())


def test_em_routing_scalar_beta_u_broadcasts():
    """``beta_u`` of shape [J] is the same as the [J, D] tensor repeating it."""
    votes, a_in, _, beta_a = _inputs()
    bu = torch.tensor([0.1, -0.2, 0.3, 0.0])
    p1, a1 = em_routing(votes, a_in, bu, beta_a)
    p2, a2 = em_routing(votes, a_in, bu[:, None].expand(4, 16), beta_a)
    torch.testing.assert_close(p1, p2)
    torch.testing.assert_close(a1, a2)


@pytest.mark.parametrize(
    "case", ["huge", "tiny", "zeros", "identical", "inactive", "mixed_scales", "single_input"]
)
def test_em_routing_is_finite_for_extreme_inputs(case):
    """Extreme votes and activations give finite outputs and finite gradients."""
    votes, a_in, beta_u, beta_a = _inputs(n=4, i=5, j=3)
    if case == "huge":
        votes = votes * 1e4
    elif case == "tiny":
        votes = votes * 1e-8
    elif case == "zeros":
        votes = torch.zeros_like(votes)
    elif case == "identical":
        votes = votes[:, :1].expand_as(votes).clone()
    elif case == "inactive":
        a_in = torch.zeros_like(a_in)
    elif case == "mixed_scales":
        votes[:, 0] *= 1e5
        a_in[:, 1] = 0.0
    elif case == "single_input":
        votes, a_in = votes[:, :1], a_in[:, :1]
    votes.requires_grad_(True)
    beta_a = beta_a.clone().requires_grad_(True)
    pose, act = em_routing(votes, a_in, beta_u, beta_a, iters=3)
    assert torch.isfinite(pose).all() and torch.isfinite(act).all()
    assert bool(((act >= 0) & (act <= 1)).all())
    (pose.sum() + act.sum()).backward()
    assert torch.isfinite(votes.grad).all() and torch.isfinite(beta_a.grad).all()


def test_em_routing_one_iteration_is_a_single_m_step():
    """With one iteration the pose is the activation-weighted mean of the votes."""
    votes, a_in, beta_u, beta_a = _inputs()
    pose, _ = em_routing(votes, a_in, beta_u, beta_a, iters=1)
    w = a_in / a_in.sum(dim=1, keepdim=True)
    expected = (w[:, :, None, None] * votes).sum(dim=1)
    torch.testing.assert_close(pose, expected, rtol=1e-5, atol=1e-5)


def test_em_routing_rejects_bad_shapes():
    """Mismatched shapes and zero iterations are errors."""
    votes, a_in, beta_u, beta_a = _inputs()
    with pytest.raises(ValueError):
        em_routing(votes[0], a_in, beta_u, beta_a)
    with pytest.raises(ValueError):
        em_routing(votes, a_in[:, :2], beta_u, beta_a)
    with pytest.raises(ValueError):
        em_routing(votes, a_in, beta_u[:2], beta_a)
    with pytest.raises(ValueError):
        em_routing(votes, a_in, beta_u, beta_a, iters=0)


def test_primary_and_conv_capsule_shapes():
    """Primary capsules halve the grid; 1x1 conv capsules keep it and change the type count."""
    x = torch.randn(2, 32, 16, 16)
    pose, act = PrimaryCaps(32, 8)(x)
    assert pose.shape == (2, 8, 8, 8, 16) and act.shape == (2, 8, 8, 8)
    assert bool(((act > 0) & (act < 1)).all())
    pose2, act2 = ConvCaps1x1(8, 5)(pose, act)
    assert pose2.shape == (2, 8, 8, 5, 16) and act2.shape == (2, 8, 8, 5)


def test_conv_caps_votes_are_matrix_products():
    """Each vote is the input pose matrix times the transformation matrix (4x4 products)."""
    layer = ConvCaps1x1(3, 2)
    pose = torch.randn(5, 3, 16)
    v = layer.votes(pose)
    expected = pose.view(5, 3, 4, 4)[:, 1] @ layer.weight[1, 0]
    torch.testing.assert_close(v[:, 1, 0], expected.flatten(-2))


def test_em_routing_ignores_the_overall_input_activity():
    """Scaling every input activation by the same factor changes neither poses nor activations.

    This is what keeps the classifier from a dead state when all primary capsules go quiet.
    """
    votes, a_in, beta_u, beta_a = (x.double() for x in _inputs())
    p1, a1 = em_routing(votes, a_in, beta_u, beta_a)
    p2, a2 = em_routing(votes, a_in * 0.01, beta_u, beta_a)
    torch.testing.assert_close(p1, p2, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(a1, a2, rtol=1e-8, atol=1e-8)


def test_zscore_cost_norm_spreads_activations_more():
    """VCN's z-score normalisation forces a spread of activations even for near-equal costs."""
    votes, a_in, beta_u, beta_a = _inputs()
    votes = votes * 1e-3 + 1.0  # nearly identical vote clouds for every output capsule
    _, a_c = em_routing(votes, a_in, beta_u * 0, beta_a * 0, cost_norm="center")
    _, a_z = em_routing(votes, a_in, beta_u * 0, beta_a * 0, cost_norm="zscore")
    assert a_z.std(dim=1).mean() > a_c.std(dim=1).mean()
    with pytest.raises(ValueError, match="cost_norm"):
        em_routing(votes, a_in, beta_u, beta_a, cost_norm="l2")
