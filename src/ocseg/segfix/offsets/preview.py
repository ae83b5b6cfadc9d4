"""A colour picture of SegFix offsets for looking at them: each moving pixel coloured by the
direction it moves in (a hue wheel: right red, down yellow-green, left cyan, up blue-violet),
still pixels black. Written as a small palette PNG."""

from __future__ import annotations

import colorsys
import math
from pathlib import Path

import numpy as np

from ocseg.io.image_io import write_label_png

__all__ = ["offset_codes", "preview_palette", "write_offset_preview"]


def offset_codes(offsets: np.ndarray) -> np.ndarray:
    """H×W uint8 ``3·(dh+1) + (dw+1)`` of H×W×2 offsets in {−1, 0, 1} (4 = no move)."""
    dh = np.clip(offsets[..., 0], -1, 1).astype(np.int16)
    dw = np.clip(offsets[..., 1], -1, 1).astype(np.int16)
    return (3 * (dh + 1) + dw + 1).astype(np.uint8)


def preview_palette() -> list[int]:
    """RGB palette (768 values) of the 9 codes: hue = direction angle, code 4 black."""
    palette = [0] * 768
    for code in range(9):
        dh, dw = code // 3 - 1, code % 3 - 1
        if dh == 0 and dw == 0:
            continue
        hue = (math.degrees(math.atan2(dh, dw)) % 360) / 360
        palette[3 * code: 3 * code + 3] = [int(255 * c) for c in colorsys.hsv_to_rgb(hue, 1.0, 1.0)]
    return palette


def write_offset_preview(path: str | Path, offsets: np.ndarray) -> None:
    """Write the preview of H×W×2 ``offsets`` to ``path`` (PNG), atomically."""
    write_label_png(Path(path), offset_codes(np.asarray(offsets)), preview_palette())
