"""SegFix's per-pixel ground truth carried through the augmentation next to the label.

The original computed the distance and direction maps once per image from the full-resolution
label (the offline ``.mat`` files of ``lib/datasets/preprocess/cityscapes/dt_offset_generator.py``)
and its loader moved them with the image and the label through every augmentation step
(``lib/datasets/loader/offset_loader.py`` lines 82-93, both branches). :class:`BoundaryMaps` is
that pair, given to a pipeline of :mod:`ocseg.data.augment` as the extra target
``boundary_maps=``; each step treats it as the original's step treated ``distance_map`` and
``angle_map`` (``lib/datasets/tools/cv2_aug_transforms.py``, master): a resize takes the nearest
pixel (lines 384-388), a crop cuts the same window (559-563), a horizontal flip mirrors both and
turns the angles (173-180), and the final padding fills distance 255 and angle 0 (the collate,
``lib/datasets/tools/collate.py`` lines 150-154). Distances are never rescaled: like the
original's, they stay in full-resolution pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["BoundaryMaps", "PAD_DISTANCE", "PAD_ANGLE"]

#: padding values of the original's collate (far from any boundary; direction 0)
PAD_DISTANCE = 255.0
PAD_ANGLE = 0.0


@dataclass(frozen=True)
class BoundaryMaps:
    """``distance`` to the segment border (pixels) and direction ``angle`` (degrees in
    [-180, 180], rows pointing down), both H×W float32."""

    distance: np.ndarray
    angle: np.ndarray

    def map(self, fn: Callable[[np.ndarray], np.ndarray]) -> "BoundaryMaps":
        """Both maps through the same pixel move (a nearest resize, a crop)."""
        return BoundaryMaps(fn(self.distance), fn(self.angle))

    def mirrored(self) -> "BoundaryMaps":
        """Mirrored left-right, as the original's ``RandomHFlip``: an angle in (0, 180) becomes
        ``180 − a``, one in (−180, 0) becomes ``−(180 + a)``; 0 and ±180 stay as they are (the
        original's rule, although a mirror would turn them into each other)."""
        angle = self.angle
        turned = np.where((angle > 0) & (angle < 180), 180 - angle,
                          np.where((angle < 0) & (angle > -180), -(180 + angle), angle))
        return BoundaryMaps(np.ascontiguousarray(self.distance[:, ::-1]),
                            np.ascontiguousarray(turned[:, ::-1]).astype(angle.dtype, copy=False))

    def padded(self, top: int, left: int, pad_h: int, pad_w: int) -> "BoundaryMaps":
        """Padded by ``pad_h`` rows and ``pad_w`` columns, the maps at (``top``, ``left``)."""
        if pad_h == 0 and pad_w == 0:
            return self

        def pad(x: np.ndarray, value: float) -> np.ndarray:
            out = np.full((x.shape[0] + pad_h, x.shape[1] + pad_w), value, dtype=x.dtype)
            out[top:top + x.shape[0], left:left + x.shape[1]] = x
            return out

        return BoundaryMaps(pad(self.distance, PAD_DISTANCE), pad(self.angle, PAD_ANGLE))
