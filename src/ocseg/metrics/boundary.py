# PLACEHOLDER (segfix helper owns the real one): the evaluation branch needs
# `BoundaryFScore`; at merge the SegFix helper's version of this file replaces this one.
"""Boundary F-score of the original (``F1RunningScore``, after GSCNN's ``f_boundary``).

Per image and class: 1-pixel boundaries of the predicted and ground-truth masks (ignored pixels
cleared), each dilated by a disk of radius ``ceil(bound_th · image diagonal)`` (3 px at
1024×2048 for the default 0.00088); precision = predicted boundary pixels near a true boundary,
recall = true boundary pixels near a predicted one; F = 2PR/(P+R). An empty prediction and
an empty ground truth give P = R = 1. The score is the mean over images per class, then the
mean over classes, in percent.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from torchmetrics import Metric

__all__ = ["BoundaryFScore", "boundary_f_score", "boundary_map", "boundary_radius"]


def boundary_radius(shape: tuple[int, int], bound_th: float) -> int:
    """Tolerance in pixels: ``bound_th`` itself when ≥ 1, else a fraction of the diagonal."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


def boundary_map(masks: np.ndarray) -> np.ndarray:
    """1-pixel boundaries of boolean masks (…×H×W), half a pixel towards the origin."""
    seg = masks.astype(bool)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[..., :, :-1] = seg[..., :, 1:]
    south[..., :-1, :] = seg[..., 1:, :]
    south_east[..., :-1, :-1] = seg[..., 1:, 1:]
    bmap = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    bmap[..., -1, :] = seg[..., -1, :] ^ east[..., -1, :]
    bmap[..., :, -1] = seg[..., :, -1] ^ south[..., :, -1]
    bmap[..., -1, -1] = False
    return bmap


def _dilate(bmaps: np.ndarray, radius: int) -> np.ndarray:
    size = 2 * radius + 1
    yy, xx = np.mgrid[-radius: radius + 1, -radius: radius + 1]
    disk = ((yy ** 2 + xx ** 2) <= radius ** 2).astype(np.uint8).reshape(size, size)
    return np.stack([cv2.dilate(b.astype(np.uint8), disk).astype(bool) for b in bmaps])


def boundary_f_score(pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_index: int = 255,
                     bound_th: float = 0.00088) -> np.ndarray:
    """F-score (0..1) of every class for one H×W prediction/ground-truth pair."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    valid = gt != ignore_index
    classes = np.arange(num_classes)[:, None, None]
    fg = boundary_map((pred[None] == classes) & valid[None])
    gt_b = boundary_map((gt[None] == classes) & valid[None])
    radius = boundary_radius(gt.shape, bound_th)
    fg_match = (fg & _dilate(gt_b, radius)).sum((1, 2)).astype(np.float64)
    gt_match = (gt_b & _dilate(fg, radius)).sum((1, 2)).astype(np.float64)
    n_fg = fg.sum((1, 2)).astype(np.float64)
    n_gt = gt_b.sum((1, 2)).astype(np.float64)
    precision = np.where(n_fg > 0, fg_match / np.maximum(n_fg, 1), 1.0)
    recall = np.where(n_gt > 0, gt_match / np.maximum(n_gt, 1), 1.0)
    # empty prediction vs non-empty truth: P = 1, R = 0; the reverse: P = 0, R = 1
    precision = np.where((n_fg > 0) & (n_gt == 0), 0.0, precision)
    denom = precision + recall
    return np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1), 0.0)


class BoundaryFScore(Metric):
    """Mean boundary F-score (percent) over images and classes; summed across DDP processes."""

    full_state_update = False

    def __init__(self, num_classes: int, ignore_index: int = 255, bound_th: float = 0.00088) -> None:
        super().__init__()
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.bound_th = float(bound_th)
        self.add_state("f_sum", default=torch.zeros(self.num_classes, dtype=torch.float64),
                       dist_reduce_fx="sum")
        self.add_state("images", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, label: torch.Tensor) -> None:
        """``pred`` and ``label``: N×H×W (or H×W) train ids."""
        pred = pred.reshape(-1, *pred.shape[-2:]).cpu().numpy()
        label = label.reshape(-1, *label.shape[-2:]).cpu().numpy()
        for p, g in zip(pred, label):
            scores = boundary_f_score(p, g, self.num_classes, self.ignore_index, self.bound_th)
            self.f_sum += torch.from_numpy(scores).to(self.f_sum)
            self.images += 1

    def compute(self) -> torch.Tensor:
        if self.images == 0:
            return torch.tensor(float("nan"), dtype=torch.float64)
        return 100 * (self.f_sum / self.images).mean()
