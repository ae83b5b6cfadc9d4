"""Class colours: the dataset's own palette where it has one, else a generated one.

The generated palette is the PASCAL VOC bit-interleaving scheme, which gives every class id a
distinct, stable colour without a hand-written table.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["voc_palette", "resolve_palette"]


def voc_palette(num_classes: int) -> list[list[int]]:
    """``num_classes`` RGB colours; class 0 is black, then the VOC sequence."""
    ids = np.arange(num_classes)
    rgb = np.zeros((num_classes, 3), dtype=np.int64)
    for shift in range(8):
        for channel in range(3):
            bit = (ids >> (3 * shift + channel)) & 1
            rgb[:, channel] |= bit << (7 - shift)
    return rgb.tolist()


def resolve_palette(palette: Sequence[Sequence[int]] | None, num_classes: int) -> list[list[int]]:
    """``palette`` (RGB per class) if given, else :func:`voc_palette`; checks the length."""
    if palette is None:
        return voc_palette(num_classes)
    colours = [[int(c) for c in colour] for colour in palette]
    if len(colours) != num_classes or any(len(c) != 3 for c in colours):
        raise ValueError(f"palette needs {num_classes} RGB triples, got {len(colours)} entries")
    return colours
