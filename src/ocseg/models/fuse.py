"""Folding BatchNorm into the convolution before it, for inference.

In eval mode a BatchNorm after a conv is an affine map per channel, ``y = (x − μ)·γ/√(σ²+ε) + β``,
so it can be merged into the conv: ``W' = W·s``, ``b' = (b − μ)·s + β`` with ``s = γ/√(σ²+ε)``.
That removes one memory-bound pass over every feature map of the network. The folded values are
computed in float64 and rounded once, so a folded network differs from the unfolded one only by
float32 rounding.

Only pairs where the BN reads the conv's output and nothing else does are folded: consecutive
``Conv2d → BatchNorm2d`` (or ``Conv2d → NormAct``, whose BN comes first) children of an
``nn.Sequential``, and the ``(conv, bn)`` attribute pairs a module lists in ``conv_bn_pairs``
(residual blocks, the HRNet stem, the FCN branch), whose forward computes ``bn(conv(x))``.
"""

from __future__ import annotations

import torch
from torch import nn

from ocseg.models.layers.norm_act import NormAct

__all__ = ["fold_conv_bn", "fold_batchnorms"]


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


def _foldable(conv: nn.Module, norm: nn.Module) -> nn.BatchNorm2d | None:
    """The BN to fold when ``norm`` follows ``conv`` directly, else None."""
    if not isinstance(conv, nn.Conv2d) or conv.padding_mode != "zeros":
        return None
    bn = norm[0] if isinstance(norm, NormAct) else norm
    if type(bn) is nn.BatchNorm2d and bn.track_running_stats and bn.running_var is not None:
        return bn
    return None


def _drop(owner: nn.Module, name: str, norm: nn.Module) -> None:
    """Replace a folded BN by Identity (inside a NormAct, only its BN: the activation stays)."""
    if isinstance(norm, NormAct):
        norm[0] = nn.Identity()
    else:
        setattr(owner, name, nn.Identity())


def fold_batchnorms(module: nn.Module) -> int:
    """Fold every foldable BN under ``module`` (which must be in eval mode); returns how many."""
    if module.training:
        raise ValueError("fold_batchnorms needs a module in eval mode (training BN uses batch statistics)")
    folded = 0
    for owner in list(module.modules()):
        pairs: list[tuple[str, str]] = list(getattr(owner, "conv_bn_pairs", ()))
        if isinstance(owner, nn.Sequential):
            names = list(owner._modules)
            pairs += list(zip(names, names[1:]))
        for conv_name, norm_name in pairs:
            conv, norm = getattr(owner, conv_name, None), getattr(owner, norm_name, None)
            bn = _foldable(conv, norm) if conv is not None and norm is not None else None
            if bn is None:
                continue
            fold_conv_bn(conv, bn)
            _drop(owner, norm_name, norm)
            folded += 1
    return folded
