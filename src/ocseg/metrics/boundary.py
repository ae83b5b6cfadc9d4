"""Boundary F-score of a semantic segmentation, as the original's ``F1_running_score``.

Per image and class: the 1-pixel boundaries of the predicted and ground-truth class masks
(``seg2bmap``: a pixel differs from its right, lower or lower-right neighbour; image borders are
not boundaries), ignored pixels removed from both masks first; a boundary pixel is matched when
the other boundary lies within ``ceil(bound_th · image diagonal)`` pixels (a disk; 3 px at
1024×2048 with the original's ``bound_th = 0.00088``). Precision / recall / F follow the original,
including its conventions for empty masks (absent from both: F = 1, master
``lib/metrics/F1_running_score.py`` lines 185-187; from one: F = 0). The score is the mean over
classes of the mean over images (accumulated across processes by
:class:`~ocseg.metrics.accumulators.BoundaryFScore`).

That convention gives 100 to a class that no image shows or predicts, where IoU has no value, so
a split without some classes scores higher than its boundaries deserve. ocseg keeps the
original's number (``boundary_f``) and reports beside it the mean over the classes that have an
IoU (``boundary_f_present``, :class:`~ocseg.metrics.scores.Scores`). Numpy and OpenCV only.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.ndimage import find_objects

__all__ = ["DEFAULT_BOUND_TH", "boundary_tolerance", "disk", "seg_to_boundary", "boundary_f_score"]

DEFAULT_BOUND_TH = 0.00088


def boundary_tolerance(shape: tuple[int, int], bound_th: float = DEFAULT_BOUND_TH) -> int:
    """Matching distance in pixels: ``bound_th`` itself when ≥ 1, else a fraction of the diagonal."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


def disk(radius: int) -> np.ndarray:
    """Disk structuring element (uint8): offsets with ``x² + y² ≤ radius²``."""
    r = np.arange(-radius, radius + 1)
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius).astype(np.uint8)


def seg_to_boundary(mask: np.ndarray) -> np.ndarray:
    """1-pixel boundary of a binary mask (the original's ``seg2bmap``), bool."""
    seg = np.asarray(mask, bool)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def _f_measure(pred_b: np.ndarray, gt_b: np.ndarray, kernel: np.ndarray) -> float:
    n_fg, n_gt = int(pred_b.sum()), int(gt_b.sum())
    if n_fg == 0 or n_gt == 0:
        precision, recall = (1.0 if n_fg == 0 else 0.0), (1.0 if n_gt == 0 else 0.0)
    else:
        fg_dil = cv2.dilate(pred_b.view(np.uint8), kernel).view(bool)
        gt_dil = cv2.dilate(gt_b.view(np.uint8), kernel).view(bool)
        precision = float(np.count_nonzero(pred_b & gt_dil)) / n_fg
        recall = float(np.count_nonzero(gt_b & fg_dil)) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def boundary_f_score(pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_index: int = 255,
                     bound_th: float = DEFAULT_BOUND_TH) -> np.ndarray:
    """Per-class boundary F (float64, 0..1) of one H×W prediction against its ground truth.

    Work is limited to each class's bounding box (grown by one pixel), which gives the same
    numbers as whole-image masks: boundaries never leave that box.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in size")
    height, width = gt.shape
    kernel = disk(boundary_tolerance((height, width), bound_th))
    valid = gt != ignore_index
    pred_ids = np.where(valid & (pred >= 0) & (pred < num_classes), pred, -1).astype(np.int32) + 1
    gt_ids = np.where(valid & (gt >= 0) & (gt < num_classes), gt, -1).astype(np.int32) + 1
    pred_boxes = find_objects(pred_ids, max_label=num_classes)
    gt_boxes = find_objects(gt_ids, max_label=num_classes)
    scores = np.ones(num_classes, np.float64)
    for c, (pb, gb) in enumerate(zip(pred_boxes, gt_boxes)):
        if pb is None and gb is None:
            continue  # absent from both: no boundary pixels, precision = recall = 1
        boxes = [b for b in (pb, gb) if b is not None]
        box = tuple(slice(max(min(b[k].start for b in boxes) - 1, 0),
                          min(max(b[k].stop for b in boxes) + 1, n))
                    for k, n in enumerate((height, width)))
        scores[c] = _f_measure(seg_to_boundary(pred_ids[box] == c + 1),
                               seg_to_boundary(gt_ids[box] == c + 1), kernel)
    return scores


