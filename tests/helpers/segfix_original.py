"""The original SegFix ground-truth generators re-stated plainly (whole image, one segment at a
time), and what its training loader did with their maps, for the tests and ``bench/segfix.py``.
Written here, not copied; no original code runs.

Re-states openseg-group/openseg.pytorch ``lib/datasets/preprocess/cityscapes/
dt_offset_generator.py`` (semantic) and ``instance_dt_offset_generator.py`` (instance), and
``lib/datasets/loader/offset_loader.py`` with ``lib/datasets/tools/cv2_aug_transforms.py``
(crop and flip); these files are the same on the ``master`` and ``pytorch-1.7`` branches, line
numbers are theirs.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import distance_transform_edt

__all__ = ["CITYSCAPES_IDS", "original_kernel", "encode_label_ids", "reference_semantic",
           "reference_instance", "reference_loader_crop_flip"]

#: dt_offset_generator.py line 47: the Cityscapes label id of train ids 0..18
CITYSCAPES_IDS = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]


def original_kernel() -> torch.Tensor:
    """Lines 28-45 (``sobel_kernel``, float64) and 123-124 (``cat([sobel_y, sobel_x])``, float):
    channel 0 = ``j/(i² + j²)`` (rows), channel 1 = ``i/(i² + j²)`` (columns), centre 0."""
    k = np.zeros((2, 5, 5))
    for j in range(5):
        for i in range(5):
            dj, di = j - 2, i - 2
            if dj or di:
                k[0, j, i] = dj / float(di * di + dj * dj)
                k[1, j, i] = di / float(di * di + dj * dj)
    return torch.from_numpy(k).float().view(2, 1, 5, 5)


def _direction_of(depth_i: np.ndarray) -> np.ndarray:
    """Line 82 (instance: 102): float32 conv2d of one segment's distances, zero padding 2."""
    x = torch.from_numpy(depth_i).float().view(1, 1, *depth_i.shape)
    return F.conv2d(x, original_kernel(), padding=2).squeeze(0).permute(1, 2, 0).numpy()


def _encode(depth_map: np.ndarray, dir_map: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lines 89-95 (instance: 108-115): depth capped at 250, ``dir_deg = uint8((deg + 180) / 2)``,
    arithmetic in the maps' own dtype."""
    depth_map[depth_map > 250] = 250
    deg = np.degrees(np.arctan2(dir_map[:, :, 0], dir_map[:, :, 1])) + 180
    return depth_map.astype(np.uint8), (deg / 2).astype(np.uint8)


def encode_label_ids(label_ids: np.ndarray) -> np.ndarray:
    """Lines 49-54 and 59-60: label ids (read as int16) → train ids in a uint16 map, 255 for
    every other id, one masked assignment per class."""
    labelmap = np.asarray(label_ids).astype(np.int16)
    encoded = np.ones_like(labelmap, dtype=np.uint16) * 255
    for train_id, label_id in enumerate(CITYSCAPES_IDS):
        encoded[labelmap == label_id] = train_id
    return encoded


def reference_semantic(train_label: np.ndarray, num_classes: int, vectors: bool = False):
    """Lines 61-95 on a train-id map: (depth, dir_deg), and the float32 direction vectors with
    ``vectors``. Every class with ≥ 100 pixels is a segment; ``+ 1`` (line 61) makes the
    ignore id 256, never a class."""
    labelmap = train_label.astype(np.uint16) + 1
    depth_map = np.zeros(labelmap.shape, np.float32)
    dir_map = np.zeros((*labelmap.shape, 2), np.float32)
    for cls in range(1, num_classes + 1):  # lines 65-87
        mask = (labelmap == cls).astype(np.uint16)
        if mask.sum() < 100:
            continue
        depth_i = distance_transform_edt(mask)
        depth_map += depth_i
        dir_i = _direction_of(depth_i)
        dir_i[mask == 0, :] = 0
        dir_map += dir_i
    return (*_encode(depth_map, dir_map), dir_map) if vectors else _encode(depth_map, dir_map)


def reference_instance(ids: np.ndarray, label_ids):
    """instance_dt_offset_generator.py lines 73-115: ids below 256 outside ``label_ids`` become
    255, every distinct id is a segment (no size limit), maps in float64."""
    labelmap = ids.astype(np.int64).copy()
    for v in set(range(256)) - set(label_ids):  # lines 77-80
        labelmap[labelmap == v] = 255
    depth_map = np.zeros(labelmap.shape)
    dir_map = np.zeros((*labelmap.shape, 2))
    for v in np.unique(labelmap):  # lines 82-107
        mask = (labelmap == v).astype(np.uint8)
        depth_i = distance_transform_edt(mask)
        depth_map[mask == 1] = depth_i[mask == 1]
        dir_i = _direction_of(depth_i)
        dir_i[mask == 0, :] = 0
        dir_map += dir_i
    return _encode(depth_map, dir_map)


def reference_loader_crop_flip(depth: np.ndarray, dir_deg: np.ndarray, top: int, left: int,
                               height: int, width: int, flip: bool):
    """What the original's training loader made of one image's ``.mat`` maps: ``offset_loader.py``
    lines 48-56 (``depth`` as int32, ``angle = deg_reduce · dir_deg − 180`` in float64), then
    ``RandomCrop`` (``cv2_aug_transforms.py`` lines 544-563: the same window as the label) and,
    with ``flip``, ``RandomHFlip`` (lines 170-180: an angle in (0, 180) becomes 180 − a, one in
    (−180, 0) becomes −(180 + a), then both maps are mirrored). Returns (distance, angle)."""
    distance = depth.astype(np.int32)[top:top + height, left:left + width]
    angle = (2 * dir_deg.astype(np.float64) - 180)[top:top + height, left:left + width]
    if flip:
        turned = angle.copy()
        inside = (angle > 0) & (angle < 180)
        turned[inside] = 180 - angle[inside]
        inside = (angle < 0) & (angle > -180)
        turned[inside] = -(180 + angle[inside])
        distance, angle = distance[:, ::-1], turned[:, ::-1]
    return distance, angle
