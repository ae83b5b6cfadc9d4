"""SegFix direction encoding: angles ↔ 8 direction bins ↔ unit pixel offsets (dh, dw).

Conventions of the original (``offset_helper.py``): angles are degrees in [-180, 180] measured
with rows pointing *down* (``atan2(dy, dx)``); with ``n`` bins of ``360/n`` degrees, bin 0 covers
``angle <= -180 + step/2`` or ``angle > 180 - step/2`` and bin ``i`` covers
``(-180 + i·step - step/2, -180 + i·step + step/2]`` (upper edge inclusive). Bin ``i`` moves a
pixel by ``DIRECTION_OFFSETS[i]`` = (dh, dw); angle 0 (pointing right) is bin 4 → (0, 1).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["NUM_DIRECTIONS", "DIRECTION_OFFSETS", "angle_to_bin", "bin_to_offset"]

NUM_DIRECTIONS = 8

#: (dh, dw) of each of the 8 bins; rows grow downwards.
DIRECTION_OFFSETS = ((0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1))


def _edges(num_bins: int) -> np.ndarray:
    step = 360.0 / num_bins
    return -180.0 + step / 2 + step * np.arange(num_bins, dtype=np.float64)


def angle_to_bin(angle: torch.Tensor | np.ndarray, num_bins: int = NUM_DIRECTIONS):
    """Direction bin (int64) of each angle in degrees; exact at bin edges (upper edge inclusive)."""
    if isinstance(angle, torch.Tensor):
        edges = torch.as_tensor(_edges(num_bins), dtype=angle.dtype if angle.is_floating_point()
                                else torch.float64, device=angle.device)
        return torch.bucketize(angle.to(edges.dtype), edges, right=False) % num_bins
    a = np.asarray(angle)
    edges = _edges(num_bins).astype(a.dtype if np.issubdtype(a.dtype, np.floating) else np.float64)
    return np.searchsorted(edges, a, side="left").astype(np.int64) % num_bins


def bin_to_offset(bins: torch.Tensor | np.ndarray):
    """(dh, dw) offsets of direction bins, stacked on a new last axis (int64)."""
    if isinstance(bins, torch.Tensor):
        table = torch.tensor(DIRECTION_OFFSETS, dtype=torch.long, device=bins.device)
        return table[bins.long()]
    return np.asarray(DIRECTION_OFFSETS, dtype=np.int64)[np.asarray(bins, dtype=np.int64)]
