"""A tiny plain-conv backbone (stride 8). Placeholder until the model zoo lands; tests only."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TinyBackbone"]


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class TinyBackbone(nn.Module):
    def __init__(self, width: int = 16, pretrained: str | None = None) -> None:
        super().__init__()
        self.stages = nn.ModuleList([
            nn.Sequential(_conv_bn_relu(3, width, 2), _conv_bn_relu(width, width, 1)),
            nn.Sequential(_conv_bn_relu(width, 2 * width, 2), _conv_bn_relu(2 * width, 2 * width, 1)),
            nn.Sequential(_conv_bn_relu(2 * width, 4 * width, 2), _conv_bn_relu(4 * width, 4 * width, 1)),
        ])
        self.out_channels = [width, 2 * width, 4 * width]
        self.strides = [2, 4, 8]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats
