"""Training and evaluation augmentation pipelines (albumentations), built from config.

The training pipeline follows the original's order: random resize (scale range), pad with the
ignore label to at least the crop size, random crop, horizontal flip. Labels are always resized
with nearest neighbour so ids are never blended.
"""

from __future__ import annotations

from typing import Sequence

import albumentations as A
import cv2

__all__ = ["train_transform", "eval_transform"]


def train_transform(
    crop_size: Sequence[int],
    scale_range: Sequence[float] = (0.5, 2.0),
    flip: bool = True,
    ignore_index: int = 255,
    image_fill: Sequence[float] | float = 0,
    seed: int | None = None,
) -> A.Compose:
    """Random scale in ``scale_range`` → pad to ``crop_size`` (H, W) → random crop → h-flip."""
    crop_h, crop_w = int(crop_size[0]), int(crop_size[1])
    lo, hi = float(scale_range[0]), float(scale_range[1])
    steps: list[A.BasicTransform] = []
    if (lo, hi) != (1.0, 1.0):
        steps.append(A.RandomScale(scale_limit=(lo - 1.0, hi - 1.0), interpolation=cv2.INTER_LINEAR,
                                   mask_interpolation=cv2.INTER_NEAREST, p=1.0))
    steps += [
        A.PadIfNeeded(min_height=crop_h, min_width=crop_w, position="top_left",
                      border_mode=cv2.BORDER_CONSTANT, fill=image_fill, fill_mask=ignore_index),
        A.RandomCrop(height=crop_h, width=crop_w),
    ]
    if flip:
        steps.append(A.HorizontalFlip(p=0.5))
    return A.Compose(steps, seed=seed)


def eval_transform(size: Sequence[int] | None = None) -> A.Compose | None:
    """No augmentation; optionally resize to ``size`` (H, W) for quick validation during training."""
    if size is None:
        return None
    return A.Compose([A.Resize(height=int(size[0]), width=int(size[1]),
                               interpolation=cv2.INTER_LINEAR, mask_interpolation=cv2.INTER_NEAREST)])
