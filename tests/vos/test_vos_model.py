"""Tests of the STCN-style memory network: blocks, memory read, soft aggregation, MC dropout and
the ResNet trunks with torchvision naming (specs §C.3)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from asl_vos.model import STCN, KeyFeatures, aggregate_logits, memory_affinity, soft_aggregate
from asl_vos.resnet import (
    ResNetTrunk,
    check_torchvision_state_dict,
    load_torchvision_weights,
    resnet18_trunk,
    resnet50_trunk,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from asl_core import ConfigError

H, W = 32, 48


def _frames(b: int = 2, seed: int = 0, h: int = H, w: int = W) -> torch.Tensor:
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _masks(b: int, k: int, seed: int = 1, h: int = H, w: int = W) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, k, h, w, generator=g) > 0.5).float()


def _memory(model: STCN, b: int, k: int, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys ``[B, Ck, T, h, w]`` and values ``[B, K, Cv, T, h, w]`` of ``t`` random frames."""
    frames = _frames(b * t, seed=5)
    feats = model.encode_key(frames)
    values = model.encode_value(frames, feats.f16, _masks(b * t, k, seed=6))
    mem_k = feats.k16.view(b, t, *feats.k16.shape[1:]).transpose(1, 2)
    mem_v = values.view(b, t, *values.shape[1:]).permute(0, 2, 3, 1, 4, 5)
    return mem_k, mem_v


# --------------------------------------------------------------------------- shapes


