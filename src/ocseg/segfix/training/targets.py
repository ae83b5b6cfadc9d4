"""SegFix training targets computed on the fly from the augmented label, and the boundary /
direction labels derived from them.

:class:`SegFixTargets` is a dataset ``target_transform``: it runs the ground-truth generator
(:func:`~ocseg.segfix.encoding.distance_direction.semantic_ground_truth`, the same code as the offline
``.mat`` files) on the label *after* augmentation, so crops, flips and rescaling stay consistent
and training needs no preprocessing. It returns what the original's loader read from the
``.mat`` files: ``distance`` (= ``depth``) and ``angle`` (= ``2·dir_deg − 180``, degrees).
Pixels in no class (ignore, or classes under 100 pixels) get distance 0 and angle 0, exactly as
in the files; ignored pixels are masked by the label in the loss and metrics.

:class:`SegFixInstanceTargets` is the instance variant (``task=segfix_instance``): the same
generator as ``ocseg-segfix-gt kind=instance`` run on the augmented
instance-id map (Cityscapes ``*_instanceIds.png``), which the dataset carries through the
augmentation next to the label.

Difference from the offline path: distances are measured on the augmented image (the original
resized and cropped the full-resolution maps with nearest neighbour), so the 5-pixel boundary
band is 5 pixels at training scale; crop borders and padding are handled like image borders
and ignore regions.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ocseg.errors import OcsegError
from ocseg.segfix.encoding.directions import NUM_DIRECTIONS, angle_to_bin
from ocseg.segfix.encoding.distance_direction import (
    MIN_CLASS_PIXELS,
    DTOffsets,
    instance_ground_truth,
    semantic_ground_truth,
)

__all__ = ["SegFixTargets", "SegFixInstanceTargets", "boundary_target", "direction_target",
           "MAX_DISTANCE"]

#: A pixel is a boundary pixel when 0 ≤ distance ≤ MAX_DISTANCE (the original's
#: ``dt_max_distance`` default).
MAX_DISTANCE = 5


class SegFixTargets:
    """``label (H×W uint8 train ids) → {"distance", "angle"}`` float32 tensors (H×W).

    Args:
        num_classes: classes of the dataset (other values, e.g. 255, are no class).
        ignore_index: the dataset's ignore id (kept for the record; such pixels are no class).
        min_pixels: classes with fewer pixels in the (augmented) label get no ground truth.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 min_pixels: int = MIN_CLASS_PIXELS) -> None:
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.min_pixels = int(min_pixels)

    def __call__(self, label: np.ndarray, instance: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        # an instance map the dataset happens to carry is not used by the semantic targets
        return _as_targets(semantic_ground_truth(np.asarray(label), self.num_classes,
                                                 self.min_pixels))

    def __repr__(self) -> str:
        return (f"SegFixTargets(num_classes={self.num_classes}, ignore_index={self.ignore_index}, "
                f"min_pixels={self.min_pixels})")


class SegFixInstanceTargets:
    """``(label, instance=H×W instance ids) → {"distance", "angle"}`` from the instance map.

    Args:
        label_ids: the dataset's evaluated label ids (``train_id_to_original``); ids below 256
            outside this list are merged into one "255" segment, as the original. None:
            ``0 .. num_classes − 1``.
        num_classes: used when ``label_ids`` is None.
        ignore_index: the dataset's ignore id (the label masks ignored pixels in the loss).
    """

    def __init__(self, label_ids: Sequence[int] | None = None, num_classes: int | None = None,
                 ignore_index: int = 255) -> None:
        if label_ids is None and num_classes is None:
            raise ValueError("SegFixInstanceTargets needs label_ids or num_classes")
        self.label_ids = tuple(int(v) for v in (label_ids if label_ids is not None
                                                else range(int(num_classes))))
        self.ignore_index = int(ignore_index)

    def __call__(self, label: np.ndarray, instance: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        if instance is None:
            raise OcsegError(
                "task=segfix_instance needs each sample's instance-id map, but the dataset gives "
                "none; use a Cityscapes-layout dataset (gtFine/*_instanceIds.png: dataset=cityscapes "
                "or synthetic_city, whose factories read them when task.instances=true)")
        return _as_targets(instance_ground_truth(np.asarray(instance), self.label_ids))

    def __repr__(self) -> str:
        return f"SegFixInstanceTargets(label_ids={list(self.label_ids)})"


def _as_targets(gt: DTOffsets) -> dict[str, torch.Tensor]:
    return {"distance": torch.from_numpy(gt.distance), "angle": torch.from_numpy(gt.angle)}


def boundary_target(distance: torch.Tensor, label: torch.Tensor, ignore_index: int = 255,
                    max_distance: float = MAX_DISTANCE) -> torch.Tensor:
    """1 where ``0 ≤ distance ≤ max_distance`` (boundary), else 0; ``ignore_index`` where the
    label is ignored (the original's ``distance_to_mask_label``). int64. The loss's mask target
    and the metrics' ground-truth boundary."""
    mask = ((distance >= 0) & (distance <= max_distance)).long()
    return torch.where(label == ignore_index, ignore_index, mask)


def direction_target(angle: torch.Tensor, label: torch.Tensor, ignore_index: int = 255,
                     supervised: torch.Tensor | None = None) -> torch.Tensor:
    """Direction bin (of :data:`NUM_DIRECTIONS`) of every pixel; ``ignore_index`` where the label
    is ignored and, when ``supervised`` (a bool mask) is given, where it is False (the loss
    supervises directions on predicted boundary pixels only). int64."""
    bins = angle_to_bin(angle, NUM_DIRECTIONS)
    keep = label != ignore_index
    if supervised is not None:
        keep = keep & supervised
    return torch.where(keep, bins, ignore_index)
