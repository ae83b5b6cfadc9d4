"""The score accumulators of training and evaluation: torchmetrics states summed across processes.

:class:`LabelConfusion` is torchmetrics' ``MulticlassConfusionMatrix`` (its ``confmat`` state,
DDP sum and ``plot``) fed by one vectorised bincount: torchmetrics' own update validates with
``torch.unique`` and, under ``torch.use_deterministic_algorithms`` (``trainer.deterministic``),
counts through a pixels × classes² tensor (gigabytes for one Cityscapes image), and it does not
drop out-of-range ids. :class:`SegmentationMetrics` is the training task's validation metric;
:class:`BoundaryFScore` accumulates :func:`~ocseg.metrics.boundary.boundary_f_score`. The numbers
themselves come from :mod:`ocseg.metrics.scores`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.classification import MulticlassConfusionMatrix

from ocseg.data.resize import upsample_to
from ocseg.metrics.boundary import DEFAULT_BOUND_TH, boundary_f_score
from ocseg.metrics.scores import Scores

__all__ = ["BoundaryFScore", "LabelConfusion", "SegmentationMetrics", "confusion_matrix"]


def confusion_matrix(pred: torch.Tensor, label: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> torch.Tensor:
    """``C[gt, pred]`` counts (int64) over non-ignored pixels with in-range ids; one bincount."""
    valid = label != ignore_index
    gt = label[valid].long()
    pr = pred[valid].long()
    inside = (gt >= 0) & (gt < num_classes) & (pr >= 0) & (pr < num_classes)
    index = gt[inside] * num_classes + pr[inside]
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _class_names(names: Sequence[str] | None, num_classes: int) -> list[str]:
    out = [str(n) for n in names] if names is not None else [str(i) for i in range(num_classes)]
    if len(out) != num_classes:
        raise ValueError(f"{len(out)} class names for {num_classes} classes")
    return out


class LabelConfusion(MulticlassConfusionMatrix):
    """``C[gt, pred]`` of predicted train-id maps (H×W or N×H×W) and the number of images.

    ``compute()`` gives ``{"confmat", "images"}``, summed across processes.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 class_names: Sequence[str] | None = None) -> None:
        super().__init__(int(num_classes), ignore_index=int(ignore_index), validate_args=False)
        self.class_names = _class_names(class_names, self.num_classes)
        self.add_state("images", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, label: torch.Tensor) -> None:
        if pred.shape[-2:] != label.shape[-2:]:
            raise ValueError(f"prediction {tuple(pred.shape)} and label {tuple(label.shape)} differ in size")
        self.confmat += confusion_matrix(pred, label, self.num_classes, self.ignore_index)
        self.images += 1 if pred.dim() == 2 else pred.shape[0]

    def compute(self) -> dict[str, torch.Tensor]:
        return {"confmat": super().compute().clone(), "images": self.images.clone()}


class SegmentationMetrics(LabelConfusion):
    """The segmentation task's validation metric: a confusion matrix of ``outputs["out"]``
    logits against ``batch["label"]``; ``compute()`` gives ``mIoU``, ``pixel_accuracy`` and
    ``iou/<class>`` (percent, the names :meth:`Scores.logged` defines).

    Logits are upsampled to the label size (bilinear, align_corners=True) before the argmax.
    """

    primary = "mIoU"

    def update(self, outputs: dict[str, torch.Tensor], batch: dict) -> None:  # type: ignore[override]
        label = batch["label"]
        pred = upsample_to(outputs["out"].float(), tuple(label.shape[-2:])).argmax(1)
        super().update(pred, label)

    def compute(self) -> dict[str, torch.Tensor]:  # type: ignore[override]
        summed = super().compute()
        scores = Scores.from_confusion(summed["confmat"], self.class_names)
        return {k: torch.tensor(v, dtype=torch.float64) for k, v in scores.logged().items()}


class BoundaryFScore(Metric):
    """Accumulates :func:`boundary_f_score` over images; ``compute`` gives ``boundary_f`` (the
    mean over classes of the per-class mean over images, percent) and ``boundary_f/<class>``."""

    full_state_update = False

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 bound_th: float = DEFAULT_BOUND_TH, class_names=None) -> None:
        super().__init__()
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.bound_th = float(bound_th)
        self.class_names = _class_names(class_names or None, self.num_classes)
        self.add_state("f_sum", default=torch.zeros(self.num_classes, dtype=torch.float64),
                       dist_reduce_fx="sum")
        self.add_state("images", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor | np.ndarray, gt: torch.Tensor | np.ndarray) -> None:
        """``pred`` and ``gt``: H×W or N×H×W class ids (gt may hold ``ignore_index``)."""
        pred_np = pred.detach().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
        gt_np = gt.detach().cpu().numpy() if isinstance(gt, torch.Tensor) else np.asarray(gt)
        if gt_np.ndim == 2:
            pred_np, gt_np = pred_np[None], gt_np[None]
        for p, g in zip(pred_np, gt_np):
            scores = boundary_f_score(p, g, self.num_classes, self.ignore_index, self.bound_th)
            self.f_sum += torch.from_numpy(scores).to(self.f_sum)
            self.images += 1

    def compute(self) -> dict[str, torch.Tensor]:
        if int(self.images) == 0:
            return {"boundary_f": torch.tensor(float("nan"), dtype=torch.float64)}
        per_class = 100 * self.f_sum / self.images
        out = {"boundary_f": per_class.mean()}
        out.update({f"boundary_f/{name}": v for name, v in zip(self.class_names, per_class)})
        return out

    def per_class(self) -> list[float] | None:
        """Per-class boundary F in percent (train-id order), None before any image."""
        out = self.compute()
        if len(out) == 1:
            return None
        return [float(out[f"boundary_f/{name}"]) for name in self.class_names]
