"""SegFix head: boundary mask (2 logits, channel 1 = boundary) and direction (8 bins) branches.

Both are 1×1 conv (no bias) → BN+act → 1×1 conv (no bias) on the concatenated backbone map, as the
original ``SegFix_HRNet`` (``mask_head``/``dir_head``).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ocseg.models.layers.norm_act import NormAct
from ocseg.segfix.encoding.directions import NUM_DIRECTIONS

__all__ = ["SegFixHead"]

NUM_MASK_CLASSES = 2


def _branch(in_channels: int, mid_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, mid_channels, 1, bias=False), NormAct(mid_channels),
                         nn.Conv2d(mid_channels, out_channels, 1, bias=False))


class SegFixHead(nn.Module):
    """Args:
        in_channels: the backbone's ``out_channels`` (the last map is used).
        num_classes: ignored — SegFix predicts boundary/direction, not the dataset's classes;
            accepted so the head composes like every other one.
        mid_channels: width of both branches (256).
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int | None = None,
                 mid_channels: int = 256) -> None:
        super().__init__()
        self.mask = _branch(in_channels[-1], mid_channels, NUM_MASK_CLASSES)
        self.direction = _branch(in_channels[-1], mid_channels, NUM_DIRECTIONS)

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"mask": self.mask(feats[-1]), "direction": self.direction(feats[-1])}
