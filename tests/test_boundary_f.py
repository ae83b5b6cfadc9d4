"""Boundary F-score: hand-checked cases and equality with a plain re-statement of the
original's F1_running_score (whole-image masks, disk dilation)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from ocseg.metrics.accumulators import BoundaryFScore
from ocseg.metrics.boundary import boundary_f_score, boundary_tolerance, seg_to_boundary


def _plain_bmap(seg):
    seg = seg.astype(bool)
    h, w = seg.shape
    b = np.zeros_like(seg)
    for y in range(h):
        for x in range(w):
            e = seg[y, x + 1] if x + 1 < w else False
            s = seg[y + 1, x] if y + 1 < h else False
            se = seg[y + 1, x + 1] if x + 1 < w and y + 1 < h else False
            if y == h - 1 and x == w - 1:
                b[y, x] = False
            elif y == h - 1:
                b[y, x] = seg[y, x] ^ e
            elif x == w - 1:
                b[y, x] = seg[y, x] ^ s
            else:
                b[y, x] = (seg[y, x] ^ e) | (seg[y, x] ^ s) | (seg[y, x] ^ se)
    return b


def _plain_f(pred, gt, num_classes, bound_th):
    """The original db_eval_boundary per class on whole-image masks (ignore = 255)."""
    ignore = gt == 255
    bound_pix = bound_th if bound_th >= 1 else math.ceil(bound_th * np.linalg.norm(gt.shape))
    r = int(bound_pix)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    disk = ((yy ** 2 + xx ** 2) <= bound_pix ** 2).astype(np.uint8)
    scores = []
    for c in range(num_classes):
        fg = (pred == c).astype(np.uint8)
        gm = (gt == c).astype(np.uint8)
        fg[ignore] = 0
        gm[ignore] = 0
        fb, gb = _plain_bmap(fg), _plain_bmap(gm)
        fg_dil = cv2.dilate(fb.astype(np.uint8), disk).astype(bool)
        gt_dil = cv2.dilate(gb.astype(np.uint8), disk).astype(bool)
        n_fg, n_gt = fb.sum(), gb.sum()
        if n_fg == 0 and n_gt > 0:
            p, rc = 1, 0
        elif n_fg > 0 and n_gt == 0:
            p, rc = 0, 1
        elif n_fg == 0 and n_gt == 0:
            p, rc = 1, 1
        else:
            p, rc = np.sum(fb * gt_dil) / float(n_fg), np.sum(gb * fg_dil) / float(n_gt)
        scores.append(0 if p + rc == 0 else 2 * p * rc / (p + rc))
    return np.array(scores)


def test_tolerance_is_three_pixels_at_cityscapes_size():
    assert boundary_tolerance((1024, 2048)) == 3
    assert boundary_tolerance((512, 1024)) == 2
    assert boundary_tolerance((256, 512)) == 1
    assert boundary_tolerance((10, 10), bound_th=4) == 4


def test_boundary_map_matches_plain_definition():
    rng = np.random.RandomState(0)
    seg = rng.rand(9, 12) > 0.5
    np.testing.assert_array_equal(seg_to_boundary(seg), _plain_bmap(seg))


def test_hand_checked_shifted_boundary():
    gt = np.zeros((10, 20), np.uint8)
    gt[:, 10:] = 1
    pred = np.zeros_like(gt)
    pred[:, 12:] = 1  # the class boundary two pixels to the right
    np.testing.assert_array_equal(boundary_f_score(pred, gt, 2, bound_th=1), [0.0, 0.0])
    np.testing.assert_array_equal(boundary_f_score(pred, gt, 2, bound_th=2), [1.0, 1.0])
    # class 2 absent from both: F = 1; class 0 absent from the prediction: F = 0
    np.testing.assert_array_equal(boundary_f_score(np.ones_like(gt), gt, 3, bound_th=2),
                                  [0.0, 0.0, 1.0])
    # a class covering the whole image has no boundary pixels, so missing it entirely scores 1
    np.testing.assert_array_equal(boundary_f_score(np.zeros_like(gt), np.ones_like(gt), 2), [1.0, 1.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_original_definition_on_random_maps(seed):
    rng = np.random.RandomState(seed)
    small = rng.randint(0, 5, (6, 8))
    gt = np.kron(small, np.ones((7, 7), np.int64))[:40, :50].astype(np.uint8)
    gt[gt == 4] = 255
    pred = gt.copy()
    noise = rng.rand(*gt.shape) < 0.1
    pred[noise] = rng.randint(0, 5, noise.sum())
    pred = np.roll(pred, seed, axis=1)
    for th in (1, 2, 0.03):
        np.testing.assert_allclose(boundary_f_score(pred, gt, 4, 255, th), _plain_f(pred, gt, 4, th),
                                   rtol=0, atol=1e-12)


def test_accumulator_means_over_images_then_classes():
    gt = np.zeros((10, 20), np.uint8)
    gt[:, 10:] = 1
    metric = BoundaryFScore(num_classes=2, bound_th=1, class_names=["a", "b"])
    metric.update(torch.from_numpy(gt), torch.from_numpy(gt))  # F = 1, 1
    shifted = np.zeros_like(gt)
    shifted[:, 12:] = 1
    metric.update(torch.from_numpy(shifted[None]), torch.from_numpy(gt[None]))  # F = 0, 0
    out = metric.compute()
    assert out["boundary_f"].item() == pytest.approx(50.0)
    assert out["boundary_f/a"].item() == pytest.approx(50.0)
