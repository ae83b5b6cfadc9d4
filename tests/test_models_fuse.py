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

from helpers.models import MODELS, small
from ocseg.errors import OcsegError
from ocseg.models import build_model
from ocseg.models.backbones.hrnet_module import HRModule
from ocseg.models.fuse import fold_batchnorms
from ocseg.models.layers.residual import BasicBlock, Bottleneck

# BNs that follow something other than a conv (ASP-OC normalises the attention context)
UNFOLDABLE = {"r101_asp_oc": 1}


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every test here runs on one intra-op thread (see conftest.single_thread)."""


def randomise_bn(net: nn.Module, seed: int = 0) -> None:
    """BN statistics and affine weights away from the identity, so folding has work to do."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)


def count_bn(net: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in net.modules())


def check_fused(net: nn.Module, name: str, x: torch.Tensor) -> None:
    randomise_bn(net)
    net.eval()
    before = net.state_dict()
    before = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in before.items()}
    fused = net.fuse_for_inference()
    assert count_bn(fused) == UNFOLDABLE.get(name, 0)
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last)
               for m in fused.modules() if isinstance(m, nn.Conv2d))
    with torch.no_grad():
        want, got = net(x), fused(x)
    assert set(got) == set(want)
    for key in want:
        scale = want[key].abs().max().item()
        torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-5 * max(scale, 1.0))
    # the network it was made from is untouched and still trains
    after = net.state_dict()
    assert set(after) == set(before)
    assert all(torch.equal(after[k], v) if isinstance(v, torch.Tensor) else after[k] == v
               for k, v in before.items())
    assert count_bn(net) > count_bn(fused)
    net.train()
    assert all(p.requires_grad for p in net.parameters())
    # the copy is inference-only
    assert not fused.training and not any(p.requires_grad for p in fused.parameters())
    with pytest.raises(OcsegError, match="fused for inference"):
        fused.train()


@pytest.mark.parametrize("name", MODELS)
def test_fused_network_matches_the_unfused_one(name):
    torch.manual_seed(0)
    check_fused(small(name), name, torch.randn(2, 3, 64, 96))


@pytest.mark.parametrize("name", ["hrnet48_ocr", "r101_ocr", "segfix_hrnet2x20"])
def test_fused_full_size_benchmarked_models(name):
    """The real backbones (HRNet-W48, ResNet-101 deep stem, HRNet2x-W20 single-conv stem)."""
    torch.manual_seed(0)
    check_fused(build_model(name, 19), name, torch.randn(1, 3, 64, 64))


def test_fold_refuses_training_mode_and_skips_non_conv_pairs():
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorms(seq)
    randomise_bn(seq)
    x = torch.randn(2, 3, 8, 8)
    want = seq.eval()(x)
    assert fold_batchnorms(seq) == 1
    assert isinstance(seq[1], nn.Identity) and isinstance(seq[3], nn.BatchNorm2d)
    torch.testing.assert_close(seq(x), want, rtol=1e-5, atol=1e-6)


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
