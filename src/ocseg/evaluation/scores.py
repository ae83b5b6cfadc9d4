"""Scoring predicted label maps: a DDP-summed confusion matrix and the ``metrics.json`` layout."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torchmetrics import Metric

from ocseg.metrics.confusion import confusion_matrix, scores_from_confusion

__all__ = ["LabelConfusion", "metrics_from_confusion"]


class LabelConfusion(Metric):
    """``C[gt, pred]`` over non-ignored pixels of predicted train-id maps; summed across processes."""

    full_state_update = False

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        super().__init__()
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.add_state("confmat", default=torch.zeros(self.num_classes, self.num_classes,
                                                      dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("images", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, label: torch.Tensor) -> None:
        if pred.shape[-2:] != label.shape[-2:]:
            raise ValueError(f"prediction {tuple(pred.shape)} and label {tuple(label.shape)} differ in size")
        self.confmat += confusion_matrix(pred, label, self.num_classes, self.ignore_index)
        self.images += 1 if pred.dim() == 2 else pred.shape[0]

    def compute(self) -> dict[str, torch.Tensor]:
        """The (process-summed) matrix and the number of images it covers."""
        return {"confmat": self.confmat.clone(), "images": self.images.clone()}


def _percent(value) -> float | None:
    v = float(value)
    return None if math.isnan(v) else round(v, 4)


def metrics_from_confusion(confmat: torch.Tensor, class_names: Sequence[str]) -> dict:
    """``mIoU``, ``per_class_iou`` (class name → percent, None if absent), ``pixel_accuracy``."""
    scores = scores_from_confusion(confmat.cpu())
    return {
        "mIoU": _percent(scores["mIoU"]),
        "per_class_iou": {name: _percent(v) for name, v in zip(class_names, scores["per_class_iou"])},
        "pixel_accuracy": _percent(scores["pixel_accuracy"]),
    }
