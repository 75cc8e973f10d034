"""Tests of STCN-style propagation, memory-based MC prediction and the training pass (§C.3)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from asl_vos.inference import predict_from_memory, propagate, training_forward
from asl_vos.model import STCN

H, W = 32, 48


def _square_clip(
    n: int, h: int = H, w: int = W, size: int = 10, step: int = 3, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` frames of a bright square moving right over a dim noisy background and a dark
    square moving down: frames ``[n, 3, h, w]`` and masks ``[n, 2, h, w]`` (object 1 bright,
    object 2 dark)."""
    g = torch.Generator().manual_seed(seed)
    frames = 0.4 + 0.2 * torch.rand(n, 3, h, w, generator=g)
    masks = torch.zeros(n, 2, h, w)
    for t in range(n):
        x = 2 + step * t
        masks[t, 0, 4 : 4 + size, x : x + size] = 1.0
        y = 1 + t
        masks[t, 1, y : y + 8, w - 12 : w - 4] = 1.0
    frames = torch.where(masks[:, :1] > 0, torch.tensor([0.95, 0.9, 0.2]).view(1, 3, 1, 1), frames)
    frames = torch.where(masks[:, 1:] > 0, torch.tensor([0.05, 0.1, 0.3]).view(1, 3, 1, 1), frames)
    return frames, masks


def _ids(masks: torch.Tensor) -> torch.Tensor:
    """``[K, H, W]`` disjoint masks → id map (0 = background)."""
    ids = torch.zeros(masks.shape[1:], dtype=torch.long)
    for k in range(masks.shape[0]):
        ids[masks[k] > 0.5] = k + 1
    return ids


def _given(masks: torch.Tensor, starts: dict[int, list[bool]]) -> dict:
    return {t: (masks[t], torch.tensor(s)) for t, s in starts.items()}


# --------------------------------------------------------------------------- propagate


def test_propagate_before_first_given_is_background(model: STCN) -> None:
    """Frames before the first given frame are exactly background."""
    frames, masks = _square_clip(6)
    out = propagate(model, frames, _given(masks, {2: [True, True]}))
    assert out.shape == (6, 3, H, W) and out.dtype == torch.float32
    assert torch.equal(out[:2, 0], torch.ones(2, H, W))
    assert torch.count_nonzero(out[:2, 1:]) == 0


def test_propagate_given_frames_return_given_masks(model: STCN) -> None:
    """At a given frame the argmax equals the given ids on the given objects (object 1 at frame
    0; object 2 at frame 3 on top of object 1's prediction)."""
    frames, masks = _square_clip(6)
    out = propagate(model, frames, _given(masks, {0: [True, False], 3: [False, True]}))
    assert torch.equal(out[0].argmax(0), _ids(masks[0, :1]))
    inside2 = masks[3, 1] > 0.5
    assert (out[3].argmax(0)[inside2] == 2).all()


def test_propagate_late_object_is_zero_before_start(model: STCN) -> None:
    """An object starting at frame 3 has probability exactly 0 before it, and not after."""
    frames, masks = _square_clip(6)
    out = propagate(model, frames, _given(masks, {0: [True, False], 3: [False, True]}))
    assert torch.count_nonzero(out[:3, 2]) == 0
    assert out[3:, 2].amax() > 0.5


def test_propagate_sums_to_one(model: STCN) -> None:
    """Propagated probabilities sum to 1 over {background, objects} in every frame."""
    frames, masks = _square_clip(7)
    out = propagate(model, frames, _given(masks, {1: [True, True]}), mem_every=2)
    assert torch.allclose(out.sum(1), torch.ones(7, H, W), atol=1e-5)


def test_propagate_pads_and_crops(model: STCN) -> None:
    """A 40x56 video (not multiples of 16) comes back 40x56 with the given mask in place."""
    frames, masks = _square_clip(3, h=40, w=56)
    out = propagate(model, frames, _given(masks, {0: [True, True]}))
    assert out.shape == (3, 3, 40, 56)
    assert torch.equal(out[0].argmax(0), _ids(masks[0]))


def test_propagate_does_not_depend_on_chunk(model: STCN) -> None:
    """Encoding keys 1 or 8 frames at a time gives the same result (GroupNorm is per frame)."""
    frames, masks = _square_clip(5)
    given = _given(masks, {0: [True, False], 2: [False, True]})
    a = propagate(model, frames, given, chunk=1)
    b = propagate(model, frames, given, chunk=8)
    assert torch.allclose(a, b, atol=1e-5)


