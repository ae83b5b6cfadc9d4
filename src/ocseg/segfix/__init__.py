"""SegFix: refining the boundary pixels of any segmentation with predicted offsets.

The package is grouped by pipeline stage; a stage imports only the stages listed before it.

* **encoding** (``encoding.directions``, ``encoding.distance_direction``): the 8-direction
  table and the distance / direction maths. The only part ``ocseg.models`` imports.
* **1. ground truth files** (``ground_truth.generate``, ``ground_truth.files``; the tool
  ``ocseg-segfix-gt`` runs ``ground_truth/run.py``): the original's
  ``.mat`` ground truth for a folder of labels.
* **2. training** (``training.targets``, ``training.metrics``): targets built on the fly from
  every augmented label (``conf/task/segfix*.yaml``), the boundary / direction labels the loss
  (``ocseg.losses.segfix``) and the metrics share, and the validation scores.
* **3. offsets** (``offsets.prediction``, ``offsets.module``, ``offsets.files``,
  ``offsets.store``, ``offsets.preview``): predicting offsets with a
  SegFix network under Lightning (``predict_offsets.py``), the ``.mat`` / ``.npz`` files,
  finding a label's file in a folder or ``.zip``, and a preview picture.
* **4. refinement** (``refinement.gather``, ``refinement.folder``, ``refinement.chained``):
  the exact integer gather, a folder of predictions in parallel (``refine.py``), and the hook
  that refines inside ``eval.py segfix.offsets=``.

:func:`refine` refines a label map held in memory. SegFix checkpoints are loaded by
:func:`ocseg.checkpoints.load_network`. Worker processes come from :mod:`ocseg.io.parallel`, ``.mat``
files are read and written by :mod:`ocseg.io.matfile`, label PNGs by :mod:`ocseg.io.image_io`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["refine"]


def refine(labels: "np.ndarray", offsets: "np.ndarray", scale: int = 2) -> "np.ndarray":
    """``labels`` (H×W, any id space; or H×W×C) refined with H×W×2 integer offsets (dh, dw), as
    ``predict_offsets.py`` writes them and :meth:`ocseg.segmenter.Segmenter.predict_offsets`
    returns; ``scale``: 2 for semantic labels, 1 for instance masks (the original's).

    Raises :class:`~ocseg.errors.ArgumentTypeError` (a ``TypeError``) for arguments that are not
    arrays or whose offsets are not integers, :class:`~ocseg.errors.ArgumentError` (a
    ``ValueError``) for shapes that do not fit or a scale below 1."""
    # imported here so that importing ocseg.segfix stays cheap
    import numpy as np

    from ocseg.errors import ArgumentError, ArgumentTypeError, require_int
    from ocseg.segfix.offsets.files import SparseOffsets
    from ocseg.segfix.refinement.gather import refine_labels

    for name, value in (("labels", labels), ("offsets", offsets)):
        if not isinstance(value, np.ndarray):
            raise ArgumentTypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    if offsets.ndim != 3 or offsets.shape[2] != 2:
        raise ArgumentError(f"offsets must be H×W×2 (dh, dw), got shape {offsets.shape}")
    if offsets.dtype.kind not in "iu":
        raise ArgumentTypeError(f"offsets must be integers (whole-pixel moves), got {offsets.dtype}; "
                                "round them first, e.g. np.rint(offsets).astype(np.int8)")
    if labels.ndim not in (2, 3) or labels.shape[:2] != offsets.shape[:2]:
        raise ArgumentError(f"labels must be H×W (or H×W×C) of the offsets' size {offsets.shape[:2]}, "
                            f"got shape {labels.shape}")
    scale = require_int(scale, "scale", minimum=1)
    return refine_labels(labels, SparseOffsets.from_dense(offsets), scale=scale, source="labels")
