"""Tests of the Inception-I3D encoder: checkpoint layout, SAME padding, weights (specs §D, §E.2)."""

from __future__ import annotations

import ast
import logging
import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from asl_action_det.i3d import (
    ENDPOINTS,
    I3DEncoder,
    InceptionI3d,
    check_i3d_state_dict,
    load_i3d_weights,
    same_output_size,
    same_padding,
)
from asl_action_det.model import CapsuleDetector, build_encoder
from asl_action_det.task import ActionDetParams, ActionDetTask

from asl_core import ConfigError, parse_params
from tests.conftest import SHARED_DATA

DATA = SHARED_DATA / "i3d"
TSV = {400: DATA / "i3d_state_dict_keys.tsv", 157: DATA / "i3d_state_dict_keys_charades157.tsv"}


def _read_tsv(path: Path) -> list[tuple[str, tuple[int, ...]]]:
    """``key<TAB>shape`` lines, the shape written as a Python tuple."""
    rows = []
    for line in path.read_text().splitlines():
        key, shape = line.split("\t")
        rows.append((key, tuple(ast.literal_eval(shape))))
    return rows


def _layout(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def _layer(key: str) -> str:
    return key.split(".", 1)[0]


def _clips(b: int, t: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, t, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def full_model() -> InceptionI3d:
    """A full 400-class I3D with random weights and non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    model = InceptionI3d(400)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def full_checkpoint(full_model, tmp_path_factory) -> Path:
    """``full_model`` saved like the public checkpoints: no ``num_batches_tracked`` buffers."""
    path = tmp_path_factory.mktemp("weights") / "rgb_imagenet.pt"
    state = {k: v for k, v in full_model.state_dict().items() if "num_batches_tracked" not in k}
    torch.save(state, path)
    return path


# --------------------------------------------------------------------------- layout


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/i3d is not available")
@pytest.mark.parametrize("num_classes", [400, 157])
def test_full_state_dict_matches_the_checkpoint_key_list(num_classes):
    """The full network's state_dict keys, order and shapes equal the checkpoint's TSV list."""
    expected = _read_tsv(TSV[num_classes])
    assert len(expected) == 344
    assert _layout(InceptionI3d(num_classes)) == expected


def test_parameter_counts_match_the_spec():
    """12,697,264 / 12,448,189 learnable parameters (400 / 157 classes); 7,528,256 to Mixed_4f."""

    def count(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    assert count(InceptionI3d(400)) == 12_697_264
    assert count(InceptionI3d(157)) == 12_448_189
    assert count(InceptionI3d(final_endpoint="Mixed_4f")) == 7_528_256  # ASL's I3D part, §E.2


@pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/i3d is not available")
@pytest.mark.parametrize("cut", ["Conv3d_2c_3x3", "Mixed_3c", "Mixed_4f", "Mixed_5c"])
def test_cut_state_dict_is_a_prefix_of_the_checkpoint_layers(cut):
    """Cut at an endpoint, the keys are the checkpoint's keys of the layers up to it, in order."""
    body = [row for row in _read_tsv(TSV[400]) if _layer(row[0]) != "logits"]
    built = set(ENDPOINTS[: ENDPOINTS.index(cut) + 1])
    expected = [row for row in body if _layer(row[0]) in built]
    got = _layout(InceptionI3d(final_endpoint=cut))
    assert got == expected == body[: len(got)]
    if cut == "Mixed_4f":
        assert len(got) == 270  # specs §D: 225 tensors + 45 num_batches_tracked


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"final_endpoint": "Mixed_9z"}, "unknown I3D endpoint"), ({"variant": "x"}, "variant")],
)
def test_bad_options_are_config_errors(kwargs, match):
    """An unknown endpoint or stride variant fails at construction with the choices."""
    with pytest.raises(ConfigError, match=match):
        InceptionI3d(**kwargs)


