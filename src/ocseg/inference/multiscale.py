"""Multi-scale and flip test-time augmentation: per-view logits summed at the input size.

The order of operations is the original tester's ``ms_test``: for each scale the input (and,
with flip, its mirror image) is resized by ``int(H·s) × int(W·s)`` (bilinear,
align_corners=True), predicted, brought back to the input size, the mirrored view's logits are
flipped back (after swapping left/right classes) and added; the scales' raw logits (not
probabilities) are summed, optionally weighted.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from ocseg.errors import OcsegError
from ocseg.inference.flip import hflip, unflip_logits

__all__ = ["ViewPredictor", "scaled_size", "rescale", "multi_scale"]

# (scaled view N×3×h×w, output size (H, W), scale) -> logits N×C×H×W
ViewPredictor = Callable[[torch.Tensor, tuple[int, int], float], torch.Tensor]


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """``(int(H·s), int(W·s))`` — truncation, as the original."""
    return int(size[0] * scale), int(size[1] * scale)


def rescale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` resized by ``scale`` (bilinear, align_corners=True); unchanged at its own size."""
    size = scaled_size(tuple(x.shape[-2:]), scale)
    if size == tuple(x.shape[-2:]):
        return x
    if min(size) < 1:  # a scale chosen on the command line, too small for this image
        raise OcsegError(f"test scale {scale} shrinks a {tuple(x.shape[-2:])} input to nothing; use "
                         "larger test.scales= (the original's: 0.5 to 2.0)")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


def multi_scale(x: torch.Tensor, predict_view: ViewPredictor, scales: Sequence[float] = (1.0,),
                flip: bool = False, swap_pairs: Sequence[Sequence[int]] = (),
                weights: Sequence[float] | None = None) -> torch.Tensor:
    """Sum over ``scales`` (× the mirror image when ``flip``) of the views' logits at ``x``'s size."""
    if not scales:
        raise ValueError("at least one test scale is needed")
    if weights is not None and len(weights) != len(scales):
        raise ValueError(f"{len(weights)} scale weights for {len(scales)} scales")
    size = (int(x.shape[-2]), int(x.shape[-1]))
    mirrored = hflip(x) if flip else None
    total: torch.Tensor | None = None
    for index, scale in enumerate(scales):
        logits = predict_view(rescale(x, scale), size, float(scale))
        if mirrored is not None:
            logits = logits + unflip_logits(predict_view(rescale(mirrored, scale), size, float(scale)),
                                            swap_pairs)
        if weights is not None:
            logits = float(weights[index]) * logits
        total = logits if total is None else total + logits
    return total
