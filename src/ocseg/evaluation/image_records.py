"""What the evaluation report needs beyond the summed scores, collected while evaluating.

Per image: the IoU counts of its prediction (one bincount of pixels it already holds) and,
with chained SegFix, how refinement changed it; the unrefined predictions of the ``keep`` images
that refinement changed most are kept (uint8), because only the refined ones are written.
Every process collects its own images; :meth:`ImageRecords.gathered` joins them on every
process (a collective under DDP). Only built when ``report=true``; the scores never read it.
"""

from __future__ import annotations

import heapq

import numpy as np
import torch

from ocseg.metrics.accumulators import confusion_matrix
from ocseg.metrics.per_image import PerImage, change_counts

__all__ = ["ImageRecords"]


class ImageRecords:
    """Args:
        num_classes, ignore_index: as the scores.
        keep: how many unrefined predictions to keep (the images refinement changed most).
    """

    def __init__(self, num_classes: int, ignore_index: int = 255, keep: int = 8) -> None:
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.keep = int(keep)
        self.reset()

    def reset(self) -> None:
        self.rows: list[dict] = []
        self.indices: list[int] = []
        self._unrefined: list[tuple[int, int, np.ndarray]] = []   # a min-heap on changed pixels

    def add(self, index: int, pred: torch.Tensor | None, label: torch.Tensor | None = None,
            unrefined: torch.Tensor | None = None) -> None:
        """One image: its (refined) prediction, ground truth and, with SegFix, the unrefined one."""
        self.indices.append(int(index))
        if pred is None or label is None:
            return
        cm = confusion_matrix(pred, label, self.num_classes, self.ignore_index).cpu()
        row = {"index": int(index), "tp": cm.diagonal().tolist(), "gt": cm.sum(1).tolist(),
               "pred": cm.sum(0).tolist()}
        if unrefined is not None:
            row["changes"] = change_counts(unrefined, pred, label, self.ignore_index)
            changed = row["changes"][0]
            if changed and self.keep > 0:
                entry = (changed, int(index), unrefined.to(torch.uint8).cpu().numpy())
                if len(self._unrefined) < self.keep:
                    heapq.heappush(self._unrefined, entry)
                elif changed > self._unrefined[0][0]:
                    heapq.heapreplace(self._unrefined, entry)
        self.rows.append(row)

    def gathered(self) -> tuple[PerImage, dict[int, np.ndarray], list[int]]:
        """(per-image counts, unrefined predictions by index, every index seen), all processes."""
        local = (self.rows, self._unrefined, self.indices)
        parts = [local]
        if torch.distributed.is_available() and torch.distributed.is_initialized() \
                and torch.distributed.get_world_size() > 1:
            parts = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(parts, local)
        rows = [r for part in parts for r in part[0]]
        kept = sorted((e for part in parts for e in part[1]), key=lambda e: (-e[0], e[1]))[: self.keep]
        indices = sorted({i for part in parts for i in part[2]})
        return PerImage.stack(rows, self.num_classes), {i: a for _, i, a in kept}, indices
