"""Validation scores of a SegFix model: boundary-mask accuracy / precision / recall / F1 on
non-ignored pixels and direction accuracy on ground-truth boundary pixels (percent).

Predictions are decoded as offset prediction does: mask softmax, then bilinear upsampling
(align_corners=True) of the probabilities and of the direction logits to the label size; a pixel
is predicted boundary when p(boundary) > 0.5, its direction is the argmax bin.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric

from ocseg.data.resize import upsample_to
from ocseg.segfix.training.targets import MAX_DISTANCE, boundary_target, direction_target

__all__ = ["SegFixMetrics"]

_COUNTS = ("tp", "fp", "fn", "tn", "dir_correct", "dir_total")


class SegFixMetrics(Metric):
    """Accumulates boundary-mask and direction counts from ``outputs["mask"]`` (N×2×h×w) and
    ``outputs["direction"]`` (N×8×h×w) against ``batch["label"]``, ``batch["distance"]`` and
    ``batch["angle"]``; summed across processes under DDP. ``primary`` is ``mask_f1``."""

    full_state_update = False
    primary = "mask_f1"

    def __init__(self, ignore_index: int = 255, max_distance: float = MAX_DISTANCE,
                 threshold: float = 0.5) -> None:
        super().__init__()
        self.ignore_index = int(ignore_index)
        self.max_distance = float(max_distance)
        self.threshold = float(threshold)
        for name in _COUNTS:
            self.add_state(name, default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, outputs: dict[str, torch.Tensor], batch: dict) -> None:
        label = batch["label"]
        size = tuple(label.shape[-2:])
        prob = upsample_to(torch.softmax(outputs["mask"].float(), dim=1), size)[:, 1]
        pred_dir = upsample_to(outputs["direction"].float(), size).argmax(1)
        gt = boundary_target(batch["distance"], label, self.ignore_index, self.max_distance)
        valid = label != self.ignore_index
        pred = prob > self.threshold
        is_gt = (gt == 1) & valid
        self.tp += (pred & is_gt).sum()
        self.fp += (pred & ~is_gt & valid).sum()
        self.fn += (~pred & is_gt).sum()
        self.tn += (~pred & ~is_gt & valid).sum()
        gt_dir = direction_target(batch["angle"], label, self.ignore_index)
        self.dir_correct += ((pred_dir == gt_dir) & is_gt).sum()
        self.dir_total += is_gt.sum()

    def compute(self) -> dict[str, torch.Tensor]:
        tp, fp, fn, tn = (getattr(self, k).double() for k in ("tp", "fp", "fn", "tn"))

        def ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
            return 100 * num / den if den > 0 else torch.tensor(float("nan"), dtype=torch.double)

        precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
        f1 = ratio(2 * tp, 2 * tp + fp + fn)
        return {
            "mask_f1": f1,
            "mask_precision": precision,
            "mask_recall": recall,
            "mask_accuracy": ratio(tp + tn, tp + fp + fn + tn),
            "direction_accuracy": ratio(self.dir_correct.double(), self.dir_total.double()),
        }
