"""Cross-entropy on the main and auxiliary outputs (the original's ``FSAuxCELoss``)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ocseg.losses.base import SegLoss
from ocseg.resize import upsample_to

__all__ = ["CrossEntropy"]


class CrossEntropy(SegLoss):
    """``seg_weight·CE(out) + aux_weight·CE(aux)``, logits upsampled to the label size.

    Args:
        class_weights: optional per-class weights (weighted mean, as ``nn.CrossEntropyLoss``).
        ignore_index: label value excluded from the loss.
    """

    def __init__(self, seg_weight: float = 1.0, aux_weight: float = 0.4,
                 class_weights: Sequence[float] | None = None, ignore_index: int = 255) -> None:
        super().__init__()
        self.seg_weight = float(seg_weight)
        self.aux_weight = float(aux_weight)
        self.ignore_index = int(ignore_index)
        weight = None if class_weights is None else torch.tensor(list(class_weights), dtype=torch.float32)
        self.register_buffer("class_weights", weight, persistent=False)

    def _ce(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = upsample_to(logits, tuple(target.shape[-2:]))
        weight = None if self.class_weights is None else self.class_weights.to(logits.dtype)
        return F.cross_entropy(logits, target.long(), weight=weight, ignore_index=self.ignore_index)

    def terms(self, outputs, target):
        terms = {"seg": self.seg_weight * self._ce(outputs["out"], target)}
        if self.aux_weight and "aux" in outputs:
            terms["aux"] = self.aux_weight * self._ce(outputs["aux"], target)
        return terms
