"""Deep-stem ("deepbase") dilated ResNet-18/50/101, as the original's ``deepbase_resnet*_dilated8/16``.

The stem is three 3×3 convs (64, 64, 128) and a ceil-mode 3×3/2 max-pool; with
``output_stride=8`` layer3 and layer4 trade their stride for dilation 2 and 4 (16: only layer4,
dilation 2). Multi-grid multiplies layer4's per-block dilation; the first block's 3×3 conv, which
used to be strided, gets half the dilation (the original's ``_nostride_dilate``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from ocseg.errors import OcsegError
from ocseg.models.layers.residual import BasicBlock, Bottleneck

__all__ = ["DeepBaseResNet", "RESNET_DEPTHS"]

# depth → (block, blocks per layer)
RESNET_DEPTHS: dict[int, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
}
STEM_CHANNELS = 128

# output stride → dilation of (layer3, layer4); a dilated layer keeps stride 1
_DILATIONS = {8: (2, 4), 16: (1, 2), 32: (1, 1)}


class DeepBaseResNet(nn.Module):
    """Args:
        depth: 18, 50 or 101.
        output_stride: 8 (the original's ``_dilated8``), 16 or 32.
        multi_grid: per-block dilation multipliers of layer4 (``None`` ≡ all 1).
        out_indices: which of ``stem(0), layer1..layer4`` to return; the heads read the last one
            (and the one before it for the auxiliary branch).
        pretrained: ImageNet weights file (the original's deep-base ResNet files) or ``None``.
        download: fetch a missing ``pretrained`` file the original links directly (the deep-base
            files are on a release page only: those always stop with the page's address).
    """

    def __init__(self, depth: int = 101, output_stride: int = 8, multi_grid: Sequence[int] | None = None,
                 out_indices: Sequence[int] = (3, 4), pretrained: str | None = None,
                 download: bool = True) -> None:
        super().__init__()
        if depth not in RESNET_DEPTHS:
            raise OcsegError(f"backbone.depth={depth} is not supported; use one of {sorted(RESNET_DEPTHS)}")
        if output_stride not in _DILATIONS:
            raise OcsegError(f"backbone.output_stride={output_stride} is not supported; use 8, 16 or 32")
        block, layers = RESNET_DEPTHS[depth]
        self.stem = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 64, 3, stride=2, padding=1, bias=False)),
            ("bn1", nn.BatchNorm2d(64)), ("relu1", nn.ReLU(inplace=True)),
            ("conv2", nn.Conv2d(64, 64, 3, padding=1, bias=False)),
            ("bn2", nn.BatchNorm2d(64)), ("relu2", nn.ReLU(inplace=True)),
            ("conv3", nn.Conv2d(64, STEM_CHANNELS, 3, padding=1, bias=False)),
            ("bn3", nn.BatchNorm2d(STEM_CHANNELS)), ("relu3", nn.ReLU(inplace=True)),
        ]))
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        d3, d4 = _DILATIONS[output_stride]
        grid4 = tuple(multi_grid) if multi_grid else (1,) * layers[3]
        if len(grid4) != layers[3]:
            raise OcsegError(f"backbone.multi_grid needs {layers[3]} entries for layer4, got {list(grid4)}")
        widths, strides = (64, 128, 256, 512), [4, 8]
        self._in = STEM_CHANNELS
        self.layer1 = self._make_layer(block, widths[0], layers[0], stride=1, dilations=(1,) * layers[0])
        self.layer2 = self._make_layer(block, widths[1], layers[1], stride=2, dilations=(1,) * layers[1])
        self.layer3 = self._make_layer(block, widths[2], layers[2], stride=2 if d3 == 1 else 1,
                                       dilations=(d3,) * layers[2])
        self.layer4 = self._make_layer(block, widths[3], layers[3], stride=2 if d4 == 1 else 1,
                                       dilations=tuple(d4 * g for g in grid4))
        strides += [strides[-1] * (2 if d3 == 1 else 1)]
        strides += [strides[-1] * (2 if d4 == 1 else 1)]
        all_channels = [STEM_CHANNELS] + [w * block.expansion for w in widths]
        all_strides = [2] + strides
        self.out_indices = [int(i) for i in out_indices]
        if not self.out_indices or any(i < 0 or i > 4 for i in self.out_indices):
            raise OcsegError(f"backbone.out_indices={list(out_indices)} must pick from 0 (stem) to 4 (layer4)")
        self.out_channels = [all_channels[i] for i in self.out_indices]
        self.strides = [all_strides[i] for i in self.out_indices]
        if pretrained:
            from ocseg.models.backbones.pretrained import load_pretrained

            load_pretrained(self, pretrained, download=download)

    def _make_layer(self, block: type[nn.Module], planes: int, blocks: int, stride: int,
                    dilations: Sequence[int]) -> nn.Sequential:
        layers = []
        for i in range(blocks):
            # a layer that gave up its stride for dilation d starts with dilation d/2 (≥ 1)
            first = max(dilations[0] // 2, 1) if i == 0 and dilations[0] > 1 else None
            layers.append(block(self._in, planes, stride=stride if i == 0 else 1,
                                dilation=dilations[i], first_dilation=first))
            self._in = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(x)]
        x = self.maxpool(feats[0])
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        return [feats[i] for i in self.out_indices]
