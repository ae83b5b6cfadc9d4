"""Whole-image inference: one forward pass, outputs upsampled to the requested size.

``forward`` is any callable ``N×3×H×W → dict[str, Tensor]`` at the network's native stride
(a :class:`~ocseg.models.SegmentationNet`, or a wrapper). The kept outputs go through an optional
per-key transform (e.g. softmax of SegFix's mask) *before* the bilinear, align_corners=True
upsampling, the order of the original testers.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from ocseg.data.resize import upsample_to

__all__ = ["Forward", "Transforms", "select_outputs", "whole_image"]

Forward = Callable[[torch.Tensor], Mapping[str, torch.Tensor]]
Transforms = Mapping[str, Callable[[torch.Tensor], torch.Tensor]]


def select_outputs(outputs: Mapping[str, torch.Tensor], keys: Sequence[str] | None,
                   transforms: Transforms | None) -> dict[str, torch.Tensor]:
    """The ``keys`` of ``outputs`` (all when None) as float32, each through its transform."""
    wanted = list(outputs) if keys is None else list(keys)
    missing = [k for k in wanted if k not in outputs]
    if missing:
        raise KeyError(f"the network returned {sorted(outputs)}, not {missing}")
    selected = {}
    for key in wanted:
        value = outputs[key].float()
        if transforms and key in transforms:
            value = transforms[key](value)
        selected[key] = value
    return selected


def whole_image(x: torch.Tensor, forward: Forward, out_size: tuple[int, int] | None = None,
                keys: Sequence[str] | None = None,
                transforms: Transforms | None = None) -> dict[str, torch.Tensor]:
    """``forward(x)`` with each kept output upsampled to ``out_size`` (default: ``x``'s size)."""
    size = tuple(x.shape[-2:]) if out_size is None else tuple(out_size)
    outputs = select_outputs(forward(x), keys, transforms)
    return {key: upsample_to(value, size) for key, value in outputs.items()}
