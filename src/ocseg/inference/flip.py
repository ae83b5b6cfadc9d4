"""Horizontal flipping for test-time augmentation, with left/right class swapping.

For datasets whose classes have a side (LIP: left/right arm, leg, shoe), the logits predicted
on a mirrored image name the wrong side; swapping those channel pairs before flipping back
fixes that (the original swaps LIP channels 14↔15, 16↔17, 18↔19).
"""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["hflip", "swap_channels", "unflip_logits"]


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror the last (width) axis."""
    return x.flip(-1)


def swap_channels(x: torch.Tensor, pairs: Sequence[Sequence[int]]) -> torch.Tensor:
    """``x`` (N×C×…) with channels ``a`` and ``b`` exchanged for each pair ``(a, b)``."""
    if not pairs:
        return x
    order = list(range(x.shape[1]))
    for a, b in pairs:
        a, b = int(a), int(b)
        if not (0 <= a < len(order) and 0 <= b < len(order)):
            raise ValueError(f"flip swap pair ({a}, {b}) is outside the {len(order)} channels")
        order[a], order[b] = order[b], order[a]
    return x[:, order]


def unflip_logits(x: torch.Tensor, pairs: Sequence[Sequence[int]] = ()) -> torch.Tensor:
    """Logits predicted on a mirrored image, mapped back onto the original image."""
    return hflip(swap_channels(x, pairs))