# --------------------------------------------------------------------------- SAME padding


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pads", "out"),
    [
        (224, 7, 2, (2, 3), 112),
        (8, 7, 2, (2, 3), 4),
        (112, 3, 2, (0, 1), 56),
        (7, 3, 2, (1, 1), 4),
        (5, 3, 1, (1, 1), 5),
        (4, 2, 2, (0, 0), 2),
        (5, 2, 2, (0, 1), 3),
        (1, 3, 2, (1, 1), 1),
        (1, 7, 2, (3, 3), 1),
    ],
)
def test_same_padding_known_answers(size, kernel, stride, pads, out):
    """TF-SAME padding by hand: out = ceil(n/s), total = max((out-1)*s + k - n, 0), odd at the end.

    224, k7, s2: out 112, total 111*2+7-224 = 5 -> (2, 3).  8, k7, s2: out 4, 3*2+7-8 = 5 -> (2, 3).
    112, k3, s2: out 56, 55*2+3-112 = 1 -> (0, 1).  7, k3, s2: out 4, 3*2+3-7 = 2 -> (1, 1).
    5, k3, s1: out 5, 4+3-5 = 2 -> (1, 1).  4, k2, s2: out 2, 2+2-4 = 0.  5, k2, s2: out 3,
    4+2-5 = 1 -> (0, 1).  1, k3, s2: out 1, 0+3-1 = 2 -> (1, 1).  1, k7, s2: out 1, 6 -> (3, 3).
    """
    assert same_padding(size, kernel, stride) == pads
    assert same_output_size(size, kernel, stride) == out
    # the padded length holds exactly `out` windows
    assert (size + sum(pads) - kernel) // stride + 1 == out


@pytest.mark.parametrize(
    ("variant", "thw", "conv1a", "conv2c", "mixed4f"),
    [
        ("reference", (8, 32, 32), (4, 16, 16), (4, 8, 8), (2, 2, 2)),
        ("asl", (8, 32, 32), (4, 16, 16), (2, 8, 8), (1, 4, 4)),
        ("reference", (7, 33, 45), (4, 17, 23), (4, 9, 12), (2, 3, 3)),
    ],
)
def test_endpoint_sizes_on_small_clips(variant, thw, conv1a, conv2c, mixed4f):
    """Endpoint sizes follow the SAME rule layer by layer (hand-computed, T x H x W).

    8x32x32, reference: Conv3d_1a (s2) 4x16x16; pool 2a (s 1,2,2) 4x8x8; Conv3d_2c (s1) 4x8x8;
    pool 3a 4x4x4; pool 4a (s2) 2x2x2 = Mixed_4f. asl strides: Conv3d_2c (s 2,1,1) 2x8x8,
    pool 3a 2x4x4, pool 4a (s 2,1,1) 1x4x4. 7x33x45, reference: Conv3d_1a ceil(7/2)=4,
    ceil(33/2)=17, ceil(45/2)=23; pool 2a 4x9x12; Conv3d_2c 4x9x12; pool 3a 4x5x6;
    pool 4a 2x3x3.
    """
    torch.manual_seed(0)
    net = InceptionI3d(final_endpoint="Mixed_4f", variant=variant).eval()
    with torch.no_grad():
        out = net.extract(_clips(1, *thw) * 2 - 1, ["Conv3d_1a_7x7", "Conv3d_2c_3x3", "Mixed_4f"])
    assert out["Conv3d_1a_7x7"].shape == (1, 64, *conv1a)
    assert out["Conv3d_2c_3x3"].shape == (1, 192, *conv2c)
    assert out["Mixed_4f"].shape == (1, 832, *mixed4f)
    assert net(_clips(1, *thw)).shape == out["Mixed_4f"].shape


