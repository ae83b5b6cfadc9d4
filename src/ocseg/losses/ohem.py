"""Online hard example mining cross-entropy (the original's ``fs_auxohemce_loss``)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ocseg.losses.main_aux import MainAuxLoss
from ocseg.losses.pixelwise import safe_divide

__all__ = ["OhemCrossEntropy", "ohem_keep_mask", "ohem_cross_entropy"]


def ohem_keep_mask(logits: torch.Tensor, label: torch.Tensor, thresh: float, min_kept: int,
                   ignore_index: int) -> torch.Tensor:
    """Boolean N×H×W mask of the pixels OHEM trains on, over the whole batch.

    ``p`` = softmax probability of the ground-truth class at each valid pixel; with ``s`` the
    valid ``p`` sorted ascending, the threshold is ``max(s[min(min_kept, n − 1)], thresh)`` and a
    pixel is kept when ``p < threshold`` (strict), exactly as the original.
    """
    with torch.no_grad():
        valid = label != ignore_index
        prob = torch.softmax(logits, dim=1).gather(1, torch.where(valid, label, 0).unsqueeze(1))
        prob = prob.squeeze(1)
        valid_prob = prob[valid]
        if valid_prob.numel() == 0:
            return valid
        # the k-th smallest without a full sort (0-based index k → kthvalue's 1-based k+1)
        k = min(int(min_kept), valid_prob.numel() - 1)
        kth = torch.kthvalue(valid_prob, k + 1).values
        threshold = torch.clamp(kth, min=float(thresh))
        return valid & (prob < threshold)


def ohem_cross_entropy(logits: torch.Tensor, label: torch.Tensor, thresh: float, min_kept: int,
                       class_weights: torch.Tensor | None, ignore_index: int) -> torch.Tensor:
    """Plain mean over the kept pixels of the class-weighted per-pixel CE ``w[y]·(−log p_y)``
    (the original divides by the kept count, not by the sum of weights); 0 if none is kept."""
    keep = ohem_keep_mask(logits, label, thresh, min_kept, ignore_index)
    per_pixel = F.cross_entropy(logits, torch.where(keep, label, ignore_index), weight=class_weights,
                                ignore_index=ignore_index, reduction="none")
    return safe_divide(per_pixel.sum(), keep.sum().to(per_pixel.dtype))


class OhemCrossEntropy(MainAuxLoss):
    """``seg_weight·OHEM-CE(out) + aux_weight·CE(aux)``.

    Terms: ``seg``, ``aux``.

    Args:
        ohem_thresh: probability below which pixels are always kept (original HRNet configs 0.9,
            most ResNet configs 0.7).
        min_kept: at least this many hardest pixels are kept per chunk of ``images_per_chunk``
            images, or per local batch when that is None (original 100000 per GPU; values below
            1 count as 1, as the original's ``max(1, ohem_minkeep)``).
        seg_weight: as :class:`~ocseg.losses.main_aux.MainAuxLoss`.
        aux_weight: as :class:`~ocseg.losses.main_aux.MainAuxLoss`.
        class_weights: as :class:`~ocseg.losses.main_aux.MainAuxLoss`.
        ignore_index: as :class:`~ocseg.losses.main_aux.MainAuxLoss`.
        images_per_chunk: as :class:`~ocseg.losses.main_aux.MainAuxLoss`.
    """

    def __init__(self, ohem_thresh: float = 0.9, min_kept: int = 100000, seg_weight: float = 1.0,
                 aux_weight: float = 0.4, class_weights: Sequence[float] | None = None,
                 ignore_index: int = 255, images_per_chunk: int | None = None) -> None:
        super().__init__(seg_weight, aux_weight, class_weights, ignore_index, images_per_chunk)
        self.ohem_thresh = float(ohem_thresh)
        self.min_kept = max(1, int(min_kept))

    def main_terms(self, logits: torch.Tensor, label: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = ohem_cross_entropy(logits, label, self.ohem_thresh, self.min_kept,
                                  self.class_weights, self.ignore_index)
        return {"seg": self.seg_weight * loss}
