"""Sliding-window inference: outputs of overlapping crops averaged over how often each pixel
was covered.

Each window's outputs are transformed per key (optional), upsampled to the window's size
(bilinear, align_corners=True), summed into full-size maps and divided by the coverage count;
the averaged maps are then resized to ``out_size``. This is the original's crop testing for
segmentation logits (``stride = crop``) and for SegFix (softmaxed mask and raw direction
logits, crop 512, stride 170) alike.
"""

from __future__ import annotations

from typing import Sequence

import torch

from ocseg.data.resize import upsample_to
from ocseg.inference.whole import Forward, Transforms, select_outputs
from ocseg.inference.windows import window_boxes

__all__ = ["sliding_window"]


def sliding_window(x: torch.Tensor, forward: Forward, crop_size: Sequence[int],
                   stride: Sequence[int], out_size: tuple[int, int] | None = None,
                   keys: Sequence[str] | None = None,
                   transforms: Transforms | None = None) -> dict[str, torch.Tensor]:
    """Average of ``forward`` over the windows of :func:`~ocseg.inference.windows.window_boxes`.

    Args:
        x: N×C×H×W input.
        forward: ``crop → dict`` of N×K×h×w outputs at the network's stride.
        crop_size, stride: window size and step (H, W).
        out_size: size of the returned maps (default: ``x``'s H×W).
        keys: outputs to keep (default: all the network returns).
        transforms: per-key callables applied to a window's raw output before upsampling.
    """
    n, _, height, width = x.shape
    sums: dict[str, torch.Tensor] = {}
    count = torch.zeros((1, 1, height, width), dtype=torch.float32, device=x.device)
    for top, left, bottom, right in window_boxes(height, width, crop_size, stride):
        outputs = select_outputs(forward(x[..., top:bottom, left:right]), keys, transforms)
        for key, value in outputs.items():
            value = upsample_to(value, (bottom - top, right - left))
            if key not in sums:
                sums[key] = value.new_zeros((n, value.shape[1], height, width))
            sums[key][..., top:bottom, left:right] += value
        count[..., top:bottom, left:right] += 1
    size = (height, width) if out_size is None else tuple(out_size)
    return {key: upsample_to(total / count, size) for key, total in sums.items()}