def test_shapes_at_224_match_the_verified_reference_shapes():
    """At 224 x 224 the endpoints have the shapes specs §D verified (shapes only, on 'meta')."""
    names = ["Conv3d_1a_7x7", "Conv3d_2c_3x3", "Mixed_3c", "Mixed_4f", "Mixed_5c", "Logits"]
    with torch.device("meta"):
        full = InceptionI3d(400)
        asl = InceptionI3d(final_endpoint="Mixed_4f", variant="asl")
        out16 = full.extract(torch.empty(1, 3, 16, 224, 224), names)
        out64 = full.extract(torch.empty(1, 3, 64, 224, 224), ["Logits"])
        out_asl = asl.extract(torch.empty(1, 3, 8, 224, 224), [*names[:2], "Mixed_4f"])
    shapes = {k: tuple(v.shape[1:]) for k, v in out16.items()}
    assert shapes["Conv3d_1a_7x7"] == (64, 8, 112, 112)
    assert shapes["Mixed_3c"] == (480, 8, 28, 28)
    assert shapes["Mixed_4f"] == (832, 4, 14, 14)
    assert shapes["Mixed_5c"] == (1024, 2, 7, 7)
    assert shapes["Logits"] == (400, 1)
    assert tuple(out64["Logits"].shape) == (1, 400, 7)
    # ASL's copy (§D): (832,1,28,28), (192,2,56,56), (64,4,112,112) for 8 x 224 x 224
    assert tuple(out_asl["Mixed_4f"].shape) == (1, 832, 1, 28, 28)
    assert tuple(out_asl["Conv3d_2c_3x3"].shape) == (1, 192, 2, 56, 56)
    assert tuple(out_asl["Conv3d_1a_7x7"].shape) == (1, 64, 4, 112, 112)


def test_logits_refuse_a_clip_too_small_for_the_average_pool():
    """An 8-frame clip leaves Mixed_5c one step long: the logits say which size they need."""
    with torch.device("meta"):
        full = InceptionI3d(400)
        with pytest.raises(ValueError, match="at least 9 frames"):
            full(torch.empty(1, 3, 8, 224, 224))


def test_extract_rejects_endpoints_after_the_cut():
    """Asking a cut network for a later endpoint is an error naming it."""
    with torch.device("meta"):
        net = InceptionI3d(final_endpoint="Mixed_3c")
        with pytest.raises(ValueError, match="Mixed_4f"):
            net.extract(torch.empty(1, 3, 8, 32, 32), ["Mixed_4f"])


# --------------------------------------------------------------------------- weights


def test_full_checkpoint_loads_into_the_cut_encoder_and_round_trips(full_model, full_checkpoint):
    """A full checkpoint loads into the Mixed_4f encoder: same tensors, same features."""
    enc = I3DEncoder(weights=full_checkpoint, variant="reference").eval()
    full_state = full_model.state_dict()
    for key, value in enc.backbone.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(value, full_state[key]), key
    clips = _clips(2, 8, 32, 32, seed=1)
    with torch.no_grad():
        want = full_model.extract(clips * 2 - 1, ["Mixed_4f", "Conv3d_2c_3x3", "Conv3d_1a_7x7"])
        got = enc(clips)
    torch.testing.assert_close(got.deep, want["Mixed_4f"].mean(dim=2))
    torch.testing.assert_close(got.half, want["Conv3d_2c_3x3"])
    torch.testing.assert_close(got.full, want["Conv3d_1a_7x7"])


def test_checkpoint_with_num_batches_tracked_also_loads(tmp_path):
    """A state dict saved by a current torch (with num_batches_tracked) loads as well."""
    torch.manual_seed(0)
    src = InceptionI3d(final_endpoint="Conv3d_2c_3x3")
    path = tmp_path / "new.pt"
    torch.save(src.state_dict(), path)
    dst = InceptionI3d(final_endpoint="Conv3d_2c_3x3")
    load_i3d_weights(dst, path)
    for key, value in src.state_dict().items():
        assert torch.equal(value, dst.state_dict()[key]), key


def _small_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return dict(InceptionI3d(final_endpoint="Conv3d_2c_3x3").state_dict())


