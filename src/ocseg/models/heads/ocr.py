"""OCR head (object-contextual representations), with OCR-B as a narrower configuration.

aux logits → soft object regions (:class:`SpatialGather`) → pixel/region attention
(:class:`ObjectAttention`) → concat with the pixel features → 1×1 fuse → classifier.
Original counterparts: ``SpatialOCRNet`` (ResNet), ``HRNet_W48_OCR`` (512 mid / 256 key channels)
and ``HRNet_W48_OCR_B`` (256 / 128).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ocseg.models.heads.aux import aux_index, build_aux
from ocseg.models.layers.norm_act import NormAct, conv_norm_act
from ocseg.models.layers.object_context import ObjectAttention, SpatialGather

__all__ = ["SpatialOCR", "OCRHead"]


class SpatialOCR(nn.Module):
    """Augment pixel features with their object context: ``fuse([context, feats])``."""

    def __init__(self, in_channels: int, key_channels: int, out_channels: int, dropout: float) -> None:
        super().__init__()
        self.attention = ObjectAttention(in_channels, key_channels)
        self.fuse = nn.Sequential(nn.Conv2d(2 * in_channels, out_channels, 1), NormAct(out_channels),
                                  nn.Dropout2d(dropout))

    def forward(self, feats: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.attention(feats, regions), feats], dim=1))


class OCRHead(nn.Module):
    """Args:
        in_channels: the backbone's ``out_channels``.
        num_classes: output logits.
        mid_channels: width of the 3×3 bottleneck and of the OCR output (512; OCR-B 256).
        key_channels: width of the attention space (256; OCR-B 128).
        dropout: after the OCR fuse conv.
        aux: keyword arguments of the auxiliary FCN branch whose logits define the object regions
            (required: OCR needs them).
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, mid_channels: int = 512,
                 key_channels: int = 256, dropout: float = 0.05,
                 aux: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.aux = build_aux(in_channels, num_classes, aux or {})
        self._aux_index = aux_index(in_channels)
        self.bottleneck = conv_norm_act(in_channels[-1], mid_channels, 3)
        self.gather = SpatialGather()
        self.ocr = SpatialOCR(mid_channels, key_channels, mid_channels, dropout)
        self.cls = nn.Conv2d(mid_channels, num_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        aux = self.aux(feats[self._aux_index])
        x = self.bottleneck(feats[-1])
        x = self.ocr(x, self.gather(x, aux))
        return {"out": self.cls(x), "aux": aux}
