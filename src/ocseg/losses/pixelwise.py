"""Building blocks shared by the losses: float32 logits at label size outside autocast, label
checks, class-weight tensors and a weighted cross-entropy that stays finite on empty batches."""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F

from ocseg.data.resize import upsample_to
from ocseg.errors import OcsegError

__all__ = ["full_precision", "logits_at", "check_labels", "class_weight_tensor",
           "check_class_weights", "weighted_cross_entropy", "safe_divide"]


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Disable autocast on ``device`` so loss maths runs in the dtypes we choose (float32/64).

    Losses are reductions over millions of pixels and (RMI) log-determinants; bf16/fp16 would
    lose the small per-pixel terms and the class-weight ratios.
    """
    with torch.autocast(device_type=device.type, enabled=False):
        yield


def logits_at(logits: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """``logits`` as float32, bilinearly upsampled (align_corners=True) to ``size``.

    The original's networks upsample their logits to the input size before the loss; ours
    return native-stride logits, so the loss does it. Upcasting first keeps the interpolation
    exact in float32 at the cost of a low-resolution copy only. Call under :func:`full_precision`.
    """
    return upsample_to(logits.float(), tuple(int(s) for s in size))


def check_labels(label: torch.Tensor, num_classes: int, ignore_index: int, what: str) -> None:
    """One clear error when a label map holds values that are neither a class nor ignore."""
    invalid = (label != ignore_index) & ((label < 0) | (label >= num_classes))
    if bool(invalid.any()):
        bad = torch.unique(label[invalid])[:8].tolist()
        raise OcsegError(
            f"{what}: label values {bad} are outside 0..{num_classes - 1} and not the ignore "
            f"index {ignore_index}; the model predicts {num_classes} classes — check "
            "dataset.num_classes and the dataset's label mapping"
        )


def class_weight_tensor(weights: Sequence[float] | None) -> torch.Tensor | None:
    """Per-class weights as a float32 tensor (None stays None)."""
    if weights is None:
        return None
    return torch.tensor([float(w) for w in weights], dtype=torch.float32)


def check_class_weights(weight: torch.Tensor | None, num_classes: int) -> None:
    if weight is not None and weight.numel() != num_classes:
        raise OcsegError(
            f"loss.class_weights has {weight.numel()} entries but the model predicts {num_classes} "
            "classes; set loss.class_weights=null or give one weight per class in the dataset "
            "config (dataset.class_weights)"
        )


def safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator``, or 0 (with a zero, finite gradient) where the denominator is 0.

    The original divides by zero (NaN loss) when a crop has no valid pixel of the kind a term
    supervises; one such batch would poison the weights, so those terms are 0 here instead.
    """
    ok = denominator > 0
    return torch.where(ok, numerator / torch.where(ok, denominator, torch.ones_like(denominator)),
                       numerator * 0)


def weighted_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                           weight: torch.Tensor | None, ignore_index: int) -> torch.Tensor:
    """``nn.CrossEntropyLoss(weight, ignore_index)`` with mean reduction:
    ``Σ w[y]·(−log p_y) / Σ w[y]`` over non-ignored pixels; 0 when that denominator is 0."""
    per_pixel = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index,
                                reduction="none")
    valid = target != ignore_index
    if weight is None:
        denominator = valid.sum().to(per_pixel.dtype)
    else:
        # a masked sum rather than boolean indexing: no device sync, no nonzero()
        denominator = (weight.to(per_pixel.dtype)[torch.where(valid, target, 0)] * valid).sum()
    return safe_divide(per_pixel.sum(), denominator)
