"""Folding BatchNorm into the convolution before it, for inference.

In eval mode a BatchNorm after a conv is an affine map per channel, ``y = (x − μ)·γ/√(σ²+ε) + β``,
so it can be merged into the conv: ``W' = W·s``, ``b' = (b − μ)·s + β`` with ``s = γ/√(σ²+ε)``.
That removes one memory-bound pass over every feature map of the network. The folded values are
computed in float64 and rounded once, so a folded network differs from the unfolded one only by
float32 rounding (``torch.nn.utils.fusion.fuse_conv_bn_weights`` does the same in the weights'
own precision).

The pairs are found by running the network once on an example input and watching every torch
call (:class:`torch.overrides.TorchFunctionMode`, public API): a conv is folded into a BN when,
at every call, the BN's input is that conv's output and nothing else reads that output. So a
head author writes plain ``self.bn(self.conv(x))`` in any module structure and gets it folded;
a BN after anything else (a sum, a concatenation, an attention context) stays, and so does a
pair whose conv output is also read elsewhere (folding would change that other reader).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["fold_conv_bn", "fold_batchnorms", "conv_bn_pairs"]


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Make ``conv`` compute ``bn(conv(x))`` with ``bn``'s running statistics (in place)."""
    var, mean = bn.running_var.double(), bn.running_mean.double()
    gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(var)
    beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(mean)
    scale = gamma * torch.rsqrt(var + bn.eps)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(mean)
    dtype = conv.weight.dtype
    conv.weight.copy_((conv.weight.double() * scale.reshape(-1, 1, 1, 1)).to(dtype))
    conv.bias = nn.Parameter(((bias - mean) * scale + beta).to(dtype), requires_grad=conv.weight.requires_grad)


#: calls that read a tensor's metadata, not its values (``x.dim()``, ``x.shape``, …)
_METADATA = frozenset({"dim", "size", "__get__", "stride", "numel", "is_contiguous", "ndimension",
                       "nelement", "element_size", "is_floating_point", "is_complex", "data_ptr",
                       "storage_offset", "get_device"})


def _tensors(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


class _Uses(TorchFunctionMode):
    """Records, for one forward pass, which conv made each tensor and every call that read it."""

    def __init__(self, convs: dict[int, str], bns: dict[int, str]) -> None:
        super().__init__()
        self.convs, self.bns = convs, bns   # id(conv weight) / id(bn running_mean) → module name
        self.made_by: dict[int, str] = {}    # id(conv output) → conv name
        self.outputs: list[torch.Tensor] = []   # kept alive, so their ids stay unique
        self.readers: dict[str, list[str | None]] = {}   # conv → the BN (or None) reading each output
        self.inputs: dict[str, list[str | None]] = {}    # bn → the conv (or None) making its input

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        second = args[1] if len(args) > 1 else None   # conv2d's weight, batch_norm's running_mean
        bn = self.bns.get(id(second)) if isinstance(second, torch.Tensor) else None
        if bn is not None:
            self.inputs.setdefault(bn, []).append(self.made_by.get(id(args[0])))
        if _tensors(result) or getattr(func, "__name__", "") not in _METADATA:
            for t in _tensors((args, kwargs)):
                conv = self.made_by.get(id(t))
                if conv is not None:
                    self.readers.setdefault(conv, []).append(bn if t is args[0] else None)
        conv = self.convs.get(id(second)) if isinstance(second, torch.Tensor) else None
        if conv is not None and isinstance(result, torch.Tensor):
            self.made_by[id(result)] = conv
            self.outputs.append(result)
        return result


def _foldable_bn(module: nn.Module) -> bool:
    return type(module) is nn.BatchNorm2d and module.track_running_stats and module.running_var is not None


def conv_bn_pairs(module: nn.Module, example: torch.Tensor) -> list[tuple[str, str]]:
    """The ``(conv, bn)`` module names under ``module`` where ``bn`` only ever reads ``conv``'s
    output and nothing else reads it, found by running ``module`` on ``example`` once."""
    named = dict(module.named_modules())
    convs = {id(m.weight): name for name, m in named.items()
             if isinstance(m, nn.Conv2d) and m.padding_mode == "zeros"}
    bns = {id(m.running_mean): name for name, m in named.items() if _foldable_bn(m)}
    uses = _Uses(convs, bns)
    with torch.no_grad(), uses:
        module(example)
    pairs = []
    for bn, makers in uses.inputs.items():
        conv = makers[0]
        if conv is None or any(m != conv for m in makers):
            continue
        if all(reader == bn for reader in uses.readers.get(conv, [])):
            pairs.append((conv, bn))
    return pairs


def _set(root: nn.Module, name: str, child: nn.Module) -> None:
    owner, _, attr = name.rpartition(".")
    setattr(root.get_submodule(owner) if owner else root, attr, child)


def fold_batchnorms(module: nn.Module, example: torch.Tensor) -> int:
    """Fold every BN under ``module`` (which must be in eval mode) into the conv that alone feeds
    it (:func:`conv_bn_pairs` on ``example``), replacing the BN by ``Identity``; returns how many."""
    if module.training:
        raise ValueError("fold_batchnorms needs a module in eval mode (training BN uses batch statistics)")
    pairs = conv_bn_pairs(module, example)
    for conv, bn in pairs:
        fold_conv_bn(module.get_submodule(conv), module.get_submodule(bn))
        _set(module, bn, nn.Identity())
    return len(pairs)
