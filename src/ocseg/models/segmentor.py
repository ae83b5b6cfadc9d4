"""A segmentation network = a backbone (multi-scale features) + a head (logits dict).

Backbones expose ``out_channels`` and ``strides`` (one entry per returned feature map), so any
head can sit on any backbone: the head is built from the backbone's ``out_channels``.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["Segmentor", "compose_network"]


class Segmentor(nn.Module):
    """``head(backbone(x))``; returns the head's dict (``{"out", "aux"}`` or SegFix's
    ``{"mask", "direction"}``) at the head's native stride, not upsampled."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(self.backbone(x))


def compose_network(backbone: nn.Module, head: Callable[..., nn.Module], num_classes: int) -> Segmentor:
    """Complete a partially configured head with the backbone's channels and the class count."""
    return Segmentor(backbone, head(in_channels=list(backbone.out_channels), num_classes=num_classes))
