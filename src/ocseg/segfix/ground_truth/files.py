"""Files of the SegFix ground truth: the original's ``.mat`` layout (``dir_deg``, ``depth``,
``deg_reduce``), written and read back. (Label PNGs are read by :mod:`ocseg.io.image_io`.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ocseg.errors import OcsegError
from ocseg.io.atomic import atomic_path
from ocseg.io.matfile import write_mat
from ocseg.io.safe_load import load_mat
from ocseg.segfix.encoding.distance_direction import DTOffsets

__all__ = ["write_ground_truth", "read_ground_truth"]


def write_ground_truth(path: str | Path, gt: DTOffsets) -> None:
    """Write ``<path>.mat`` as the original (compressed; ``deg_reduce`` a 1×1 int), atomically."""
    with atomic_path(path, suffix=".mat") as tmp:
        write_mat(tmp, {"dir_deg": gt.dir_deg, "depth": gt.depth, "deg_reduce": gt.deg_reduce})


def read_ground_truth(path: str | Path) -> DTOffsets:
    """Read a ground-truth ``.mat`` written by us or by the original generator."""
    p = Path(path)
    mat = load_mat(str(p), p, what="SegFix ground truth", fix="regenerate it with ocseg-segfix-gt")
    missing = [k for k in ("dir_deg", "depth", "deg_reduce") if k not in mat]
    if missing:
        raise OcsegError(
            f"'{p}' has no {missing} entries; it is not a SegFix ground-truth file (expected keys "
            "dir_deg, depth, deg_reduce, as written by ocseg-segfix-gt)"
        )
    return DTOffsets(depth=np.asarray(mat["depth"], np.uint8),
                     dir_deg=np.asarray(mat["dir_deg"], np.uint8),
                     deg_reduce=int(np.asarray(mat["deg_reduce"]).ravel()[0]))
