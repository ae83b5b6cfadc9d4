"""Per-image numbers for the reports: each image's IoU counts (hence its mIoU, to find the worst
images) and, for SegFix, how refinement changed its pixels (fixed, broken).

They are read off the same predictions the scores use and never feed the scores themselves.
The functions work on numpy arrays and torch tensors alike (only ``!=``, ``==``, ``&`` and
``sum``), so the evaluation loop counts on the device and ``refine.py`` counts in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = ["CHANGES", "PerImage", "change_counts"]

#: the columns of :attr:`PerImage.changes`: pixels whose label refinement changed; of those, the
#: ones that became right, that became wrong, and those under ignored ground truth
CHANGES = ("changed", "fixed", "broken", "ignored")


def change_counts(before: Any, after: Any, label: Any, ignore_index: int = 255) -> list[int]:
    """:data:`CHANGES` of one image: ``before`` / ``after`` refinement and its ground truth."""
    changed = before != after
    scored = label != ignore_index
    fixed = changed & scored & (after == label)
    broken = changed & scored & (before == label)
    return [int(changed.sum()), int(fixed.sum()), int(broken.sum()), int((changed & ~scored).sum())]


@dataclass
class PerImage:
    """Per-image counts of an evaluated split, one row per image.

    ``index``: the image's position in the dataset; ``tp`` / ``gt`` / ``pred``: per class, the
    pixels right, in the ground truth and in the prediction (ignore left out); ``changes``: the
    :data:`CHANGES` counts of SegFix refinement (None without it; zeros for an image refined in
    an earlier, resumed run, which ``refined_images`` does not count).
    """

    index: np.ndarray
    tp: np.ndarray
    gt: np.ndarray
    pred: np.ndarray
    changes: np.ndarray | None = None
    refined_images: int = 0

    def miou(self) -> np.ndarray:
        """Each image's mIoU in percent: the mean IoU over the classes present in its ground
        truth or its prediction (NaN for an image without any scored pixel)."""
        union = self.gt + self.pred - self.tp
        iou = np.divide(self.tp, union, out=np.zeros(union.shape), where=union > 0)
        present = (union > 0).sum(1)
        return np.divide(100 * iou.sum(1), present, out=np.full(len(present), np.nan), where=present > 0)

    @classmethod
    def stack(cls, rows: Sequence[dict], num_classes: int) -> "PerImage":
        """From rows ``{"index", "tp", "gt", "pred", "changes"?}`` (in any order: sorted by index)."""
        rows = sorted(rows, key=lambda r: r["index"])

        def table(key: str, width: int) -> np.ndarray:
            return np.asarray([r[key] for r in rows], np.int64).reshape(len(rows), width)

        refined = sum(r.get("changes") is not None for r in rows)
        changes = None
        if refined:
            changes = np.asarray([r.get("changes") or [0] * len(CHANGES) for r in rows], np.int64)
        return cls(index=np.asarray([r["index"] for r in rows], np.int64),
                   tp=table("tp", num_classes), gt=table("gt", num_classes),
                   pred=table("pred", num_classes), changes=changes, refined_images=refined)

    def change_totals(self) -> dict[str, int] | None:
        """:data:`CHANGES` summed over the images (None without refinement)."""
        if self.changes is None:
            return None
        return dict(zip(CHANGES, (int(v) for v in self.changes.sum(0))))