def test_wrong_keys_are_listed_with_the_file_name(tmp_path):
    """Missing and unexpected keys are an error that names the file and lists the keys."""
    state = _small_state()
    del state["Conv3d_2b_1x1.bn.running_var"]
    state["module.Conv3d_1a_7x7.conv3d.weight"] = state.pop("Conv3d_1a_7x7.conv3d.weight")
    path = tmp_path / "renamed.pt"
    torch.save(state, path)
    net = InceptionI3d(final_endpoint="Conv3d_2c_3x3")
    with pytest.raises(ConfigError) as err:
        load_i3d_weights(net, path)
    msg = str(err.value)
    assert msg.startswith(str(path))
    assert "missing keys (2): Conv3d_1a_7x7.conv3d.weight, Conv3d_2b_1x1.bn.running_var" in msg
    assert "unexpected keys (1): module.Conv3d_1a_7x7.conv3d.weight" in msg


def test_wrong_shapes_are_listed_with_both_shapes(tmp_path):
    """A tensor of another shape is an error listing the key, the file's and the model's shape."""
    state = _small_state()
    state["Conv3d_2c_3x3.bn.bias"] = torch.zeros(191)
    path = tmp_path / "shapes.pt"
    torch.save(state, path)
    with pytest.raises(ConfigError, match=r"(?s)shapes\.pt: .*shape mismatches \(1\)") as err:
        load_i3d_weights(InceptionI3d(final_endpoint="Conv3d_2c_3x3"), path)
    assert "Conv3d_2c_3x3.bn.bias: file (191,), model (192,)" in str(err.value)


def test_charades_logits_do_not_fit_a_400_class_network():
    """The 157-class logits of rgb_charades.pt are shape mismatches for num_classes=400."""
    with torch.device("meta"):
        model = InceptionI3d(400)
        state = dict(InceptionI3d(157).state_dict())
    with pytest.raises(ConfigError, match="num_classes=400") as err:
        check_i3d_state_dict(model, state, source="rgb_charades.pt")
    msg = str(err.value)
    assert "logits.conv3d.weight: file (157, 1024, 1, 1, 1), model (400, 1024, 1, 1, 1)" in msg
    assert "logits.conv3d.bias: file (157,), model (400,)" in msg
    assert "missing" not in msg and "unexpected" not in msg


def test_only_the_layers_after_the_cut_are_ignored():
    """A cut network ignores later layers' keys but not a stray key inside its own layers."""
    state = _small_state()
    state["Mixed_5c.b0.conv3d.weight"] = torch.zeros(1)  # after the cut: ignored, any shape
    state["logits.conv3d.bias"] = torch.zeros(3)
    net = InceptionI3d(final_endpoint="Conv3d_2c_3x3")
    assert set(check_i3d_state_dict(net, state)) == set(net.state_dict())
    state["Conv3d_2b_1x1.extra"] = torch.zeros(1)
    with pytest.raises(ConfigError, match=r"unexpected keys \(1\): Conv3d_2b_1x1\.extra"):
        check_i3d_state_dict(net, state)


def test_long_key_lists_are_shortened():
    """Over 20 keys of a kind, the message lists 20 and says how many more."""
    net = InceptionI3d(final_endpoint="Mixed_4f")
    with pytest.raises(ConfigError, match=r"missing keys \(225\): .* and 205 more"):
        check_i3d_state_dict(net, {}, source="empty.pt")


