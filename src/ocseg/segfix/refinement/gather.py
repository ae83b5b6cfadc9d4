"""SegFix refinement of label maps and instance masks: an exact integer gather.

``out[y, x] = in[clip(y + scale·dh), clip(x + scale·dw)]`` — each boundary pixel takes the label
of the pixel its offset points to (inside the segment), clamped to the image border. Labels are
moved as given, in any id space (8/16-bit ids, palette indices, even colour images): never
blended, re-mapped or invented. (The original script sampled one-hot labels with bilinear
``grid_sample`` and took the argmax; its coordinates assume ``align_corners=True``, the default
before PyTorch 1.3, so since then samples land up to half a pixel off, and at region corners
where three of the four sampled pixels share a label that label wins. This is what it meant
to compute.) Only moved pixels are touched, so the cost is proportional to the boundary
length. Semantic refinement uses scale 2, instance masks scale 1 (the original's).
"""

from __future__ import annotations

import numpy as np

from ocseg.errors import OcsegError
from ocseg.segfix.offsets.files import SparseOffsets

__all__ = ["SEMANTIC_SCALE", "INSTANCE_SCALE", "source_indices", "refine_labels", "refine_masks"]

SEMANTIC_SCALE = 2
INSTANCE_SCALE = 1


def source_indices(offsets: SparseOffsets, scale: int) -> np.ndarray:
    """Flat index of the pixel each moved pixel copies from (clamped to the image)."""
    height, width = offsets.size
    dtype = np.int32 if height * width < 2**31 else np.int64
    rows, cols = np.divmod(offsets.index.astype(dtype), dtype(width))
    rows += scale * offsets.dh.astype(dtype)
    cols += scale * offsets.dw.astype(dtype)
    np.clip(rows, 0, height - 1, out=rows)
    np.clip(cols, 0, width - 1, out=cols)
    rows *= width
    rows += cols
    return rows


def _check_size(shape: tuple[int, ...], offsets: SparseOffsets, what: str, source: str) -> None:
    if tuple(shape[:2]) != tuple(offsets.size):
        (h, w), (oh, ow) = shape[:2], offsets.size
        raise OcsegError(f"{what} '{source}' is {w}×{h} but its offset map is {ow}×{oh}; offsets must "
                         "be predicted at the label's size (predict offsets for the same images)")


def refine_labels(label: np.ndarray, offsets: SparseOffsets, scale: int = SEMANTIC_SCALE,
                  source: str = "label", in_place: bool = False) -> np.ndarray:
    """Refined H×W (or H×W×C) label map: a copy, or ``label`` itself with ``in_place``
    (the moved values are gathered before any is written, so reading and writing the same
    array is safe)."""
    _check_size(label.shape, offsets, "label", source)
    out = label if in_place and label.flags.c_contiguous else np.array(label, copy=True)
    if offsets.index.size:
        pixels = label.shape[0] * label.shape[1]
        shape = (pixels,) if label.ndim == 2 else (pixels, -1)
        flat_out = out.reshape(shape)
        flat_out[offsets.index] = np.ascontiguousarray(label).reshape(shape)[
            source_indices(offsets, scale)]
    return out


def refine_masks(masks: np.ndarray, offsets: SparseOffsets, scale: int = INSTANCE_SCALE,
                 source: str = "masks") -> np.ndarray:
    """Refined N×H×W binary masks (uint8 0/1); input pixels > 0 are foreground."""
    if masks.ndim != 3:
        raise ValueError(f"masks must be N×H×W, got {masks.shape}")
    _check_size(masks.shape[1:], offsets, "instance mask", source)
    binary = (masks > 0).astype(np.uint8)
    out = binary.copy()
    if offsets.index.size and len(binary):
        flat_in = binary.reshape(len(binary), -1)
        out.reshape(len(binary), -1)[:, offsets.index] = flat_in[:, source_indices(offsets, scale)]
    return out
