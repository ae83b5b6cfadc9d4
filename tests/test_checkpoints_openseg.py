"""Original openseg checkpoints: key layouts of both eras for every zoo model, the worked examples'
numerics, InPlace-ABN maths checked by hand, and the errors a user sees."""

from __future__ import annotations

import math
import sys
from functools import lru_cache

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.openseg_reference import (
    FIXTURES,
    ORIGINALS,
    derived_entries,
    reference_entries,
    saved_entries,
    to_inplace_abn,
)
from ocseg.checkpoints import load_checkpoint, save_network
from ocseg.checkpoints.openseg import load_openseg_state, original_key_names
from ocseg.errors import OcsegError
from ocseg.models import build_model
from ocseg.models.cards import CARDS, original_layouts
from ocseg.models.layers.norm_act import NormAct, norm_act_slope

TOLERANCE = 5e-4   # |new − ref| ≤ 5e-4·max|ref| per tensor (upstream README)
SAVED = ["hrnet_w48_ocr", "hrnet_w48_ocr_b", "spatial_ocrnet", "spatial_asp_ocrnet", "base_ocnet", "isanet",
         "segfix_hrnet48", "segfix_hrnet2x20"]


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every test here runs on one intra-op thread (see conftest.single_thread)."""


def seeded():
    sys.path.insert(0, str(FIXTURES))
    import seeded_weights

    return seeded_weights


@lru_cache(maxsize=None)
def meta_model(name: str):
    with torch.device("meta"):
        return build_model(name, 19)


def meta_checkpoint(entries) -> dict:
    dtype = {"bn_num_batches_tracked": torch.int64}
    weights = {f"module.{k}": torch.empty(s, dtype=dtype.get(kind, torch.float32), device="meta")
               for k, s, kind in entries}
    return {"config_dict": {}, "state_dict": weights}


def by_hand_abn(x, w, b, mean, var):
    """InPlace-ABN in eval mode, written out: (x − μ)·rsqrt(σ² + ε)·(|w| + ε) + b, per channel."""
    c = lambda t: t.reshape(1, -1, 1, 1)  # noqa: E731
    return (x - c(mean)) * torch.rsqrt(c(var) + 1e-5) * (c(w).abs() + 1e-5) + c(b)


# -- key layouts ---------------------------------------------------------------------------------
@pytest.mark.parametrize("stem", ["spatial_ocrnet", "spatial_asp_ocrnet", "base_ocnet"])
def test_hand_derivation_reproduces_the_saved_key_lists(stem):
    """The derivation used for the four networks without a saved list, checked where one exists."""
    donor = "spatial_ocrnet"
    assert derived_entries(stem, donor) == saved_entries(stem)


@pytest.mark.parametrize("stem", SAVED)
def test_inplace_abn_lists_follow_the_readme_rule(stem):
    assert to_inplace_abn(saved_entries(stem)) == saved_entries(stem, abn=True)


@pytest.mark.parametrize("name", list(ORIGINALS))
def test_original_keys_load_strictly_in_both_eras_and_counts_match(name):
    net = meta_model(name)
    ours = [k for k in net.state_dict() if not k.endswith(("num_batches_tracked", "_extra_state"))]
    params = sum(p.numel() for p in net.parameters())
    for abn in (False, True):
        entries = reference_entries(name, abn)
        result = load_openseg_state(net, meta_checkpoint(entries), path=f"{name}.pth", strict=True)
        assert result.era == ("inplace_abn" if abn else "bn")
        # OCR-B is named exactly like OCR, so its file reads as the hrnet_w48_ocr layout
        assert result.original == ORIGINALS[name][0].removesuffix("_b")
        assert result.loaded == result.total == len(ours)
        assert norm_act_slope(net) == (0.01 if abn else 0.0)
        # parameter count = the sum of the original's shapes
        shapes = [s for _, s, kind in entries if kind in ("weight", "bias", "bn_weight", "bn_bias")]
        assert params == sum(math.prod(s) for s in shapes)


def test_every_layout_is_exercised():
    """Every model with an original network is checked above, and its card names that network."""
    originals = {name: c.original for name, c in CARDS.items() if c.original}
    assert set(originals) == set(ORIGINALS)
    assert all(originals[name] == ORIGINALS[name][0] for name in originals)
    assert {c.layout for name, c in CARDS.items() if c.original} == set(original_layouts())


# -- numerics of the worked examples ---------------------------------------------------------------
@pytest.mark.parametrize("stem,model,outputs", [
    ("hrnet_w48_ocr", "hrnet48_ocr", {"aux": "head0_aux_head_lowres", "out": "head1_cls_head_lowres"}),
    ("spatial_ocrnet", "r101_ocr", {"aux": "head0_dsn_head_lowres", "out": "head1_head_lowres"}),
    ("segfix_hrnet2x20", "segfix_hrnet2x20", {"mask": "out0_mask", "direction": "out1_direction"}),
])
def test_seeded_checkpoint_reproduces_the_originals_logits(tmp_path, stem, model, outputs):
    sw = seeded()
    path = tmp_path / f"{stem}_1_latest.pth"
    sw.save_checkpoint(str(path), sw.load_entries(str(FIXTURES / f"{stem}.keys.json.gz")))
    example = np.load(FIXTURES / f"{stem}.io.npz")
    net = build_model(model, 19).eval()
    assert load_checkpoint(net, path) == "openseg"
    with torch.no_grad():
        got = net(torch.from_numpy(example["input"]))
    for key, ref_name in outputs.items():
        ref = torch.from_numpy(example[ref_name])
        assert got[key].shape == ref.shape, key
        assert (got[key] - ref).abs().max() <= TOLERANCE * ref.abs().max(), key


# -- InPlace-ABN era ---------------------------------------------------------------------------------
def _random_original_state(net, era: str) -> dict[str, torch.Tensor]:
    """Random weights under the original's names; BN weights of both signs (ABN keeps |w|)."""
    layout = CARDS["segfix_hrnet48"].layout
    bn_modules = {n for n, m in net.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    g = torch.Generator().manual_seed(0)
    state = {}
    for ours, orig in original_key_names(net, layout, era).items():
        t = net.state_dict()[ours]
        module, leaf = ours.rsplit(".", 1)
        if leaf == "num_batches_tracked":
            state[orig] = torch.tensor(7)
        elif module in bn_modules and leaf == "running_var":
            state[orig] = torch.rand(t.shape, generator=g) + 0.5
        elif module in bn_modules and leaf == "weight":
            state[orig] = torch.randn(t.shape, generator=g)
        else:
            state[orig] = torch.randn(t.shape, generator=g) * 0.3
    return state


@pytest.mark.parametrize("era", ["inplace_abn", "bn"])
def test_era_is_detected_and_computes_what_the_original_did(tmp_path, era):
    torch.manual_seed(0)
    net = build_model("segfix_hrnet48", 19, backbone="hrnet_tiny").eval()
    state = _random_original_state(net, era)
    path = tmp_path / "segfix.pth"
    torch.save({"config_dict": {}, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    assert load_checkpoint(net, path) == "openseg"
    abn = era == "inplace_abn"
    site = "mask_head.1" if abn else "mask_head.1.0"

    captured = {}
    # clones: the backbone's in-place ReLU overwrites the BN output after the hook
    net.backbone.bn1.register_forward_hook(
        lambda m, i, o: captured.update(bn_in=i[0].clone(), bn_out=o.clone()))
    net.head.register_forward_hook(lambda m, i, o: captured.update(feats=i[0][-1]))
    with torch.no_grad():
        out = net(torch.randn(2, 3, 32, 48))
        # a backbone norm: no activation of its own
        bn = [state[f"backbone.bn1.{leaf}"] for leaf in ("weight", "bias", "running_mean", "running_var")]
        expect_bn = by_hand_abn(captured["bn_in"], *bn) if abn else F.batch_norm(
            captured["bn_in"], bn[2], bn[3], bn[0], bn[1], eps=1e-5)
        assert torch.allclose(captured["bn_out"], expect_bn, atol=1e-5, rtol=1e-5)
        # the mask branch by hand: conv → BN+act → conv
        h = F.conv2d(captured["feats"], state["mask_head.0.weight"])
        p = [state[f"{site}.{leaf}"] for leaf in ("weight", "bias", "running_mean", "running_var")]
        h = F.leaky_relu(by_hand_abn(h, *p), 0.01) if abn else F.relu(
            F.batch_norm(h, p[2], p[3], p[0], p[1], eps=1e-5))
        expect = F.conv2d(h, state["mask_head.2.weight"])
    assert torch.allclose(out["mask"], expect, atol=1e-4, rtol=1e-4)
    assert all(m.negative_slope == (0.01 if abn else 0.0) for m in net.modules() if isinstance(m, NormAct))


def test_adapted_activation_survives_an_ocseg_checkpoint_round_trip(tmp_path):
    """An ABN-era network saved by ocseg (Lightning) and loaded into a fresh one computes the same."""
    net = build_model("segfix_hrnet48", 19, backbone="hrnet_tiny").eval()
    original = tmp_path / "abn.pth"
    torch.save({"state_dict": _random_original_state(net, "inplace_abn")}, original)
    load_checkpoint(net, original)
    ours = tmp_path / "last.ckpt"
    save_network(net, {}, ours, global_step=3)
    fresh = build_model("segfix_hrnet48", 19, backbone="hrnet_tiny").eval()
    assert norm_act_slope(fresh) == 0.0
    assert load_checkpoint(fresh, ours) == "lightning"
    assert norm_act_slope(fresh) == 0.01
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(net(x)["direction"], fresh(x)["direction"])


# -- errors --------------------------------------------------------------------------------------------
def test_checkpoint_of_another_network_names_the_right_model():
    with pytest.raises(OcsegError, match=r"'spatial_ocrnet'.*model=r101_ocr.*BaseOCHead"):
        load_openseg_state(meta_model("r101_base_oc"), meta_checkpoint(saved_entries("spatial_ocrnet")),
                           path="ocr.pth")


def test_missing_unexpected_and_mismatched_keys_are_listed():
    entries = saved_entries("spatial_ocrnet")
    net = meta_model("r101_ocr")
    dropped = [e for e in entries if e[0] != "head.bias"]
    with pytest.raises(OcsegError, match=r"ocr.pth.*missing: head\.bias"):
        load_openseg_state(net, meta_checkpoint(dropped), path="ocr.pth")
    extra = entries + [("head.scale", (1,), "other")]
    with pytest.raises(OcsegError, match=r"unexpected: head\.scale"):
        load_openseg_state(net, meta_checkpoint(extra), path="ocr.pth")
    with torch.device("meta"):
        net21 = build_model("r101_ocr", 21)
    with pytest.raises(OcsegError, match=r"shape-mismatched: dsn_head\.3\.weight \(19, 512, 1, 1\) vs \(21"):
        load_openseg_state(net21, meta_checkpoint(entries), path="ocr.pth")
    result = load_openseg_state(net21, meta_checkpoint(entries), path="ocr.pth", strict=False)
    assert result.loaded == result.total - 4      # both classifiers' weight and bias


def test_unknown_network_needs_strict_false_and_then_loads_the_backbone():
    entries = [e for e in saved_entries("spatial_ocrnet") if e[0].startswith("backbone.")]
    entries += [("ideal_head.weight", (19, 512, 1, 1), "weight")]
    net = meta_model("r101_ocr")
    with pytest.raises(OcsegError, match=r"does not know.*ideal_head.*strict=False"):
        load_openseg_state(net, meta_checkpoint(entries), path="ideal.pth")
    result = load_openseg_state(net, meta_checkpoint(entries), path="ideal.pth", strict=False)
    backbone = sum(1 for k in net.state_dict() if k.startswith("backbone.") and not k.endswith("tracked"))
    assert result.loaded == backbone


# -- train.py ckpt_path=<original .pth> ------------------------------------------------------------------
@pytest.mark.slow
def test_train_initialises_from_an_original_checkpoint(tiny_cfg, tmp_path):
    from ocseg.tasks.train import train

    net = build_model("hrnet18_small_ocr", 19, backbone="hrnet_tiny")
    layout = CARDS["hrnet48_ocr"].layout
    state = net.state_dict()
    original = {f"module.{orig}": state[ours].clone() for ours, orig in
                original_key_names(net, layout, "inplace_abn").items()}
    path = tmp_path / "hrnet_tiny_ocr_1_latest.pth"
    torch.save({"config_dict": {}, "state_dict": original}, path)
    cfg = tiny_cfg("backbone=hrnet_tiny", f"ckpt_path={path}", "schedule.max_steps=2", "schedule.val_every=2")
    metrics = train(cfg)
    assert metrics["step"] == 2
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert float(ckpt["state_dict"]["net._extra_state"]) == 0.01