def test_propagate_memory_schedule(model: STCN, monkeypatch: pytest.MonkeyPatch) -> None:
    """13 frames, given at 0 and 7, mem_every=5: memory values are encoded at frames 0, 5, 7
    (given, resets the period) and 12."""
    frames, masks = _square_clip(13, step=1)
    seen: list[int] = []
    original = model.encode_value

    def spy(x: torch.Tensor, f16: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        seen.append(int(torch.nonzero((frames == x).flatten(1).all(1))))
        return original(x, f16, m)

    monkeypatch.setattr(model, "encode_value", spy)
    propagate(model, frames, _given(masks, {0: [True, False], 7: [False, True]}), mem_every=5)
    assert seen == [0, 5, 7, 12]


def test_propagate_without_objects_is_background(model: STCN) -> None:
    """An empty ``given`` gives an all-background [F, 1, H, W] video."""
    frames, _ = _square_clip(3)
    out = propagate(model, frames, {})
    assert out.shape == (3, 1, H, W) and torch.equal(out, torch.ones(3, 1, H, W))


def test_propagate_rejects_frame_outside_video(model: STCN) -> None:
    """A given frame index beyond the video is a ValueError."""
    frames, masks = _square_clip(3)
    with pytest.raises(ValueError, match="outside"):
        propagate(model, frames, {5: (masks[0], torch.tensor([True, True]))})


# --------------------------------------------------------------------------- predict_from_memory


def test_predict_from_memory_shape_and_trials_differ(model: STCN) -> None:
    """predict_from_memory gives [T, F, K+1, H, W] probabilities summing to 1; MC trials differ."""
    frames, masks = _square_clip(5)
    out = predict_from_memory(
        model, frames, {1: masks[1], 3: masks[3]}, mc_trials=3,
        generator=torch.Generator().manual_seed(0), chunk=2,
    )  # fmt: skip
    assert out.shape == (3, 5, 3, H, W) and out.dtype == torch.float32
    assert torch.allclose(out.sum(2), torch.ones(3, 5, H, W), atol=1e-5)
    assert not torch.allclose(out[0], out[1]) and not torch.allclose(out[1], out[2])


def test_predict_from_memory_is_reproducible(model: STCN) -> None:
    """Equal generator seeds give equal MC predictions."""
    frames, masks = _square_clip(4)
    a, b = (
        predict_from_memory(
            model, frames, {0: masks[0]}, mc_trials=2, generator=torch.Generator().manual_seed(5)
        )
        for _ in range(2)
    )
    assert torch.equal(a, b)


def test_predict_from_memory_without_dropout_ignores_chunk(model: STCN) -> None:
    """One deterministic trial (eval, no generator) does not depend on the chunk size."""
    frames, masks = _square_clip(5)
    a = predict_from_memory(model, frames, {0: masks[0], 4: masks[4]}, chunk=2)
    b = predict_from_memory(model, frames, {0: masks[0], 4: masks[4]}, chunk=8)
    assert a.shape == (1, 5, 3, H, W)
    assert torch.allclose(a, b, atol=1e-5)


def test_predict_from_memory_needs_generator_for_trials(model: STCN) -> None:
    """Several MC trials without a generator are refused (eval mode has no dropout)."""
    frames, masks = _square_clip(2)
    with pytest.raises(ValueError, match="generator"):
        predict_from_memory(model, frames, {0: masks[0]}, mc_trials=2)


# --------------------------------------------------------------------------- training


def test_training_forward_shape_and_gradients() -> None:
    """training_forward gives [B, S-1, K+1, H, W] log-odds and a CE loss reaches every
    parameter with a finite gradient."""
    torch.manual_seed(0)
    m = STCN().train()
    frames, masks = _square_clip(3)
    clip = torch.stack([frames, frames.flip(-1)])  # B=2
    first = torch.stack([masks[0], masks[0].flip(-1)])
    logits = training_forward(m, clip, first)
    assert logits.shape == (2, 2, 3, H, W)
    target = torch.stack([_ids(masks[t]) for t in (1, 2)])
    target = torch.stack([target, target.flip(-1)])
    F.cross_entropy(logits.flatten(0, 1), target.flatten(0, 1)).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def test_training_forward_needs_two_frames() -> None:
    """A one-frame sample is a ValueError."""
    frames, masks = _square_clip(1)
    with pytest.raises(ValueError, match="2 frames"):
        training_forward(STCN(), frames.unsqueeze(0), masks[:1])


def test_training_overfits_a_moving_square() -> None:
    """60 Adam steps of training_forward + cross-entropy on one 4-frame clip cut the loss to
    below a quarter (measured: 1/20 to 1/75 over three seeds, with or without dropout)."""
    torch.manual_seed(0)
    m = STCN(dropout=0.0).train()
    frames, masks = _square_clip(4)
    clip, first = frames.unsqueeze(0), masks[:1]
    target = torch.stack([_ids(masks[t]) for t in range(1, 4)])
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    losses = []
    for _ in range(60):
        loss = F.cross_entropy(training_forward(m, clip, first)[0], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]
