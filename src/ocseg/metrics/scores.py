"""Segmentation scores: the one home of their numbers, their ``metrics.json`` form and their table.

A confusion matrix ``C[gt, pred]`` over non-ignored pixels gives every score. IoU of class c is
``TP / (TP + FP + FN)``; a class with no ground truth and no prediction has no IoU (NaN) and is
left out of the mean, as the Cityscapes evaluator does. All scores are in percent.
:class:`Scores` holds one set of them; :meth:`Scores.to_json` is the single rule for writing a
number (rounded to 4 decimals, NaN → ``null``). Pure numpy: refinement scores label files with
it without loading torch; the accumulators summed across processes are in
:mod:`ocseg.metrics.accumulators`, the rich table in :mod:`ocseg.metrics.table`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["DECIMALS", "Scores", "confusion_counts", "json_number", "metrics_from_logged",
           "present_classes_mean", "scores_from_confusion"]

DECIMALS = 4


def json_number(value: Any) -> float | None:
    """A score as ``metrics.json`` writes it: rounded to :data:`DECIMALS`, None for NaN / None."""
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else round(v, DECIMALS)


def confusion_counts(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                     ignore_index: int = 255) -> np.ndarray:
    """``C[gt, pred]`` (int64) of one label map, with one bincount. Pixels whose ground truth is
    ``ignore_index`` are not counted, nor those whose ids fall outside ``[0, num_classes)``."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in size")
    inside = (gt != ignore_index) & (gt >= 0) & (gt < num_classes) & (pred >= 0) & (pred < num_classes)
    index = gt[inside].astype(np.int64) * num_classes + pred[inside]
    return np.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def scores_from_confusion(confmat) -> dict[str, Any]:
    """``mIoU`` and ``pixel_accuracy`` (percent, float, NaN when undefined) and ``per_class_iou``
    (percent, float64 array, NaN for a class absent from ground truth and prediction)."""
    if hasattr(confmat, "detach"):  # a torch tensor, possibly on an accelerator
        confmat = confmat.detach().cpu().numpy()
    cm = np.asarray(confmat, dtype=np.float64)
    tp = np.diagonal(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    iou = np.full_like(tp, np.nan)
    np.divide(tp, union, out=iou, where=union > 0)
    present = ~np.isnan(iou)
    total = cm.sum()
    return {"mIoU": 100 * float(iou[present].mean()) if present.any() else math.nan,
            "pixel_accuracy": 100 * float(tp.sum() / total) if total > 0 else math.nan,
            "per_class_iou": 100 * iou}


@dataclass(frozen=True)
class Scores:
    """One set of segmentation scores, percent; NaN where undefined, None where not measured.

    ``per_class_*`` map class name (train-id order) → score. ``boundary_f`` is the mean over
    classes of ``per_class_boundary_f`` (:mod:`ocseg.metrics.boundary`): the original's number,
    in which a class absent from every image's ground truth and prediction scores 100.
    ``boundary_f_present`` (ocseg's) is the same mean over the classes that have an IoU only.
    ``num_images`` the images scored (None when not counted).
    """

    miou: float
    pixel_accuracy: float
    per_class_iou: dict[str, float]
    boundary_f: float | None = None
    per_class_boundary_f: dict[str, float] | None = None
    num_images: int | None = None
    boundary_f_present: float | None = None

    @classmethod
    def from_confusion(cls, confmat, class_names: Sequence[str],
                       per_class_boundary_f: Sequence[float] | None = None,
                       num_images: int | None = None) -> "Scores":
        """Scores of a summed confusion matrix (and per-class boundary F in percent, if measured)."""
        s = scores_from_confusion(confmat)
        names = [str(n) for n in class_names]
        if len(names) != len(s["per_class_iou"]):
            raise ValueError(f"{len(names)} class names for a {len(s['per_class_iou'])}-class "
                             "confusion matrix")
        boundary, present = None, None
        if per_class_boundary_f is not None:
            boundary = dict(zip(names, (float(v) for v in per_class_boundary_f)))
            present = present_classes_mean(per_class_boundary_f, s["per_class_iou"])
        return cls(miou=s["mIoU"], pixel_accuracy=s["pixel_accuracy"],
                   per_class_iou=dict(zip(names, (float(v) for v in s["per_class_iou"]))),
                   boundary_f=float(np.mean(list(boundary.values()))) if boundary else None,
                   per_class_boundary_f=boundary,
                   num_images=None if num_images is None else int(num_images),
                   boundary_f_present=present)

    # -- the names Lightning logs them under (``val/mIoU``, ``val/iou/<class>``) ---------------
    def logged(self) -> dict[str, float]:
        """``mIoU``, ``pixel_accuracy`` and ``iou/<class>``: the values a training run logs."""
        out = {"mIoU": self.miou, "pixel_accuracy": self.pixel_accuracy}
        out.update({f"iou/{name}": v for name, v in self.per_class_iou.items()})
        return out

    @classmethod
    def from_logged(cls, logged: Mapping[str, Any], class_names: Sequence[str]) -> "Scores":
        """The inverse of :meth:`logged` (keys without the stage prefix)."""
        return cls(miou=float(logged["mIoU"]), pixel_accuracy=float(logged["pixel_accuracy"]),
                   per_class_iou={str(n): float(logged[f"iou/{n}"]) for n in class_names})

    # -- metrics.json ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The scores block of ``metrics.json`` (docs/evaluation.md, "metrics.json")."""
        boundary = self.per_class_boundary_f
        return {
            "mIoU": json_number(self.miou),
            "pixel_accuracy": json_number(self.pixel_accuracy),
            "boundary_f": json_number(self.boundary_f),
            "boundary_f_present": json_number(self.boundary_f_present),
            "num_images": self.num_images,
            "per_class_iou": {n: json_number(v) for n, v in self.per_class_iou.items()},
            "per_class_boundary_f": (None if boundary is None
                                     else {n: json_number(v) for n, v in boundary.items()}),
        }

    @classmethod
    def from_json(cls, block: Mapping[str, Any]) -> "Scores":
        """Scores read back from a ``metrics.json`` scores block (``null`` → NaN)."""
        def num(v: Any) -> float:
            return math.nan if v is None else float(v)

        boundary = block.get("per_class_boundary_f")
        return cls(miou=num(block["mIoU"]), pixel_accuracy=num(block["pixel_accuracy"]),
                   per_class_iou={n: num(v) for n, v in block["per_class_iou"].items()},
                   boundary_f=None if boundary is None else num(block.get("boundary_f")),
                   per_class_boundary_f=None if boundary is None else {
                       n: num(v) for n, v in boundary.items()},
                   num_images=block.get("num_images"),
                   boundary_f_present=None if block.get("boundary_f_present") is None
                   else num(block["boundary_f_present"]))


def present_classes_mean(per_class_f: Sequence[float], per_class_iou: Sequence[float]) -> float:
    """ocseg's boundary F: the mean of ``per_class_f`` over the classes whose IoU is defined
    (present in the ground truth or the prediction); NaN when none is."""
    f, iou = np.asarray(per_class_f, np.float64), np.asarray(per_class_iou, np.float64)
    present = ~np.isnan(iou)
    return float(f[present].mean()) if present.any() else math.nan


def metrics_from_logged(logged: Mapping[str, Any], class_names: Sequence[str],
                        prefix: str = "val/") -> dict[str, Any]:
    """What a training run logged for one stage → its ``metrics.json`` scores: a segmentation
    metric's values (``mIoU``, ``iou/<class>``, …) as :meth:`Scores.to_json`, then every other
    top-level value (``loss``, ``mIoU_best``, a SegFix model's ``mask_f1`` …) by the same number
    rule."""
    values = {k[len(prefix):]: v for k, v in logged.items() if k.startswith(prefix)}
    out = Scores.from_logged(values, class_names).to_json() if "mIoU" in values else {}
    for key, value in values.items():
        if "/" not in key and key not in out:
            out[key] = json_number(value)
    return out
