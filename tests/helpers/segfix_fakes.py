"""Random SegFix offsets for a set of images (half ``.npz``, half the original's int32 ``.mat``):
enough to make refinement change pixels, fix some and break others."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ocseg.segfix.offsets.files import write_offsets

__all__ = ["write_random_offsets"]


def write_random_offsets(folder: Path, images: Sequence[Path], size: tuple[int, int] = (64, 128),
                         seed: int = 0) -> Path:
    """One offset file per image (named by its stem) in ``folder``: 30 % of the pixels move by
    one pixel in a random direction."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    for k, image in enumerate(images):
        off = rng.randint(-1, 2, size=(*size, 2)).astype(np.int8)
        off[rng.rand(*size) > 0.3] = 0
        suffix = ".npz" if k % 2 else ".mat"
        write_offsets(folder / f"{Path(image).stem}{suffix}", off, mat_dtype=np.int32)
    return folder
