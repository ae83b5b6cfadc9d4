"""Inference fusion and in-place sums: the fast paths compute what the plain ones compute.

``fuse_for_inference`` must give the unfused outputs (to float32 rounding) on every model, fold
every BN that follows a conv, leave the network it was made from untouched and refuse to train.
The in-place residual and HRNet fusion sums must give the out-of-place outputs and gradients.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers.model_checks import bns_reading_a_conv, check_fused, randomise_bn
from helpers.models import MODELS, small
from ocseg.models import build_model
from ocseg.models.backbones.hrnet_module import HRModule
from ocseg.models.fuse import conv_bn_pairs, fold_batchnorms
from ocseg.models.layers.residual import BasicBlock, Bottleneck


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every test here runs on one intra-op thread (see conftest.single_thread)."""


@pytest.mark.parametrize("name", MODELS)
def test_fused_network_matches_the_unfused_one(name):
    torch.manual_seed(0)
    check_fused(small(name), torch.randn(2, 3, 64, 96))


@pytest.mark.parametrize("name", ["hrnet48_ocr", "r101_ocr", "segfix_hrnet2x20"])
def test_fused_full_size_benchmarked_models(name):
    """The real backbones (HRNet-W48, ResNet-101 deep stem, HRNet2x-W20 single-conv stem)."""
    torch.manual_seed(0)
    check_fused(build_model(name, 19), torch.randn(1, 3, 64, 64))


def test_fold_refuses_training_mode_and_skips_non_conv_pairs():
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4))
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorms(seq, x)
    randomise_bn(seq)
    want = seq.eval()(x)
    assert fold_batchnorms(seq, x) == 1
    assert isinstance(seq[1], nn.Identity) and isinstance(seq[3], nn.BatchNorm2d)
    torch.testing.assert_close(seq(x), want, rtol=1e-5, atol=1e-6)


class PlainAttributes(nn.Module):
    """``bn(conv(x))`` from plain attributes in any order, a BN after a sum, a conv output read twice."""

    def __init__(self) -> None:
        super().__init__()
        self.bn_a, self.conv_a = nn.BatchNorm2d(4), nn.Conv2d(3, 4, 3, padding=1)
        self.conv_b, self.bn_b = nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)
        self.conv_c, self.bn_c = nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)
        self.conv_d, self.bn_d = nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.relu(self.bn_a(self.conv_a(x)))
        b = self.bn_b(self.conv_b(a) + a)            # after a sum: stays
        c = self.conv_c(b)
        c = self.bn_c(c) + c                         # the conv output is read twice: stays
        return self.bn_d(self.conv_d(c))


def test_pairs_are_found_by_tracing_not_by_module_structure():
    net = PlainAttributes()
    randomise_bn(net)
    net.eval()
    x = torch.randn(2, 3, 8, 8)
    want = net(x)
    assert conv_bn_pairs(net, x) == [("conv_a", "bn_a"), ("conv_d", "bn_d")]
    assert fold_batchnorms(net, x) == 2
    assert [type(m).__name__ for m in (net.bn_a, net.bn_b, net.bn_c, net.bn_d)] == [
        "Identity", "BatchNorm2d", "BatchNorm2d", "Identity"]
    torch.testing.assert_close(net(x), want, rtol=1e-5, atol=1e-5)


def test_the_generic_check_catches_a_head_whose_bn_stays_unfolded():
    """The guard the model tests rely on: a BN after a conv that folding skipped is reported."""
    net = PlainAttributes().eval()
    x = torch.randn(1, 3, 8, 8)
    assert bns_reading_a_conv(net, x) == ["bn_a", "bn_c", "bn_d"]


def reference_block(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The blocks re-stated with out-of-place sums, as the original writes them."""
    shortcut = x if block.downsample is None else block.downsample(x)
    out = F.relu(block.bn1(block.conv1(x)))
    if isinstance(block, Bottleneck):
        out = F.relu(block.bn2(block.conv2(out)))
        out = block.bn3(block.conv3(out))
    else:
        out = block.bn2(block.conv2(out))
    return F.relu(out + shortcut)


def reference_hrmodule(module: HRModule, xs: list[torch.Tensor]) -> list[torch.Tensor]:
    xs = [_run_blocks(branch, x) for branch, x in zip(module.branches, xs)]
    out = []
    for i, paths in enumerate(module.fuse_layers):
        y = xs[0] if i == 0 else paths[0](xs[0])
        for j in range(1, len(xs)):
            z = paths[j](xs[j])
            if j > i:
                z = F.interpolate(z, size=xs[i].shape[-2:], mode="bilinear", align_corners=True)
            y = y + z
        out.append(F.relu(y))
    return out


def _run_blocks(branch: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    for block in branch:
        x = reference_block(block, x)
    return x


def grads_of(module: nn.Module, inputs: list[torch.Tensor], run) -> tuple[list, list, list]:
    """Outputs, input gradients and parameter gradients of a random projection of ``run``."""
    module.zero_grad(set_to_none=True)
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    outs = run(leaves)
    g = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, generator=g)).sum() for o in outs)
    loss.backward()
    return ([o.detach() for o in outs], [x.grad for x in leaves],
            [p.grad.clone() for p in module.parameters()])


@pytest.mark.parametrize("make", [
    lambda: BasicBlock(8, 8), lambda: BasicBlock(8, 16, stride=2),
    lambda: Bottleneck(16, 4), lambda: Bottleneck(8, 8, stride=1, dilation=2),
    lambda: HRModule("basic", [4, 8, 16], [4, 8, 16], [2, 2, 2]),
])
def test_in_place_sums_give_the_out_of_place_values_and_gradients(make):
    torch.manual_seed(0)
    module = make().train()
    if isinstance(module, HRModule):
        inputs = [torch.randn(2, c, 16 // 2 ** i, 24 // 2 ** i) for i, c in enumerate((4, 8, 16))]
        fast, slow = (lambda xs: module(list(xs))), (lambda xs: reference_hrmodule(module, xs))
    else:
        inputs = [torch.randn(2, module.conv1.in_channels, 12, 16)]
        fast, slow = (lambda xs: [module(xs[0])]), (lambda xs: [reference_block(module, xs[0])])
    for got, want in zip(grads_of(module, inputs, fast), grads_of(module, inputs, slow)):
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
