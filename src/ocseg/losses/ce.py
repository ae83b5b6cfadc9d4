"""Cross-entropy on the main and auxiliary outputs (the original's ``fs_auxce_loss``)."""

from __future__ import annotations

import torch

from ocseg.losses.main_aux import MainAuxLoss

__all__ = ["CrossEntropy"]


class CrossEntropy(MainAuxLoss):
    """``seg_weight·CE(out) + aux_weight·CE(aux)``; CE is ``nn.CrossEntropyLoss(weight,
    ignore_index)`` (weighted mean) on logits upsampled to the label size.

    Terms: ``seg``, ``aux``. Arguments as :class:`~ocseg.losses.main_aux.MainAuxLoss`.
    """

    def main_terms(self, logits: torch.Tensor, label: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"seg": self.seg_weight * self.cross_entropy(logits, label)}
