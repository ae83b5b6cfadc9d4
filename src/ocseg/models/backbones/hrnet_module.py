"""One HRNet module: parallel residual branches, then every branch fuses all the others.

Child names (``branches``, ``fuse_layers``) and their indices are HRNet's, so checkpoints and
ImageNet files load by name. Fusion into branch i: a higher-resolution branch j < i is strided
down by i−j 3×3/2 convs, a lower-resolution one is projected by a 1×1 conv and upsampled
(bilinear, ``align_corners=True``, as the original). The fused sums are accumulated in place and
the final ReLU is in place: every path's output is a fresh tensor that no backward reads.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ocseg.models.layers.residual import BasicBlock, Bottleneck

__all__ = ["HRModule", "BLOCKS"]

BLOCKS: dict[str, type[nn.Module]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


def _branch(block: type[nn.Module], in_channels: int, width: int, num_blocks: int) -> nn.Sequential:
    layers, c = [], in_channels
    for _ in range(num_blocks):
        layers.append(block(c, width))
        c = width * block.expansion
    return nn.Sequential(*layers)


def _fuse(in_channels: Sequence[int], src: int, dst: int) -> nn.Module:
    """The path from branch ``src`` into branch ``dst``."""
    if src == dst:
        return nn.Identity()
    if src > dst:  # lower resolution: 1×1 projection (upsampled in forward)
        return nn.Sequential(nn.Conv2d(in_channels[src], in_channels[dst], 1, bias=False),
                             nn.BatchNorm2d(in_channels[dst]))
    steps = []
    for k in range(dst - src):
        last = k == dst - src - 1
        out = in_channels[dst] if last else in_channels[src]
        step = [nn.Conv2d(in_channels[src], out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(out)]
        if not last:
            step.append(nn.ReLU(inplace=True))
        steps.append(nn.Sequential(*step))
    return nn.Sequential(*steps)


class HRModule(nn.Module):
    """Args:
        block: ``"basic"`` or ``"bottleneck"``.
        in_channels: channels entering each branch.
        widths: block width per branch (output = width × block expansion).
        num_blocks: residual blocks per branch.
    """

    def __init__(self, block: str, in_channels: Sequence[int], widths: Sequence[int],
                 num_blocks: Sequence[int]) -> None:
        super().__init__()
        cls = BLOCKS[block]
        self.branches = nn.ModuleList(_branch(cls, c, w, n) for c, w, n in zip(in_channels, widths, num_blocks))
        self.out_channels = [w * cls.expansion for w in widths]
        n = len(widths)
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(_fuse(self.out_channels, j, i) for j in range(n)) for i in range(n)
        ) if n > 1 else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        out = []
        for i, paths in enumerate(self.fuse_layers):
            size = xs[i].shape[-2:]
            y = None
            for j, path in enumerate(paths):
                z = path(xs[j])
                if j > i:
                    z = F.interpolate(z, size=size, mode="bilinear", align_corners=True)
                # the sum is accumulated in place into a tensor of its own (never into xs[i], the
                # identity path, which the other branches still read); same order as the original
                if y is None:
                    y = z
                elif y is xs[i]:
                    y = y + z
                else:
                    y += z
            out.append(self.relu(y))
        return out
