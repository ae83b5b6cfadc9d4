"""Base-OC head (OCNet): self-attention object context concatenated with the features, then fused.

Original counterpart: ``BaseOCNet`` (``BaseOC_Module`` with one full-resolution stage).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ocseg.models.heads.aux import aux_index, build_aux
from ocseg.models.layers.attention import SelfAttention2d
from ocseg.models.layers.norm_act import NormAct, conv_norm_act

__all__ = ["BaseOCHead"]


class BaseOCHead(nn.Module):
    """Args:
        in_channels: the backbone's ``out_channels``.
        num_classes: output logits.
        mid_channels: width of the 3×3 bottleneck and of the output (512).
        key_channels, value_channels: attention widths (256, 256).
        dropout: after the fuse conv.
        aux: keyword arguments of the auxiliary FCN branch, or ``None``.
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, mid_channels: int = 512,
                 key_channels: int = 256, value_channels: int = 256, dropout: float = 0.05,
                 aux: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.aux = build_aux(in_channels, num_classes, aux)
        self._aux_index = aux_index(in_channels)
        self.bottleneck = conv_norm_act(in_channels[-1], mid_channels, 3)
        self.context = SelfAttention2d(mid_channels, key_channels, value_channels, mid_channels, bias=True)
        self.fuse = nn.Sequential(nn.Conv2d(2 * mid_channels, mid_channels, 1), NormAct(mid_channels),
                                  nn.Dropout2d(dropout))
        self.cls = nn.Conv2d(mid_channels, num_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        x = self.bottleneck(feats[-1])
        out = {"out": self.cls(self.fuse(torch.cat([self.context(x), x], dim=1)))}
        if self.aux is not None:
            out["aux"] = self.aux(feats[self._aux_index])
        return out
