"""The four atrous-spatial-pyramid branches shared by ASP-OC and ASP-OCR: 1×1 and three dilated 3×3."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ocseg.models.layers.norm_act import conv_norm_act

__all__ = ["ASPPBranches"]


class ASPPBranches(nn.Module):
    """Returns ``[1×1(x), dil₁(x), dil₂(x), dil₃(x)]``, each conv → BN+act at ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, dilations: Sequence[int], bias: bool) -> None:
        super().__init__()
        self.pointwise = conv_norm_act(in_channels, out_channels, 1, bias=bias)
        self.dilated = nn.ModuleList(conv_norm_act(in_channels, out_channels, 3, bias=bias, dilation=int(d))
                                     for d in dilations)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.pointwise(x), *(branch(x) for branch in self.dilated)]
