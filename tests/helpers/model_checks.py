"""The checks every model must pass, whatever its head: the zoo tests run them on each card, and
the contributing guide's example head runs them on a head the package does not ship.

- :func:`check_forward_backward`: the output keys the card names, the backbone's resolution,
  finite values, a finite gradient for every parameter;
- :func:`check_fused`: ``fuse_for_inference`` computes what the network computes, folds every
  BatchNorm that reads a conv's output (checked independently with module hooks), leaves the
  network it was made from untouched and refuses to train.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ocseg.errors import OcsegError
from ocseg.models.cards import ModelCard

#: channels of an output by its key; every other output has one channel per class
OUTPUT_CHANNELS = {"mask": 2, "direction": 8}


def check_forward_backward(net: nn.Module, card: ModelCard, num_classes: int, x: torch.Tensor) -> None:
    out = net(x)
    assert set(out) == set(card.outputs)
    with torch.no_grad():
        size = net.backbone(x)[-1].shape[-2:]   # heads keep the resolution of the last feature map
    for key, value in out.items():
        assert value.shape == (x.shape[0], OUTPUT_CHANNELS.get(key, num_classes), *size), key
        assert torch.isfinite(value).all(), key
    sum(v.square().mean() for v in out.values()).backward()
    no_grad = [n for n, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not no_grad, f"parameters without a finite gradient: {no_grad[:5]}"


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


def bns_reading_a_conv(net: nn.Module, x: torch.Tensor) -> list[str]:
    """The BatchNorms whose input is the output of a Conv2d module, seen with module hooks."""
    made: list[torch.Tensor] = []
    found: list[str] = []

    def conv_hook(module, args, output):
        made.append(output)

    def bn_hook(name):
        def hook(module, args):
            if any(args[0] is t for t in made):
                found.append(name)
        return hook

    handles = [m.register_forward_hook(conv_hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    handles += [m.register_forward_pre_hook(bn_hook(name)) for name, m in net.named_modules()
                if isinstance(m, nn.BatchNorm2d)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return found


def check_fused(net: nn.Module, x: torch.Tensor) -> None:
    randomise_bn(net)
    net.eval()
    before = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in net.state_dict().items()}
    fused = net.fuse_for_inference()
    assert count_bn(fused) < count_bn(net)
    unfolded = bns_reading_a_conv(fused, x)
    assert not unfolded, f"BatchNorms after a conv left unfolded: {unfolded[:5]}"
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
    net.train()
    assert all(p.requires_grad for p in net.parameters())
    # the copy is inference-only
    assert not fused.training and not any(p.requires_grad for p in fused.parameters())
    with pytest.raises(OcsegError, match="fused for inference"):
        fused.train()
