"""ASP-OCR head: ASPP branches plus an OCR context branch, fused by a 1×1 conv.

Original counterparts: ``ASPOCRNet`` (ResNet, dilations 12/24/36) and ``HRNet_W48_ASPOCR``
(dilations 24/48/72, classifier without bias). Branch order in the fuse conv is
[OCR context, 1×1, dilated × 3], as the original concatenates them.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ocseg.models.heads.aspp import ASPPBranches
from ocseg.models.heads.aux import aux_index, build_aux
from ocseg.models.layers.norm_act import NormAct, conv_norm_act
from ocseg.models.layers.object_context import ObjectAttention, SpatialGather

__all__ = ["ASPOCRHead"]


class ASPOCRHead(nn.Module):
    """Args:
        in_channels: the backbone's ``out_channels``.
        num_classes: output logits.
        hidden_channels: width of every branch (256); the OCR branch attends in half of it.
        out_channels: width after the fuse conv (256).
        dilations: the three ASPP dilations.
        dropout: after the fuse conv.
        cls_bias: bias of the final classifier.
        aux: keyword arguments of the auxiliary FCN branch (defines the object regions).
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, hidden_channels: int = 256,
                 out_channels: int = 256, dilations: Sequence[int] = (12, 24, 36), dropout: float = 0.1,
                 cls_bias: bool = True, aux: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        c = in_channels[-1]
        self.aux = build_aux(in_channels, num_classes, aux or {})
        self._aux_index = aux_index(in_channels)
        self.context_conv = conv_norm_act(c, hidden_channels, 3)
        self.gather = SpatialGather()
        self.context = ObjectAttention(hidden_channels, hidden_channels // 2)
        self.aspp = ASPPBranches(c, hidden_channels, dilations, bias=True)
        branches = 2 + len(dilations)   # OCR context, 1×1, dilated…
        self.fuse = nn.Sequential(nn.Conv2d(branches * hidden_channels, out_channels, 1), NormAct(out_channels),
                                  nn.Dropout2d(dropout))
        self.cls = nn.Conv2d(out_channels, num_classes, 1, bias=cls_bias)

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        aux = self.aux(feats[self._aux_index])
        x = feats[-1]
        hidden = self.context_conv(x)
        context = self.context(hidden, self.gather(hidden, aux))
        out = self.fuse(torch.cat([context, *self.aspp(x)], dim=1))
        return {"out": self.cls(out), "aux": aux}
