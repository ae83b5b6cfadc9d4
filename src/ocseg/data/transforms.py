"""Augmentation pipelines (albumentations ``Compose``) built from config.

A dataset config lists its steps in the original's order (``conf/dataset/<name>.yaml``:
``train_transform.steps``), each a transform of :mod:`ocseg.data.augment`; :func:`pipeline`
composes them with one shared random stream. :func:`train_transform` builds the common
Cityscapes-style recipe from a few numbers, for configs that do not list steps.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

import albumentations as A
import numpy as np

from ocseg.data.augment import (
    BrightnessShift,
    HorizontalFlipSwap,
    PadToSize,
    RandomCropUpTo,
    RandomScaleAspect,
    fuse_resize_crop,
)

__all__ = ["pipeline", "reseed", "train_transform"]


def reseed(transform: A.Compose, seed: int | None) -> None:
    """Give every step of ``transform`` one shared stream seeded with ``seed``.

    ``A.Compose(seed=s)`` seeds each step with its own copy of ``s``, so all steps would draw the
    same numbers (a flip decided by the same value as the scale); one shared stream, like the
    original's single ``random`` module, keeps the steps independent.
    """
    transform.set_random_state(np.random.default_rng(seed), random.Random(seed))
    transform.seed = seed


def pipeline(steps: Sequence[A.BasicTransform], seed: int | None = None) -> A.Compose | None:
    """The steps applied in order to ``image=`` (BGR uint8) and ``mask=`` (train ids);
    None when there are no steps. ``seed`` makes it repeatable (None: fresh entropy). A resize
    directly followed by a crop runs as one :class:`~ocseg.data.augment.ResizeThenCrop` (same
    draws, same values, only the cropped label pixels computed)."""
    steps = [s for s in steps if s is not None]
    if not steps:
        return None
    transform = A.Compose(fuse_resize_crop(steps), seed=seed)
    reseed(transform, seed)
    return transform


def train_transform(
    crop_size: Sequence[int],
    scale_range: Sequence[float] | None = (0.5, 2.0),
    flip: bool = True,
    ignore_index: int = 255,
    image_fill: Sequence[float] | float | None = None,
    seed: int | None = None,
    aspect_range: Sequence[float] = (1.0, 1.0),
    brightness_shift: int = 0,
    swap_pairs: Sequence[Sequence[int]] = (),
    normalize: Any | None = None,
    pad_position: str = "random",
) -> A.Compose:
    """Random resize (``scale_range``, ``aspect_range``) → random crop of at most ``crop_size``
    (H, W) → h-flip (swapping ``swap_pairs``) → brightness shift → pad to ``crop_size`` with
    ``image_fill`` (default: the value ``normalize`` maps to 0, else 0) and ``ignore_index``."""
    crop_h, crop_w = int(crop_size[0]), int(crop_size[1])
    steps: list[A.BasicTransform] = []
    if scale_range is not None and (tuple(scale_range) != (1.0, 1.0) or tuple(aspect_range) != (1.0, 1.0)):
        steps.append(RandomScaleAspect(scale_range, aspect_range))
    steps.append(RandomCropUpTo(crop_h, crop_w))
    if flip:
        steps.append(HorizontalFlipSwap(swap_pairs, p=0.5))
    if brightness_shift:
        steps.append(BrightnessShift(brightness_shift))
    steps.append(PadToSize(crop_h, crop_w, position=pad_position, fill=image_fill,
                           fill_mask=ignore_index, normalize=normalize))
    return pipeline(steps, seed=seed)

