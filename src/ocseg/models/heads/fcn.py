"""Placeholder FCN head on the last feature map (replaced by the model zoo's heads)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FCNHead"]


class FCNHead(nn.Module):
    def __init__(self, in_channels: list[int], num_classes: int, mid_channels: int = 64,
                 dropout: float = 0.1) -> None:
        super().__init__()
        c = in_channels[-1]
        self.block = nn.Sequential(nn.Conv2d(c, mid_channels, 3, 1, 1, bias=False),
                                   nn.BatchNorm2d(mid_channels), nn.ReLU(inplace=True),
                                   nn.Dropout2d(dropout))
        self.cls = nn.Conv2d(mid_channels, num_classes, 1)
        self.aux = nn.Conv2d(in_channels[-2], num_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"out": self.cls(self.block(feats[-1])), "aux": self.aux(feats[-2])}
