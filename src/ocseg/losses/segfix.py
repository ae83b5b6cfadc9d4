"""The SegFix training loss: boundary-mask CE plus direction CE on predicted boundary pixels,
both with per-batch ``1 − frequency`` class weights (the original's ``segfix_loss``)."""

from __future__ import annotations

import torch

from ocseg.errors import OcsegError
from ocseg.losses.base import SegLoss
from ocseg.losses.pixelwise import full_precision, logits_at, weighted_cross_entropy
from ocseg.segfix.encoding.directions import NUM_DIRECTIONS
from ocseg.segfix.training.targets import MAX_DISTANCE, boundary_target, direction_target

__all__ = ["SegFixLoss", "inverse_frequency_weights"]


def inverse_frequency_weights(target: torch.Tensor, num_classes: int, ignore_index: int) -> torch.Tensor:
    """float32 ``1 − count_c / Σ count`` over the non-ignored pixels of ``target`` (all ones if none)."""
    # ignored pixels are counted in an extra bin that is dropped (no boolean indexing, no sync)
    binned = torch.where(target == ignore_index, num_classes, target).flatten()
    counts = torch.bincount(binned, minlength=num_classes + 1)[:num_classes].float()
    return 1.0 - counts / counts.sum().clamp_min(1.0)


class SegFixLoss(SegLoss):
    """``mask_weight·CE(mask) + direction_weight·CE(direction)``.

    ``outputs`` = ``{"mask": N×2×h×w, "direction": N×8×h×w}`` (feature resolution); ``target`` =
    ``{"label", "distance", "angle"}`` N×H×W. Both logit maps are upsampled to the target size
    (bilinear, align_corners=True) as the original does. Mask target: boundary where
    ``distance ≤ max_distance``. Direction target: the 8-bin direction of the angle, supervised
    only where the *predicted* boundary probability exceeds ``mask_threshold``. Each CE uses class
    weights ``1 − frequency`` of its own target in the batch. Terms: ``mask``, ``direction``.

    Args:
        mask_weight: weight of the mask term (original environment variable, default 1).
        direction_weight: weight of the direction term (original environment variable, default 1).
        mask_threshold: boundary probability above which the direction is supervised (0.5).
        max_distance: largest distance to the boundary counted as boundary (original
            ``dt_max_distance`` 5).
        ignore_index: label value excluded from both terms.
    """

    target_keys = ("label", "distance", "angle")

    def __init__(self, mask_weight: float = 1.0, direction_weight: float = 1.0,
                 mask_threshold: float = 0.5, max_distance: float = MAX_DISTANCE,
                 ignore_index: int = 255) -> None:
        super().__init__()
        self.mask_weight = float(mask_weight)
        self.direction_weight = float(direction_weight)
        self.mask_threshold = float(mask_threshold)
        self.max_distance = float(max_distance)
        self.ignore_index = int(ignore_index)

    def terms(self, outputs: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if "mask" not in outputs or "direction" not in outputs:
            raise OcsegError(
                f"loss=segfix needs a SegFix model (outputs 'mask' and 'direction') but got outputs "
                f"{sorted(outputs)}; use model=segfix_hrnet2x20 or model=segfix_hrnet48, or another loss"
            )
        label = target["label"].long()
        size = label.shape[-2:]
        with full_precision(label.device):
            mask_logits = logits_at(outputs["mask"], size)
            direction_logits = logits_at(outputs["direction"], size)
            if mask_logits.shape[1] != 2 or direction_logits.shape[1] != NUM_DIRECTIONS:
                raise OcsegError(
                    f"loss=segfix expects 2 mask and {NUM_DIRECTIONS} direction channels, got "
                    f"{mask_logits.shape[1]} and {direction_logits.shape[1]}"
                )
            gt_mask = boundary_target(target["distance"], label, self.ignore_index, self.max_distance)
            mask_loss = weighted_cross_entropy(
                mask_logits, gt_mask, inverse_frequency_weights(gt_mask, 2, self.ignore_index),
                self.ignore_index)
            with torch.no_grad():
                predicted_boundary = torch.softmax(mask_logits, dim=1)[:, 1] > self.mask_threshold
            gt_direction = direction_target(target["angle"], label, self.ignore_index,
                                            supervised=predicted_boundary)
            direction_loss = weighted_cross_entropy(
                direction_logits, gt_direction,
                inverse_frequency_weights(gt_direction, NUM_DIRECTIONS, self.ignore_index),
                self.ignore_index)
        return {"mask": self.mask_weight * mask_loss,
                "direction": self.direction_weight * direction_loss}
