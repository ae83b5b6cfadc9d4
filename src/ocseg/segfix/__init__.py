"""SegFix: boundary offsets ground truth, targets, prediction and label refinement.

:func:`refine` refines a label map held in memory; the rest is imported from its module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["refine"]


def refine(labels: "np.ndarray", offsets: "np.ndarray", scale: int = 2) -> "np.ndarray":
    """``labels`` (H×W, any id space) refined with H×W×2 integer offsets (dh, dw), as
    ``predict_offsets.py`` writes them and :meth:`ocseg.segmenter.Segmenter.predict_offsets`
    returns; ``scale``: 2 for semantic labels, 1 for instance masks (the original's)."""
    # imported here so that importing ocseg.segfix stays cheap
    from ocseg.segfix.offsets_io import SparseOffsets
    from ocseg.segfix.refine import refine_labels

    return refine_labels(labels, SparseOffsets.from_dense(offsets), scale=scale, source="labels")
