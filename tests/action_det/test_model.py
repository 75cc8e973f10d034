"""Tests of the capsule detector: shapes, masking, MC dropout (paper §3.3; spec §E)."""

from __future__ import annotations

import pytest
import torch
from asl_action_det.model import (
    CapsuleDetector,
    DetectorOutput,
    Features,
    MCDropout,
    TinyEncoder3D,
    build_encoder,
    trial_generators,
)

from asl_core import ConfigError

C = 5


@pytest.fixture(scope="module")
def model() -> CapsuleDetector:
    torch.manual_seed(0)
    return CapsuleDetector(C).eval()


def _clips(b: int = 2, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, 8, size, size, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("size", [64, 32])
def test_shapes_through_every_stage(model, size):
    """Encoder, features, capsules and outputs have the documented shapes at 64 and 32 px."""
    clips = _clips(size=size)
    enc = model.encoder(clips)
    assert enc.deep.shape == (2, 160, size // 4, size // 4)
    assert enc.half.shape == (2, 16, 8, size // 2, size // 2)
    assert enc.full.shape == (2, 8, 8, size, size)
    g = size // 8
    p_pose, p_act = model.primary(enc.deep)
    assert p_pose.shape == (2, g, g, 16, 16) and p_act.shape == (2, g, g, 16)
    c_pose, c_act = model.class_caps(p_pose, p_act)
    assert c_pose.shape == (2, g, g, C, 16) and c_act.shape == (2, g, g, C)
    feats = model.encode(clips)
    assert feats.activations.shape == (2, C) and feats.poses.shape == (2, C, 16)
    assert feats.caps_pose.shape == (2, g, g, C, 16) and feats.caps_act.shape == (2, g, g, C)
    assert feats.quarter.shape == (2, 32, size // 4, size // 4)
    assert feats.half.shape == (2, 16, 8, size // 2, size // 2)
    assert feats.full.shape == (2, 1, 8, size, size)
    out = model(clips)
    assert isinstance(out, DetectorOutput)
    assert out.activations.shape == (2, C)
    assert out.logits.shape == (2, 8, size, size)
    assert out.poses.shape == (2, C, 16)
    assert bool(((out.activations > 0) & (out.activations < 1)).all())


def test_tiny_encoder_parameter_count():
    """The tiny encoder has about a million parameters (0.5-1.5 M)."""
    n = sum(p.numel() for p in TinyEncoder3D().parameters())
    assert 0.5e6 <= n <= 1.5e6


def test_build_encoder_names_the_choices():
    """An unknown encoder name is a ConfigError that lists the available encoders."""
    assert isinstance(build_encoder("tiny"), TinyEncoder3D)
    with pytest.raises(ConfigError, match="tiny, i3d"):
        build_encoder("resnet")


@pytest.mark.parametrize(
    "kwargs", [{"dropout_in": "encoder"}, {"class_pool": "max"}, {"cost_norm": "l2"}]
)
def test_bad_options_are_config_errors(kwargs):
    """Misspelled options fail at construction with the choices in the message."""
    with pytest.raises(ConfigError, match="choose one of"):
        CapsuleDetector(C, **kwargs)


def test_declared_clip_shape_is_checked():
    """A model built for 8x32x32 clips rejects other sizes."""
    m = CapsuleDetector(C, clip_len=8, height=32, width=32).eval()
    m(_clips(size=32))
    with pytest.raises(ValueError, match="height"):
        m(_clips(size=64))


def test_training_step_gives_finite_gradients_everywhere():
    """One loss backward reaches every parameter with finite gradients."""
    torch.manual_seed(1)
    m = CapsuleDetector(C, dropout_in="all").train()
    out = m(_clips(size=32), torch.tensor([1, 3]))
    (out.activations.sum() + out.logits.mean() + out.actor_logits.mean()).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


# --------------------------------------------------------------------------- masking


def _decoder_input(model: CapsuleDetector, clips: torch.Tensor, target=None) -> torch.Tensor:
    """The masked capsule tensor the decoder receives, as [B, C, 17, G, G]."""
    seen = {}
    handle = model.dec_in.register_forward_hook(lambda mod, args, out: seen.update(z=args[0]))
    try:
        out = model(clips, target)
    finally:
        handle.remove()
    z = seen["z"]
    return z.view(z.shape[0], C, 17, *z.shape[-2:]), out


def test_masking_keeps_only_the_chosen_class(model):
    """The decoder sees the target class's capsules in training and the predicted one at test."""
    clips = _clips()
    z_test, out = _decoder_input(model, clips)
    pred = out.activations.argmax(1)
    other = (pred + 1) % C  # a target that differs from the prediction
    z_train, _ = _decoder_input(model, clips, other)
    for b in range(2):
        for z, cls in ((z_test, pred[b]), (z_train, other[b])):
            keep = torch.zeros(C, dtype=torch.bool)
            keep[cls] = True
            assert z[b, ~keep].abs().max() == 0  # non-target classes are zero
            assert z[b, keep].abs().max() > 0
    # different classes chosen -> different decoder inputs -> different masks
    assert not torch.equal(z_test, z_train)
    assert not torch.equal(model(clips).logits, model(clips, other).logits)


# --------------------------------------------------------------------------- MC dropout


def test_mc_dropout_layer_modes():
    """MCDropout: identity in eval, dropout in train, always on with generators."""
    x = torch.ones(4, 6, 3, 5, 5)
    drop = MCDropout(0.5, channelwise=True).eval()
    assert torch.equal(drop(x), x)
    gens = trial_generators(torch.Generator().manual_seed(0), 2)
    y = drop(x, gens)
    assert set(torch.unique(y).tolist()) <= {0.0, 2.0}
    per_channel = y.flatten(2)
    assert bool((per_channel.amax(-1) == per_channel.amin(-1)).all())  # whole channels
    drop.train()
    assert set(torch.unique(drop(x)).tolist()) <= {0.0, 2.0}
    with pytest.raises(ValueError, match="multiple"):
        drop(x[:3], gens)


def test_mc_dropout_chunks_draw_from_their_own_generator():
    """In a batch of k trial chunks, chunk i's mask is what generators[i] alone would draw."""
    drop = MCDropout(0.3)
    x = torch.ones(2, 7)
    gens = trial_generators(torch.Generator().manual_seed(3), 3)
    batched = drop(x.repeat(3, 1), gens)
    again = trial_generators(torch.Generator().manual_seed(3), 3)
    for i, g in enumerate(again):
        torch.testing.assert_close(batched[2 * i : 2 * i + 2], drop(x, [g]), rtol=0, atol=0)


def test_batched_mc_equals_sequential_head_calls(model):
    """Batched trials reproduce T sequential head calls that use the same generators."""
    clips, trials = _clips(), 4
    act, prob = model.mc_forward(clips, trials, torch.Generator().manual_seed(7))
    assert act.shape == (trials, 2, C) and prob.shape == (trials, 2, 8, 64, 64)
    feats = model.encode(clips)
    with torch.no_grad():
        for k, g in enumerate(trial_generators(torch.Generator().manual_seed(7), trials)):
            out = model.head(feats, generators=[g])
            torch.testing.assert_close(act[k], out.activations, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(prob[k], torch.sigmoid(out.logits), rtol=1e-5, atol=1e-6)
    # the trials really differ (dropout is on although the model is in eval mode)
    assert (prob[0] - prob[1]).abs().max() > 1e-4


def test_batched_mc_equals_sequential_full_passes(model):
    """With dropout only in the head, batched MC = T full passes with the same masks."""
    clips, trials = _clips(seed=1), 3
    _, prob = model.mc_forward(clips, trials, torch.Generator().manual_seed(11))
    with torch.no_grad():
        gens = trial_generators(torch.Generator().manual_seed(11), trials)
        full = torch.stack([torch.sigmoid(model(clips, generators=[g]).logits) for g in gens])
    torch.testing.assert_close(prob, full, rtol=1e-5, atol=1e-6)


def test_mc_chunking_does_not_change_the_result(model):
    """Running the trials two at a time gives the same numbers as all at once."""
    clips = _clips()
    a1, p1 = model.mc_forward(clips, 5, torch.Generator().manual_seed(2))
    a2, p2 = model.mc_forward(clips, 5, torch.Generator().manual_seed(2), chunk_trials=2)
    torch.testing.assert_close(a1, a2, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(p1, p2, rtol=1e-5, atol=1e-6)


def test_encode_is_deterministic_with_head_dropout():
    """With dropout_in='head' the encoder features ignore generators and the train flag."""
    torch.manual_seed(0)
    m = CapsuleDetector(C, dropout_in="head").train()
    clips = _clips(size=32)
    gens = trial_generators(torch.Generator().manual_seed(0), 1)
    with torch.no_grad():
        f1, f2 = m.encode(clips), m.encode(clips, gens)
    for a, b in zip(f1, f2, strict=False):
        assert torch.equal(a, b)


def test_all_dropout_mc_equals_full_passes():
    """With dropout also in the encoder, batched MC still equals sequential full passes."""
    torch.manual_seed(0)
    m = CapsuleDetector(C, dropout_in="all").eval()
    clips = _clips(size=32)
    gens = trial_generators(torch.Generator().manual_seed(5), 3)
    with torch.no_grad():
        f1, f2 = m.encode(clips, gens[:1]), m.encode(clips, gens[1:2])
        assert not torch.equal(f1.caps_pose, f2.caps_pose)  # the encoder is stochastic now
        _, prob = m.mc_forward(clips, 3, torch.Generator().manual_seed(5))
        gens = trial_generators(torch.Generator().manual_seed(5), 3)
        full = torch.stack([torch.sigmoid(m(clips, generators=[g]).logits) for g in gens])
    torch.testing.assert_close(prob, full, rtol=1e-5, atol=1e-6)


def test_features_repeat_trials_shares_the_skips(model):
    """repeat_trials copies only the capsule fields; skips stay at batch B (broadcast)."""
    feats = model.encode(_clips())
    rep = feats.repeat_trials(3)
    assert isinstance(rep, Features)
    assert rep.caps_pose.shape[0] == 6 and rep.activations.shape[0] == 6
    assert rep.full.shape[0] == 2 and rep.half.shape[0] == 2
    torch.testing.assert_close(rep.caps_pose[4:], feats.caps_pose)
    torch.testing.assert_close(rep.activations[2:4], feats.activations)


# --------------------------------------------------------------------------- class pooling


def test_actor_pooling_follows_the_actor_map():
    """With class_pool="actor" the clip's class activations are the per-position activations
    averaged with the actor map's weights: an actor map that is on in one grid cell only makes
    the clip score that cell's activations."""
    torch.manual_seed(0)
    m = CapsuleDetector(C, class_pool="actor").eval()
    # the 1/4-res actor map is 16x16 for a 64x64 clip; on only in the 2x2 block of grid cell (1, 2)
    logits = torch.full((1, 1, 16, 16), -30.0)
    logits[:, :, 2:4, 4:6] = 30.0
    m.actor.register_forward_hook(lambda _mod, _inp, _out: logits)
    with torch.no_grad():
        feats = m.encode(_clips(b=1))
    torch.testing.assert_close(feats.activations, feats.caps_act[:, 1, 2], rtol=1e-4, atol=1e-5)


def test_mean_pooling_is_the_plain_grid_mean():
    """class_pool="mean" (E.2) averages the per-position activations with equal weights."""
    torch.manual_seed(0)
    m = CapsuleDetector(C, class_pool="mean").eval()
    with torch.no_grad():
        feats = m.encode(_clips(b=2))
    torch.testing.assert_close(feats.activations, feats.caps_act.mean(dim=(1, 2)))


def test_evidence_starts_at_zero_so_initial_activations_are_pure_routing():
    """The activation-evidence read-out is zero at initialisation: the class capsules then give
    exactly what routing without an offset gives."""
    torch.manual_seed(0)
    m = CapsuleDetector(C, evidence=True).eval()
    with torch.no_grad():
        enc = m.encoder(_clips(b=2))
        p_pose, p_act = m.primary(enc.deep)
        pure = m.class_caps(p_pose, p_act)
        feats = m.encode(_clips(b=2))
    torch.testing.assert_close(feats.caps_act, pure[1])
    assert CapsuleDetector(C, evidence=False).evidence is None


def test_non_square_clips_keep_their_shape():
    """A 32x48 clip gives 32x48 logits and a 8x12 actor map (every pooling follows H and W)."""
    torch.manual_seed(0)
    m = CapsuleDetector(C).eval()
    with torch.no_grad():
        out = m(torch.rand(2, 3, 8, 32, 48))
    assert out.activations.shape == (2, C)
    assert out.logits.shape == (2, 8, 32, 48) and out.actor_logits.shape == (2, 8, 12)
