"""ASP-OC head (OCNet): ASPP branches plus a pooled self-attention context branch.

Original counterpart: ``AspOCNet`` — a 3×3 bottleneck to 512, then ``ASP_OC_Module(512, 256)``
whose context branch attends on a 2× max-pooled map (key/value 128) and whose convs have no bias.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ocseg.models.heads.aspp import ASPPBranches
from ocseg.models.heads.aux import aux_index, build_aux
from ocseg.models.layers.attention import SelfAttention2d
from ocseg.models.layers.norm_act import NormAct, conv_norm_act

__all__ = ["ASPOCHead"]


class ASPOCHead(nn.Module):
    """Args:
        in_channels: the backbone's ``out_channels``.
        num_classes: output logits.
        mid_channels: width of the 3×3 bottleneck (512).
        hidden_channels: width of every ASP branch (256); attention uses half of it; the fuse
            conv outputs twice it.
        dilations: the three ASPP dilations.
        pool: max-pool factor of the attention branch.
        dropout: after the fuse conv.
        aux: keyword arguments of the auxiliary FCN branch, or ``None``.
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, mid_channels: int = 512,
                 hidden_channels: int = 256, dilations: Sequence[int] = (12, 24, 36), pool: int = 2,
                 dropout: float = 0.1, aux: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        h = hidden_channels
        self.aux = build_aux(in_channels, num_classes, aux)
        self._aux_index = aux_index(in_channels)
        self.bottleneck = conv_norm_act(in_channels[-1], mid_channels, 3)
        self.context_conv = conv_norm_act(mid_channels, h, 3)
        self.context = SelfAttention2d(h, h // 2, h // 2, h, bias=True, pool=pool)
        self.context_norm = NormAct(h)
        self.aspp = ASPPBranches(mid_channels, h, dilations, bias=False)
        self.fuse = nn.Sequential(nn.Conv2d((2 + len(dilations)) * h, 2 * h, 1, bias=False), NormAct(2 * h),
                                  nn.Dropout2d(dropout))
        self.cls = nn.Conv2d(2 * h, num_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        x = self.bottleneck(feats[-1])
        context = self.context_norm(self.context(self.context_conv(x)))
        out = {"out": self.cls(self.fuse(torch.cat([context, *self.aspp(x)], dim=1)))}
        if self.aux is not None:
            out["aux"] = self.aux(feats[self._aux_index])
        return out
