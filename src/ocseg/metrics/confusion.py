"""Confusion-matrix segmentation metrics (mIoU, per-class IoU, pixel accuracy).

IoU of class c is ``TP / (TP + FP + FN)`` over pixels whose ground truth is not ignored; a class
with no ground truth and no prediction has no IoU (NaN) and is left out of the mean, as the
Cityscapes evaluator does. All figures are in percent.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torchmetrics import Metric

from ocseg.resize import upsample_to

__all__ = ["confusion_matrix", "scores_from_confusion", "SegmentationMetrics"]


def confusion_matrix(pred: torch.Tensor, label: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> torch.Tensor:
    """``C[gt, pred]`` counts (int64) over non-ignored pixels; vectorised with one bincount."""
    valid = label != ignore_index
    gt = label[valid].long()
    pr = pred[valid].long()
    inside = (gt >= 0) & (gt < num_classes) & (pr >= 0) & (pr < num_classes)
    index = gt[inside] * num_classes + pr[inside]
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def scores_from_confusion(confmat: torch.Tensor) -> dict[str, torch.Tensor]:
    """``mIoU``, ``pixel_accuracy`` (percent, 0-d) and ``per_class_iou`` (percent, NaN if absent)."""
    cm = confmat.double()
    tp = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - tp
    iou = torch.where(union > 0, tp / union.clamp(min=1), torch.full_like(tp, float("nan")))
    total = cm.sum()
    present = ~torch.isnan(iou)
    miou = iou[present].mean() if present.any() else torch.tensor(float("nan"), dtype=cm.dtype)
    acc = tp.sum() / total if total > 0 else torch.tensor(float("nan"), dtype=cm.dtype)
    return {"mIoU": 100 * miou, "pixel_accuracy": 100 * acc, "per_class_iou": 100 * iou}


class SegmentationMetrics(Metric):
    """Accumulates a confusion matrix from ``outputs["out"]`` logits and ``batch["label"]``.

    Logits are upsampled to the label size (bilinear, align_corners=True) before the argmax.
    The matrix is summed across processes under DDP.
    """

    full_state_update = False
    primary = "mIoU"

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 class_names: Sequence[str] | None = None) -> None:
        super().__init__()
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.class_names = list(class_names) if class_names is not None else [
            str(i) for i in range(self.num_classes)]
        if len(self.class_names) != self.num_classes:
            raise ValueError(f"{len(self.class_names)} class names for {self.num_classes} classes")
        self.add_state("confmat", default=torch.zeros(self.num_classes, self.num_classes,
                                                      dtype=torch.long), dist_reduce_fx="sum")

    def update(self, outputs: dict[str, torch.Tensor], batch: dict) -> None:
        label = batch["label"]
        pred = upsample_to(outputs["out"].float(), tuple(label.shape[-2:])).argmax(1)
        self.confmat += confusion_matrix(pred, label, self.num_classes, self.ignore_index)

    def compute(self) -> dict[str, torch.Tensor]:
        scores = scores_from_confusion(self.confmat)
        out = {"mIoU": scores["mIoU"], "pixel_accuracy": scores["pixel_accuracy"]}
        for name, value in zip(self.class_names, scores["per_class_iou"]):
            out[f"iou/{name}"] = value
        return out