@torch.no_grad()
def test_key_encoder_strides(model: STCN) -> None:
    """The key features are at 1/4, 1/8 and 1/16 with the tiny default channels."""
    f = model.encode_key(_frames())
    assert isinstance(f, KeyFeatures)
    assert f.f4.shape == (2, 16, H // 4, W // 4)
    assert f.f8.shape == (2, 32, H // 8, W // 8)
    assert f.f16.shape == (2, 64, H // 16, W // 16)
    assert f.k16.shape == (2, 16, H // 16, W // 16)
    assert f.qv16.shape == (2, 32, H // 16, W // 16)


@torch.no_grad()
def test_value_encoder_shape(model: STCN) -> None:
    """encode_value gives one value map per object: [B, K, Cv, H/16, W/16]."""
    frames = _frames()
    f = model.encode_key(frames)
    assert model.encode_value(frames, f.f16, _masks(2, 3)).shape == (2, 3, 32, H // 16, W // 16)


@torch.no_grad()
def test_decode_gives_logits_at_input_resolution(model: STCN) -> None:
    """decode maps a [B, K, Cv, h, w] readout to [B, K, H, W] logits."""
    f = model.encode_key(_frames())
    assert model.decode(torch.randn(2, 3, 32, H // 16, W // 16), f).shape == (2, 3, H, W)


def test_size_not_multiple_of_16_is_refused(model: STCN) -> None:
    """encode_key refuses frames whose sides are not multiples of 16."""
    with pytest.raises(ValueError, match="multiples of 16"):
        model.encode_key(torch.rand(1, 3, 40, 48))


def test_key_projection_is_orthogonal_with_zero_bias() -> None:
    """The key projection's flattened weight has orthonormal rows and a zero bias."""
    m = STCN()
    w = m.key_proj.weight.detach().flatten(1)
    assert torch.allclose(w @ w.T, torch.eye(w.shape[0]), atol=1e-5)
    assert torch.count_nonzero(m.key_proj.bias) == 0


def test_config_errors() -> None:
    """Unknown backbones, weights with the tiny backbone and bad dropout are ConfigErrors."""
    with pytest.raises(ConfigError, match="backbone"):
        STCN(backbone="vit")
    with pytest.raises(ConfigError, match="resnet"):
        STCN(key_weights="/nonexistent.pth")
    with pytest.raises(ConfigError, match="dropout"):
        STCN(dropout=1.0)


# --------------------------------------------------------------------------- memory read


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 30),
    m=st.integers(1, 10),
    top_k=st.one_of(st.none(), st.integers(1, 40)),
    seed=st.integers(0, 2**31 - 1),
)
def test_affinity_columns_sum_to_one(n: int, m: int, top_k: int | None, seed: int) -> None:
    """Every query's weights over the memory are non-negative and sum to 1 (with or without
    top-k, also when top_k exceeds the memory size)."""
    g = torch.Generator().manual_seed(seed)
    a = memory_affinity(torch.randn(2, 4, n, generator=g), torch.randn(2, 4, m, generator=g), top_k)
    assert a.shape == (2, n, m)
    assert (a >= 0).all()
    assert torch.allclose(a.sum(1), torch.ones(2, m), atol=1e-5)


def test_top_k_is_clamped_to_memory_size() -> None:
    """With 16 memory locations top_k=20 is the plain softmax (no error)."""
    g = torch.Generator().manual_seed(0)
    mk, qk = torch.randn(1, 16, 16, generator=g), torch.randn(1, 16, 16, generator=g)
    assert torch.allclose(memory_affinity(mk, qk, 20), memory_affinity(mk, qk, None))


def test_top_k_keeps_exactly_k_per_query() -> None:
    """With 50 memory locations and top_k=7 each query has exactly 7 non-zero weights, at the
    7 largest full-softmax weights."""
    g = torch.Generator().manual_seed(1)
    mk, qk = torch.randn(2, 8, 50, generator=g), torch.randn(2, 8, 9, generator=g)
    a = memory_affinity(mk, qk, 7)
    assert (torch.count_nonzero(a, dim=1) == 7).all()
    full_top = memory_affinity(mk, qk, None).topk(7, dim=1).indices.sort(dim=1).values
    assert torch.equal(a.topk(7, dim=1).indices.sort(dim=1).values, full_top)


def test_affinity_known_answer() -> None:
    """Ck=4, q=(1,1,0,0), keys k1=(1,0,0,0) (squared distance 1) and k2=(2,2,0,0) (distance 2):
    scores (2-1)/2 = 0.5 and (8-8)/2 = 0, so the closer key gets e^0.5/(e^0.5+1) = 0.6225."""
    mk = torch.tensor([[[1.0, 2.0], [0.0, 2.0], [0.0, 0.0], [0.0, 0.0]]])  # [1, 4, N=2]
    qk = torch.tensor([[[1.0], [1.0], [0.0], [0.0]]])  # [1, 4, M=1]
    a = memory_affinity(mk, qk, None)[0, :, 0]
    w1 = math.exp(0.5) / (math.exp(0.5) + 1.0)
    assert a.tolist() == pytest.approx([w1, 1.0 - w1], abs=1e-6)
    assert w1 == pytest.approx(0.622459, abs=1e-6)


@torch.no_grad()
def test_read_memory_shape_with_several_frames(model: STCN) -> None:
    """Reading 3 memory frames for 2 objects gives [B, K, Cv, h, w]."""
    mem_k, mem_v = _memory(model, b=2, k=2, t=3)
    assert mem_k.shape == (2, 16, 3, H // 16, W // 16)
    q = model.encode_key(_frames()).k16
    assert model.read_memory(mem_k, mem_v, q).shape == (2, 2, 32, H // 16, W // 16)


def test_read_memory_top1_copies_nearest_value(model: STCN) -> None:
    """With top_k=1 the readout at a query is the value at its nearest memory key."""
    mem_k = torch.tensor([0.0, 1.0, 5.0]).view(1, 1, 1, 1, 3)  # Ck=1, T=1, 1x3 locations
    mem_v = torch.tensor([10.0, 20.0, 30.0]).view(1, 1, 1, 1, 1, 3)
    q_k = torch.tensor([0.9, 4.0]).view(1, 1, 1, 2)
    out = model.read_memory(mem_k, mem_v, q_k, top_k=1)
    assert out.flatten().tolist() == [20.0, 30.0]


# --------------------------------------------------------------------------- aggregation


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
def test_soft_aggregate_sums_to_one(k: int, seed: int) -> None:
    """Soft aggregation gives K+1 probabilities that sum to 1 at every pixel."""
    p = torch.rand(2, k, 3, 5, generator=torch.Generator().manual_seed(seed))
    out = soft_aggregate(p)
    assert out.shape == (2, k + 1, 3, 5)
    assert torch.allclose(out.sum(1), torch.ones(2, 3, 5), atol=1e-5)


def test_soft_aggregate_single_object_known_answer() -> None:
    """p=0.9 → bg 0.1; odds 9 and 1/9, so object 81/82 and background 1/82."""
    out = soft_aggregate(torch.full((1, 1, 1, 1), 0.9)).flatten()
    assert out.tolist() == pytest.approx([1 / 82, 81 / 82], abs=1e-6)


def test_soft_aggregate_three_objects_known_answer() -> None:
    """Three objects at 0.5: bg 0.125 (odds 1/7), objects odds 1 → bg 1/22, objects 7/22."""
    out = soft_aggregate(torch.full((1, 3, 1, 1), 0.5)).flatten()
    assert out.tolist() == pytest.approx([1 / 22, 7 / 22, 7 / 22, 7 / 22], abs=1e-6)


def test_soft_aggregate_background_falls_with_object_probability() -> None:
    """A larger object probability gives a smaller background probability (bg = Π(1−p))."""
    p = torch.tensor([0.1, 0.3, 0.6, 0.9]).view(4, 1, 1, 1)
    bg = soft_aggregate(torch.cat([p, torch.full_like(p, 0.2)], dim=1))[:, 0].flatten()
    assert (bg[1:] < bg[:-1]).all()


def test_aggregate_logits_known_answer() -> None:
    """For p=0.9 the log-odds are ±ln 9, and their softmax is soft_aggregate."""
    p = torch.full((1, 1, 1, 1), 0.9)
    logits = aggregate_logits(p).flatten()
    assert logits.tolist() == pytest.approx([-math.log(9), math.log(9)], abs=1e-5)
    assert torch.allclose(torch.softmax(aggregate_logits(p), 1), soft_aggregate(p))


# --------------------------------------------------------------------------- MC dropout


def _decode_inputs(model: STCN) -> tuple[torch.Tensor, KeyFeatures]:
    with torch.no_grad():
        f = model.encode_key(_frames(1))
    return torch.randn(1, 2, 32, H // 16, W // 16, generator=torch.Generator().manual_seed(3)), f


@torch.no_grad()
def test_eval_without_generator_is_deterministic(model: STCN) -> None:
    """In eval mode without a generator the decoder has no dropout: two calls agree exactly."""
    r, f = _decode_inputs(model)
    assert torch.equal(model.decode(r, f), model.decode(r, f))


@torch.no_grad()
def test_equal_generators_give_equal_trials(model: STCN) -> None:
    """Generators with the same seed give identical MC trials; and they differ from no dropout."""
    r, f = _decode_inputs(model)
    a = model.decode(r, f, mc_generator=torch.Generator().manual_seed(7))
    b = model.decode(r, f, mc_generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    assert not torch.allclose(a, model.decode(r, f))


@torch.no_grad()
def test_different_generators_give_different_trials(model: STCN) -> None:
    """Generators with different seeds draw different dropout masks."""
    r, f = _decode_inputs(model)
    a = model.decode(r, f, mc_generator=torch.Generator().manual_seed(7))
    b = model.decode(r, f, mc_generator=torch.Generator().manual_seed(8))
    assert not torch.allclose(a, b)


@torch.no_grad()
def test_train_mode_dropout_differs_between_calls() -> None:
    """In train mode the decoder's dropout makes two calls differ."""
    torch.manual_seed(0)
    m = STCN().train()
    r, f = _decode_inputs(m)
    assert not torch.allclose(m.decode(r, f), m.decode(r, f))


# --------------------------------------------------------------------------- ResNet trunks


def test_resnet50_trunk_names_and_size() -> None:
    """The ResNet-50 trunk uses torchvision's key names and has 8,543,296 parameters
    (torchvision's 25,557,032 minus layer4's 14,964,736 and fc's 2,049,000)."""
    trunk = resnet50_trunk()
    keys = set(trunk.state_dict())
    for key in (
        "conv1.weight",
        "bn1.running_var",
        "layer1.0.downsample.0.weight",
        "layer1.0.downsample.1.running_mean",
        "layer2.3.bn3.bias",
        "layer3.5.conv3.weight",
    ):
        assert key in keys
    assert not any(k.startswith(("layer4", "fc")) for k in keys)
    assert sum(p.numel() for p in trunk.parameters()) == 8_543_296
    assert trunk.layer3[5].conv3.weight.shape == (1024, 256, 1, 1)


def test_resnet18_trunk_names_and_size() -> None:
    """The 5-channel ResNet-18 trunk uses torchvision's names; 2,782,784 parameters with a
    3-channel conv1 (11,689,512 minus layer4 8,393,728 and fc 513,000) plus 2x64x7x7 = 6,272."""
    trunk = resnet18_trunk(in_channels=5)
    keys = set(trunk.state_dict())
    for key in ("layer3.1.conv2.weight", "layer2.0.downsample.1.weight", "layer1.1.bn2.weight"):
        assert key in keys
    assert "layer1.0.downsample.0.weight" not in keys  # layer1 keeps 64 channels, stride 1
    assert sum(p.numel() for p in trunk.parameters()) == 2_782_784 + 6_272
    assert trunk.conv1.weight.shape == (64, 5, 7, 7)


@torch.no_grad()
def test_resnet_trunk_strides() -> None:
    """The ResNet-18 trunk gives 64/128/256 channels at 1/4, 1/8, 1/16."""
    f4, f8, f16 = resnet18_trunk().eval()(torch.rand(1, 3, 64, 32))
    assert (f4.shape, f8.shape, f16.shape) == ((1, 64, 16, 8), (1, 128, 8, 4), (1, 256, 4, 2))


def _randomised(trunk: ResNetTrunk, seed: int) -> dict[str, torch.Tensor]:
    """The trunk's state dict with every float tensor moved by seeded noise (variances stay
    positive), so loaded tensors are distinguishable from a fresh initialisation."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in trunk.state_dict().items():
        if k.endswith("running_var"):
            out[k] = 1.0 + 0.1 * torch.rand(v.shape, generator=g)
        elif v.is_floating_point():
            out[k] = v + 0.01 * torch.randn(v.shape, generator=g)
        else:
            out[k] = v.clone()
    return out


def test_weights_round_trip(tmp_path: Path) -> None:
    """A saved state dict (with extra layer4/fc keys and no num_batches_tracked) loads back
    exactly."""
    state = _randomised(resnet18_trunk(), 0)
    saved = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    saved["fc.weight"] = torch.zeros(1000, 512)
    saved["layer4.0.conv1.weight"] = torch.zeros(512, 256, 3, 3)
    path = tmp_path / "r18.pth"
    torch.save(saved, path)
    trunk = resnet18_trunk()
    assert load_torchvision_weights(trunk, path, what="test") == len(state) - sum(
        k.endswith("num_batches_tracked") for k in state
    )
    for k, v in trunk.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_missing_key_names_file(tmp_path: Path) -> None:
    """A checkpoint without layer3.1.conv2.weight → ConfigError naming the file and the key."""
    state = _randomised(resnet18_trunk(), 0)
    del state["layer3.1.conv2.weight"]
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(ConfigError, match=r"broken\.pth.*layer3\.1\.conv2\.weight"):
        load_torchvision_weights(resnet18_trunk(), path, what="value_weights")


def test_wrong_shape_names_file(tmp_path: Path) -> None:
    """A checkpoint with a wrongly shaped tensor → ConfigError naming the file and the key."""
    state = _randomised(resnet18_trunk(), 0)
    state["layer2.0.bn1.weight"] = torch.ones(7)
    path = tmp_path / "shape.pth"
    torch.save(state, path)
    with pytest.raises(ConfigError, match=r"shape\.pth.*layer2\.0\.bn1\.weight.*\(7,\)"):
        load_torchvision_weights(resnet18_trunk(), path, what="value_weights")


def test_missing_file_and_non_state_dict(tmp_path: Path) -> None:
    """A missing file and a file holding a list are ConfigErrors naming the file."""
    with pytest.raises(ConfigError, match=r"nothere\.pth.*not found"):
        load_torchvision_weights(resnet18_trunk(), tmp_path / "nothere.pth", what="x")
    path = tmp_path / "list.pth"
    torch.save([1, 2], path)
    with pytest.raises(ConfigError, match=r"list\.pth.*not a state dict"):
        load_torchvision_weights(resnet18_trunk(), path, what="x")


def test_conv1_widening_copies_three_channels_and_zeros_the_rest() -> None:
    """A 3-channel conv1 loads into a 5-channel trunk: channels 0-2 copied, 3-4 zero."""
    state = _randomised(resnet18_trunk(in_channels=3), 0)
    kept = check_torchvision_state_dict(resnet18_trunk(in_channels=5), state, source="ckpt")
    assert kept["conv1.weight"].shape == (64, 5, 7, 7)
    assert torch.equal(kept["conv1.weight"][:, :3], state["conv1.weight"])
    assert torch.count_nonzero(kept["conv1.weight"][:, 3:]) == 0


def test_resnet_stcn_loads_weights_and_runs(tmp_path: Path) -> None:
    """backbone='resnet' loads local key/value checkpoints and segments a 64x64 frame: key
    64 @1/16, f4 256, f8 512, f16 1024, memory value 512, logits [B, K, H, W]."""
    key_state = _randomised(resnet50_trunk(), 1)
    value_state = _randomised(resnet18_trunk(), 2)  # 3-channel ImageNet stem
    torch.save(key_state, tmp_path / "r50.pth")
    torch.save(value_state, tmp_path / "r18.pth")
    torch.manual_seed(0)
    m = STCN(
        backbone="resnet",
        key_weights=str(tmp_path / "r50.pth"),
        value_weights=str(tmp_path / "r18.pth"),
    ).eval()
    assert torch.equal(m.key_encoder.layer3[5].conv3.weight, key_state["layer3.5.conv3.weight"])
    assert torch.equal(m.value_encoder.conv1.weight[:, :3], value_state["conv1.weight"])
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        f = m.encode_key(x)
        assert (f.f4.shape[1], f.f8.shape[1], f.f16.shape[1]) == (256, 512, 1024)
        assert f.k16.shape == (1, 64, 4, 4) and f.qv16.shape == (1, 512, 4, 4)
        v = m.encode_value(x, f.f16, _masks(1, 2, h=64, w=64))
        assert v.shape == (1, 2, 512, 4, 4)
        logits = m.segment(f, f.k16.unsqueeze(2), v.unsqueeze(3))
    assert logits.shape == (1, 2, 64, 64)
    assert torch.isfinite(logits).all()
