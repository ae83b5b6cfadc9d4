"""The FCN branch (3×3 conv → BN+act → dropout → 1×1 classifier) and the auxiliary head built from it.

Main logits come from the backbone's last feature map; the auxiliary (deep-supervision) branch
reads the map before it when the backbone returns two (ResNet: layer3 vs layer4), else the same
map (HRNet: the concatenated branches) — exactly how the original wires each family.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ocseg.models.layers.norm_act import NormAct

__all__ = ["FCNBranch", "aux_index", "build_aux"]


class FCNBranch(nn.Module):
    """Args:
        in_channels: input width.
        num_classes: output logits.
        mid_channels: width of the 3×3 conv; ``None`` keeps ``in_channels`` (the original's HRNet
            heads use 720 → 720).
        dropout: ``Dropout2d`` rate before the classifier (0: none).
        conv_bias, cls_bias: biases of the 3×3 conv and of the classifier (they vary per original net).
    """

    def __init__(self, in_channels: int, num_classes: int, mid_channels: int | None = 512,
                 dropout: float = 0.0, conv_bias: bool = True, cls_bias: bool = True) -> None:
        super().__init__()
        mid = in_channels if mid_channels is None else int(mid_channels)
        self.conv = nn.Conv2d(in_channels, mid, 3, padding=1, bias=conv_bias)
        self.norm_act = NormAct(mid)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.cls = nn.Conv2d(mid, num_classes, 1, bias=cls_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cls(self.dropout(self.norm_act(self.conv(x))))


def aux_index(in_channels: Sequence[int]) -> int:
    """Index of the feature map the auxiliary branch reads: the penultimate one if there is one."""
    return -2 if len(in_channels) > 1 else -1


def build_aux(in_channels: Sequence[int], num_classes: int, aux: Mapping[str, Any] | None) -> FCNBranch | None:
    """The auxiliary branch from its keyword arguments (``None``: no auxiliary output)."""
    if aux is None:
        return None
    return FCNBranch(in_channels[aux_index(in_channels)], num_classes, **dict(aux))
