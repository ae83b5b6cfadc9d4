"""Padding images on the right and bottom (to a stride multiple or a common size) and undoing it.

The original pads test images with zeros *after* normalisation, on the right/bottom
(``pad_right_down``), so the top-left corner of every prediction lines up with the image; the
padded part of the logits is cropped away before resizing back to the original size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["padded_size", "pad_bottom_right", "crop_top_left"]


def padded_size(size: tuple[int, int], multiple: int | None) -> tuple[int, int]:
    """``size`` (H, W) rounded up to a multiple of ``multiple`` (unchanged for None / 1)."""
    h, w = int(size[0]), int(size[1])
    if not multiple or multiple <= 1:
        return h, w
    m = int(multiple)
    return -(-h // m) * m, -(-w // m) * m


def pad_bottom_right(x: torch.Tensor, size: tuple[int, int], value: float = 0.0) -> torch.Tensor:
    """Pad ``x`` (…×H×W) with ``value`` on the bottom and right up to ``size`` (H, W)."""
    h, w = x.shape[-2:]
    th, tw = int(size[0]), int(size[1])
    if th < h or tw < w:
        raise ValueError(f"cannot pad {h}×{w} down to {th}×{tw}")
    if (th, tw) == (h, w):
        return x
    return F.pad(x, (0, tw - w, 0, th - h), value=value)


def crop_top_left(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The top-left ``size`` (H, W) region of ``x`` (…×H'×W'): undoes :func:`pad_bottom_right`."""
    return x[..., : int(size[0]), : int(size[1])]
