"""Files of the SegFix ground truth: reading label PNGs as the original generator does, and the
original's ``.mat`` layout (``dir_deg``, ``depth``, ``deg_reduce``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

from ocseg.atomic import atomic_path
from ocseg.errors import OcsegError
from ocseg.segfix.distance_direction import DTOffsets

__all__ = ["read_id_png", "write_ground_truth", "read_ground_truth"]

_ID_MODES = {"L", "P", "I;16", "I;16B", "I;16L", "I", "1"}


def read_id_png(path: str | Path) -> np.ndarray:
    """An id map exactly as stored: 8-bit grey or palette indices (the original's
    ``Image.open(...).convert("P")``), or 16-bit values (Cityscapes instanceIds)."""
    p = Path(path)
    try:
        with Image.open(p) as image:
            mode = image.mode
            if mode not in _ID_MODES:
                raise OcsegError(
                    f"label '{p}' is a {mode} image; SegFix ground truth needs a single-channel id "
                    "map (Cityscapes: *_gtFine_labelIds.png, or *_gtFine_instanceIds.png for kind=instance)"
                )
            array = np.array(image)
    except OSError as exc:
        raise OcsegError(f"label '{p}' cannot be read ({exc}); replace the file or remove it") from exc
    return array.astype(np.uint8) if array.dtype == bool else array


def write_ground_truth(path: str | Path, gt: DTOffsets) -> None:
    """Write ``<path>.mat`` as the original (compressed; ``deg_reduce`` a 1×1 int), atomically."""
    with atomic_path(path, suffix=".mat") as tmp:
        scipy.io.savemat(str(tmp), {"dir_deg": gt.dir_deg, "depth": gt.depth,
                                    "deg_reduce": gt.deg_reduce}, do_compression=True)


def read_ground_truth(path: str | Path) -> DTOffsets:
    """Read a ground-truth ``.mat`` written by us or by the original generator."""
    p = Path(path)
    try:
        mat = scipy.io.loadmat(str(p))
    except (OSError, ValueError) as exc:
        raise OcsegError(f"SegFix ground truth '{p}' cannot be read ({exc}); regenerate it") from exc
    missing = [k for k in ("dir_deg", "depth", "deg_reduce") if k not in mat]
    if missing:
        raise OcsegError(
            f"'{p}' has no {missing} entries; it is not a SegFix ground-truth file (expected keys "
            "dir_deg, depth, deg_reduce, as written by python -m ocseg.segfix.ground_truth)"
        )
    return DTOffsets(depth=np.asarray(mat["depth"], np.uint8),
                     dir_deg=np.asarray(mat["dir_deg"], np.uint8),
                     deg_reduce=int(np.asarray(mat["deg_reduce"]).ravel()[0]))