class _Custom:
    pass


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("list", "not a state dict .* but a list"),
        ("ints", r"not a state dict: these entries are not name -> tensor\n  entries \(1\): 'a'"),
        ("text", "cannot read I3D weights with torch.load"),
        ("code", "cannot read I3D weights with torch.load"),
        ("absent", "I3D weights file not found"),
    ],
)
def test_unusable_files_are_clear_errors_naming_the_file(tmp_path, content, match):
    """A list, non-tensor values, a text file, a pickled object or no file: errors naming it."""
    path = tmp_path / f"{content}.pt"
    if content == "list":
        torch.save([torch.zeros(1)], path)
    elif content == "ints":
        torch.save({"a": 1}, path)
    elif content == "text":
        path.write_text("not a checkpoint\n")
    elif content == "code":
        with path.open("wb") as f:
            pickle.dump(_Custom(), f, protocol=2)  # weights_only refuses to build it: nothing runs
    with pytest.raises(ConfigError, match=match) as err:
        I3DEncoder(weights=str(path))
    assert str(err.value).startswith(str(path))


# --------------------------------------------------------------------------- the encoder


def test_no_weights_file_warns_about_random_initialisation(caplog):
    """Without a weights file the encoder logs a warning that it is randomly initialised."""
    with caplog.at_level(logging.WARNING, logger="asl_action_det.i3d"):
        enc = build_encoder("i3d")
    assert isinstance(enc, I3DEncoder)
    assert any(
        r.levelno == logging.WARNING and "random initialisation" in r.getMessage()
        for r in caplog.records
    )
    assert not enc.freeze_bn


def test_encoder_contract_and_shapes():
    """out_channels, skip_channels and the EncoderOutput shapes of the docstring (asl strides)."""
    torch.manual_seed(0)
    enc = I3DEncoder().eval()
    assert enc.out_channels == 832 and enc.skip_channels == (192, 64)
    with torch.no_grad():
        out = enc(_clips(2, 8, 64, 64))
    assert out.deep.shape == (2, 832, 8, 8)
    assert out.half.shape == (2, 192, 2, 16, 16)
    assert out.full.shape == (2, 64, 4, 32, 32)


def test_pretrained_encoder_keeps_batchnorm_statistics_frozen(full_checkpoint):
    """With weights, train() leaves BatchNorm in eval mode and a training pass keeps its stats."""
    enc = I3DEncoder(weights=full_checkpoint).train()
    assert enc.freeze_bn and enc.training
    bns = [m for m in enc.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert bns and not any(m.training for m in bns)
    before = bns[0].running_mean.clone()
    enc(_clips(2, 8, 32, 32))
    assert torch.equal(bns[0].running_mean, before)


def test_capsule_detector_with_i3d_trains():
    """A small CapsuleDetector on the I3D encoder runs forward and backward at 8 x 64 x 64."""
    torch.manual_seed(0)
    model = CapsuleDetector(3, encoder="i3d", dropout_in="all", primary_caps=4).train()
    out = model(_clips(2, 8, 64, 64), torch.tensor([0, 2]))
    assert out.logits.shape == (2, 8, 64, 64) and out.activations.shape == (2, 3)
    (out.activations.sum() + out.logits.mean() + out.actor_logits.mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


# --------------------------------------------------------------------------- task parameters


def test_task_params_accept_weights_only_for_i3d():
    """encoder_weights needs encoder='i3d'; a config that sets it otherwise is a ConfigError."""
    assert ActionDetParams(encoder="i3d", encoder_weights="w.pt").encoder_weights == "w.pt"
    with pytest.raises(ConfigError, match="only used by encoder='i3d'"):
        parse_params(ActionDetParams, {"encoder": "tiny", "encoder_weights": "w.pt"})


def test_build_model_loads_the_configured_weights(full_model, full_checkpoint):
    """ActionDetTask.build_model hands task.encoder_weights to the I3D encoder."""
    params = ActionDetParams(encoder="i3d", encoder_weights=str(full_checkpoint))
    fake_task = SimpleNamespace(params=params, num_classes=3)
    model = ActionDetTask.build_model(fake_task, np.random.default_rng(0))  # type: ignore[arg-type]
    got = model.encoder.backbone.state_dict()["Mixed_4f.b3b.conv3d.weight"]
    assert torch.equal(got, full_model.state_dict()["Mixed_4f.b3b.conv3d.weight"])
