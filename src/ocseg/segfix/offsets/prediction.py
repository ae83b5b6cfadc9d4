"""From a SegFix network's outputs to per-pixel offsets: the original tester's ``test_offset``.

For one normalised image the network runs on sliding 512×512 windows (stride ``int(512 / 3)`` =
170, plus a last window flush with the far border: the original's ``sscrop`` mode, its default)
or on the whole image. Per window the mask logits go through a softmax, then the mask
probabilities and the *raw* direction logits are upsampled to the window (bilinear,
align_corners=True) and averaged over the windows covering each pixel. A pixel is a boundary
pixel when ``p(boundary) > 0.5``; its offset is the (dh, dw) of its argmax direction bin
(:data:`~ocseg.segfix.encoding.directions.DIRECTION_OFFSETS`), all other pixels get (0, 0).
"""

from __future__ import annotations

from typing import Sequence

import torch

from ocseg.inference.padding import crop_top_left, pad_bottom_right, padded_size
from ocseg.inference.sliding import sliding_window
from ocseg.inference.whole import Forward, whole_image
from ocseg.segfix.encoding.directions import DIRECTION_OFFSETS, NUM_DIRECTIONS

__all__ = ["ORIGINAL_CROP", "MODES", "original_stride", "offsets_from_outputs", "OffsetPredictor"]

ORIGINAL_CROP = 512
MODES = ("sliding", "whole")
_KEYS = ("mask", "direction")


def original_stride(crop: int) -> int:
    """The original's window step: a third of the crop, truncated (512 → 170)."""
    return int(int(crop) / 3)


def _mask_softmax(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits, dim=1)


_TRANSFORMS = {"mask": _mask_softmax}


def offsets_from_outputs(mask_prob: torch.Tensor, direction: torch.Tensor,
                         threshold: float = 0.5) -> torch.Tensor:
    """N×H×W×2 int8 offsets (dh, dw) from N×2×H×W mask probabilities and N×8×H×W direction
    scores: the argmax bin's move where ``mask_prob[:, 1] > threshold``, else (0, 0)."""
    if mask_prob.shape[1] != 2 or direction.shape[1] != NUM_DIRECTIONS:
        raise ValueError(f"expected 2 mask and {NUM_DIRECTIONS} direction channels, got "
                         f"{mask_prob.shape[1]} and {direction.shape[1]}")
    table = torch.tensor(DIRECTION_OFFSETS, dtype=torch.int8, device=direction.device)
    offsets = table[direction.argmax(dim=1)]
    boundary = (mask_prob[:, 1] > threshold).unsqueeze(-1)
    return offsets * boundary.to(torch.int8)


class OffsetPredictor:
    """Args:
        mode: ``"sliding"`` (the original's default, ``test.sscrop True``) or ``"whole"``
            (``segfix_simple_pred_*``: one pass over the image padded to ``pad_stride``).
        crop_size: sliding window (H, W), 512×512 as the original.
        stride: window step (H, W); None: ``int(crop / 3)`` per side (170).
        threshold: boundary probability above which a pixel moves (0.5).
        pad_stride: whole mode pads the image's bottom/right with zeros (after normalisation,
            as the original) to a multiple of this; the padding is cropped off the maps.
    """

    def __init__(self, mode: str = "sliding", crop_size: Sequence[int] | int = ORIGINAL_CROP,
                 stride: Sequence[int] | int | None = None, threshold: float = 0.5,
                 pad_stride: int | None = 32) -> None:
        if mode not in MODES:
            raise ValueError(f"offset prediction mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        crop = [int(v) for v in (crop_size if isinstance(crop_size, Sequence) else [crop_size] * 2)]
        if len(crop) != 2 or min(crop) <= 0:
            raise ValueError(f"crop_size must be a positive [H, W], got {crop_size!r}")
        self.crop_size = (crop[0], crop[1])
        if stride is None:
            step = [original_stride(c) for c in crop]
        else:
            step = [int(v) for v in (stride if isinstance(stride, Sequence) else [stride] * 2)]
        if len(step) != 2 or min(step) <= 0:
            raise ValueError(f"stride must be a positive [H, W], got {stride!r}")
        self.stride = (step[0], step[1])
        self.threshold = float(threshold)
        self.pad_stride = int(pad_stride) if pad_stride else None

    def maps(self, forward: Forward, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Averaged ``mask`` probabilities (N×2×H×W) and ``direction`` logits (N×8×H×W) of
        N×3×H×W normalised ``images``."""
        size = (int(images.shape[-2]), int(images.shape[-1]))
        if self.mode == "sliding":
            return sliding_window(images, forward, self.crop_size, self.stride, keys=_KEYS,
                                  transforms=_TRANSFORMS)
        padded = pad_bottom_right(images, padded_size(size, self.pad_stride))
        maps = whole_image(padded, forward, keys=_KEYS, transforms=_TRANSFORMS)
        return {key: crop_top_left(value, size) for key, value in maps.items()}

    def __call__(self, forward: Forward, images: torch.Tensor) -> torch.Tensor:
        """N×H×W×2 int8 offsets of N×3×H×W normalised ``images``."""
        maps = self.maps(forward, images)
        return offsets_from_outputs(maps["mask"], maps["direction"], self.threshold)

    def __repr__(self) -> str:
        if self.mode == "whole":
            return f"OffsetPredictor(mode='whole', pad_stride={self.pad_stride})"
        return (f"OffsetPredictor(mode='sliding', crop_size={list(self.crop_size)}, "
                f"stride={list(self.stride)})")
