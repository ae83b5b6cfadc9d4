"""SegFix training targets computed on the fly from the full-resolution label, and the boundary /
direction labels derived from them.

:class:`SegFixTargets` is a dataset ``target_transform``: it runs the ground-truth generator
(:func:`~ocseg.segfix.encoding.distance_direction.semantic_ground_truth`, the same code as the
offline ``.mat`` files) on each sample's whole label *before* augmentation, and the dataset moves
the maps through the crop and flip with the image
(:class:`~ocseg.data.boundary_maps.BoundaryMaps`). That is the original's pipeline: ``.mat``
files from the full 1024×2048 label (``lib/datasets/preprocess/cityscapes/dt_offset_generator.py``
lines 59-95, the 100-pixel rule at line 70), cropped and flipped with the label by the loader
(``lib/datasets/loader/offset_loader.py`` lines 82-93); boundaries outside the crop count, the
100-pixel rule applies to the whole image, the mirrored angles follow the original's rule, and no
preprocessing is needed. It returns what the original's loader read from the ``.mat`` files:
``distance`` (= ``depth``) and ``angle`` (= ``2·dir_deg − 180``, degrees). Pixels in no class
(ignore, or classes under 100 pixels) get distance 0 and angle 0, exactly as in the files;
ignored pixels are masked by the label in the loss and metrics. ``full_label=False`` computes
them on the augmented label instead (per crop: crop borders and padding act as boundaries of the
distance transform, the 100-pixel rule applies per crop).

:class:`SegFixInstanceTargets` is the instance variant (``task=segfix_instance``): the same
generator as ``ocseg-segfix-gt kind=instance`` run on the full instance-id map (Cityscapes
``*_instanceIds.png``), moved through the augmentation the same way.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ocseg.data.boundary_maps import BoundaryMaps
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


class _Targets:
    """What the dataset calls: ``maps`` on the full sample (``full_label``), ``tensors`` on the
    augmented maps; ``__call__`` does both on a label it is given (``full_label=False``)."""

    full_label: bool = True

    def maps(self, label: np.ndarray, instance: np.ndarray | None = None) -> BoundaryMaps:
        raise NotImplementedError

    @staticmethod
    def tensors(maps: BoundaryMaps) -> dict[str, torch.Tensor]:
        """``{"distance", "angle"}``: H×W float32 tensors."""
        return {"distance": torch.from_numpy(np.ascontiguousarray(maps.distance, np.float32)),
                "angle": torch.from_numpy(np.ascontiguousarray(maps.angle, np.float32))}

    def __call__(self, label: np.ndarray, instance: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        return self.tensors(self.maps(label, instance))


def _maps(gt: DTOffsets) -> BoundaryMaps:
    return BoundaryMaps(gt.distance, gt.angle)


class SegFixTargets(_Targets):
    """``label (H×W uint8 train ids) → {"distance", "angle"}`` float32 tensors (H×W).

    Args:
        num_classes: classes of the dataset (other values, e.g. 255, are no class).
        ignore_index: the dataset's ignore id (kept for the record; such pixels are no class).
        min_pixels: classes with fewer pixels in the label get no ground truth.
        full_label: compute from the full label before augmentation (the original's ``.mat``
            files); False: from each augmented crop.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 min_pixels: int = MIN_CLASS_PIXELS, full_label: bool = True) -> None:
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.min_pixels = int(min_pixels)
        self.full_label = bool(full_label)

    def maps(self, label: np.ndarray, instance: np.ndarray | None = None) -> BoundaryMaps:
        # an instance map the dataset happens to carry is not used by the semantic targets
        return _maps(semantic_ground_truth(np.asarray(label), self.num_classes, self.min_pixels))

    def __repr__(self) -> str:
        return (f"SegFixTargets(num_classes={self.num_classes}, ignore_index={self.ignore_index}, "
                f"min_pixels={self.min_pixels}, full_label={self.full_label})")


class SegFixInstanceTargets(_Targets):
    """``(label, instance=H×W instance ids) → {"distance", "angle"}`` from the instance map.

    Args:
        label_ids: the dataset's evaluated label ids (``train_id_to_original``); ids below 256
            outside this list are merged into one "255" segment, as the original. None:
            ``0 .. num_classes − 1``.
        num_classes: used when ``label_ids`` is None.
        ignore_index: the dataset's ignore id (the label masks ignored pixels in the loss).
        full_label: compute from the full instance map before augmentation (the original's
            ``.mat`` files); False: from each augmented crop.
    """

    def __init__(self, label_ids: Sequence[int] | None = None, num_classes: int | None = None,
                 ignore_index: int = 255, full_label: bool = True) -> None:
        if label_ids is None and num_classes is None:
            raise ValueError("SegFixInstanceTargets needs label_ids or num_classes")
        self.label_ids = tuple(int(v) for v in (label_ids if label_ids is not None
                                                else range(int(num_classes))))
        self.ignore_index = int(ignore_index)
        self.full_label = bool(full_label)

    def maps(self, label: np.ndarray, instance: np.ndarray | None = None) -> BoundaryMaps:
        if instance is None:
            raise OcsegError(
                "task=segfix_instance needs each sample's instance-id map, but the dataset gives "
                "none; use a Cityscapes-layout dataset (gtFine/*_instanceIds.png: dataset=cityscapes "
                "or synthetic_city, whose factories read them when task.instances=true)")
        return _maps(instance_ground_truth(np.asarray(instance), self.label_ids))

    def __repr__(self) -> str:
        return f"SegFixInstanceTargets(label_ids={list(self.label_ids)}, full_label={self.full_label})"


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
