"""SegFix refinement chained into evaluation (``eval.py segfix.offsets=<dir>``, the original's
built-in ``segfix`` mode): the :class:`~ocseg.evaluation.EvaluationModule` ``refine`` hook.

Every new prediction (train ids) is refined with the offset file of its image — the same exact
gather as ``refine.py`` (a per-pixel gather commutes with the train-id → label-id mapping, so the
written label files equal ``refine.py`` run on unrefined ones) — before it is written and scored.
With ground truth the hook also scores the *unrefined* predictions, summed across processes
like the main scores, so ``metrics.json`` shows both.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from ocseg.errors import OcsegError
from ocseg.evaluation.scores import LabelConfusion, metrics_from_confusion
from ocseg.segfix.offsets.store import OffsetStore, load_offsets
from ocseg.segfix.refinement.gather import SEMANTIC_SCALE, refine_labels

__all__ = ["ChainedRefinement"]

_MISSING = ("error", "copy")


class ChainedRefinement(nn.Module):
    """``(prediction H×W, item) → refined prediction`` with the offsets under ``offsets``.

    Args:
        offsets: folder or ``.zip`` of ``.mat`` / ``.npz`` offset files, found by the item's
            ``name`` (the image stem) as in ``refine.py``.
        scale: offset multiplier (2 for semantic labels, the original's).
        missing: a prediction without offsets: ``error``, or ``copy`` (kept unrefined).
        num_classes, ignore_index: score the unrefined predictions of items with a ``label``
            (None: no scores).
        boundary: optional boundary F-score metric for the unrefined predictions.
    """

    def __init__(self, offsets: str | Path, scale: int = SEMANTIC_SCALE, missing: str = "error",
                 num_classes: int | None = None, ignore_index: int = 255,
                 boundary: Any | None = None) -> None:
        super().__init__()
        if missing not in _MISSING:
            raise OcsegError(f"unknown segfix.missing={missing!r}; use one of {list(_MISSING)}")
        self.location = str(offsets)
        self.store = OffsetStore(offsets, mode="semantic")
        self.scale = int(scale)
        self.missing = missing
        self.confusion = LabelConfusion(num_classes, ignore_index) if num_classes else None
        self.boundary = boundary if num_classes else None

    def check_names(self, names: Sequence[str]) -> int:
        """Raise (``missing=error``) unless every name has offsets; returns how many lack them."""
        absent = [n for n in names if self.store.find(n) is None]
        if absent and self.missing == "error":
            listed = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
            raise OcsegError(f"no SegFix offsets in '{self.location}' for {len(absent)} of "
                             f"{len(names)} images: {listed}; predict them (python "
                             "predict_offsets.py ... output_dir=<that folder>) or set "
                             "segfix.missing=copy to keep those predictions unrefined")
        return len(absent)

    def reset(self) -> None:
        for metric in (self.confusion, self.boundary):
            if metric is not None:
                metric.reset()

    def forward(self, pred: torch.Tensor, item: dict) -> torch.Tensor:
        if self.confusion is not None and "label" in item:
            label = item["label"].to(pred.device)
            self.confusion.update(pred, label)
            if self.boundary is not None:
                self.boundary.update(pred[None], label[None])
        ref = self.store.find(str(item["name"]))
        if ref is None:
            if self.missing == "error":
                self.check_names([str(item["name"])])
            return pred
        refined = refine_labels(pred.cpu().numpy(), load_offsets(ref), self.scale,
                                source=str(item.get("image_path", item["name"])), in_place=True)
        return torch.from_numpy(refined).to(pred.device)

    def report(self, class_names: Sequence[str]) -> dict:
        """``{"segfix": {...}}`` for ``metrics.json``: the offsets used and, when scored, the
        unrefined predictions' ``mIoU``, ``pixel_accuracy``, ``boundary_f`` and per-class scores."""
        entry: dict[str, Any] = {"offsets": self.location, "scale": self.scale}
        if self.confusion is not None:
            summed = self.confusion.compute()
            if int(summed["images"]) > 0:
                unrefined = metrics_from_confusion(summed["confmat"], class_names)
                if self.boundary is not None:
                    scores = self.boundary.compute()
                    mean_f = float(scores["boundary_f"])
                    unrefined["boundary_f"] = None if math.isnan(mean_f) else round(mean_f, 4)
                unrefined["num_images"] = int(summed["images"])
                entry["unrefined"] = unrefined
        return {"segfix": entry}
