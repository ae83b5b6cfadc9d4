"""Resizing logits to a label's size the way the original does (bilinear, align_corners=True)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["upsample_to"]


def upsample_to(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of N×C×h×w ``logits`` to ``size`` with ``align_corners=True``."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=True)
