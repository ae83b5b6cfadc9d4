"""The one scores module: confusion counts (numpy and torch agree), the Cityscapes NaN rule, the
metrics.json number rule, the logged names, and the table."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ocseg.metrics.accumulators import LabelConfusion, SegmentationMetrics, confusion_matrix
from ocseg.metrics.scores import (
    Scores,
    confusion_counts,
    json_number,
    metrics_from_logged,
    scores_from_confusion,
)
from ocseg.metrics.table import scores_text

NAMES = ["a", "b", "c", "d"]


def _worked_example() -> tuple[np.ndarray, np.ndarray]:
    # (gt, pred) over scored pixels: (0,0) (0,1) | (1,1) (1,1) (2,1); class 3 absent; one pixel
    # ignored (gt 255) and one predicted out of range (pred 7): neither is counted
    gt = np.array([[0, 0, 1, 1, 2, 255, 1]], np.uint8)
    pred = np.array([[0, 1, 1, 1, 1, 0, 7]], np.uint8)
    return pred, gt


def test_numpy_and_torch_confusion_agree_on_a_worked_example():
    pred, gt = _worked_example()
    expected = np.zeros((4, 4), np.int64)
    expected[0, 0], expected[0, 1], expected[1, 1], expected[2, 1] = 1, 1, 2, 1
    np.testing.assert_array_equal(confusion_counts(pred, gt, 4), expected)
    np.testing.assert_array_equal(
        confusion_matrix(torch.from_numpy(pred), torch.from_numpy(gt), 4).numpy(), expected)
    metric = LabelConfusion(4, class_names=NAMES)
    metric.update(torch.from_numpy(pred), torch.from_numpy(gt))
    summed = metric.compute()
    np.testing.assert_array_equal(summed["confmat"].numpy(), expected)
    assert int(summed["images"]) == 1
    rng = np.random.RandomState(0)  # and on random maps with ignored pixels
    gt, pred = rng.randint(0, 6, (2, 9, 11)), rng.randint(0, 5, (2, 9, 11))
    gt[gt == 5] = 255
    np.testing.assert_array_equal(
        confusion_counts(pred, gt, 5),
        confusion_matrix(torch.from_numpy(pred), torch.from_numpy(gt), 5).numpy())


def test_cityscapes_nan_rule_and_percent():
    pred, gt = _worked_example()
    s = scores_from_confusion(confusion_counts(pred, gt, 4))
    # IoU a: 1/(1+1); b: 2/(2+2); c: 0/1; d: no pixels at all -> NaN, left out of the mean
    np.testing.assert_allclose(s["per_class_iou"][:3], [50.0, 50.0, 0.0])
    assert math.isnan(s["per_class_iou"][3])
    assert s["mIoU"] == pytest.approx(100 / 3) and s["pixel_accuracy"] == pytest.approx(60.0)
    empty = scores_from_confusion(np.zeros((2, 2), np.int64))
    assert math.isnan(empty["mIoU"]) and math.isnan(empty["pixel_accuracy"])


def test_json_rule_rounds_and_writes_nan_as_null():
    assert json_number(33.333333333) == 33.3333 and json_number(np.float32(5.0)) == 5.0
    assert json_number(float("nan")) is None and json_number(None) is None
    assert json_number(torch.tensor(12.345678)) == 12.3457
    pred, gt = _worked_example()
    scores = Scores.from_confusion(confusion_counts(pred, gt, 4), NAMES, [100.0, 50.0, 0.0, 100.0],
                                   num_images=1)
    block = scores.to_json()
    assert block == {
        "mIoU": 33.3333, "pixel_accuracy": 60.0, "boundary_f": 62.5, "boundary_f_present": 50.0,
        "num_images": 1,
        "per_class_iou": {"a": 50.0, "b": 50.0, "c": 0.0, "d": None},
        "per_class_boundary_f": {"a": 100.0, "b": 50.0, "c": 0.0, "d": 100.0},
    }
    assert Scores.from_json(block).to_json() == block
    unmeasured = Scores.from_confusion(confusion_counts(pred, gt, 4), NAMES).to_json()
    assert unmeasured["boundary_f"] is None and unmeasured["per_class_boundary_f"] is None
    assert unmeasured["boundary_f_present"] is None
    assert unmeasured["num_images"] is None


def test_training_metric_logs_the_scores_and_train_reads_them_back():
    metric = SegmentationMetrics(3, class_names=["x", "y", "z"])
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 0, 0] = 1.0  # predicted: top row x, bottom row y
    logits[0, 1, 1] = 1.0
    label = torch.tensor([[[0, 0], [1, 2]]])  # IoU x 2/2, y 1/2, z 0/1; 3 of 4 pixels right
    metric.update({"out": logits}, {"label": label})
    logged = metric.compute()
    assert set(logged) == {"mIoU", "pixel_accuracy", "iou/x", "iou/y", "iou/z"}
    assert logged["iou/x"].item() == 100.0 and logged["iou/y"].item() == 50.0
    assert logged["iou/z"].item() == 0.0 and logged["pixel_accuracy"].item() == 75.0
    # what Lightning returns for the val stage → the metrics.json scores block
    results = {f"val/{k}": v.float() for k, v in logged.items()}
    results.update({"val/loss": torch.tensor(0.123456789), "val/mIoU_best": torch.tensor(50.0)})
    block = metrics_from_logged(results, ["x", "y", "z"])
    assert block["mIoU"] == 50.0 and block["per_class_iou"] == {"x": 100.0, "y": 50.0, "z": 0.0}
    assert block["loss"] == 0.1235 and block["mIoU_best"] == 50.0
    # a SegFix model's scores: its own names, the same number rule
    segfix = metrics_from_logged({"val/mask_f1": 91.234567, "val/direction_accuracy": float("nan"),
                                  "val/loss": 0.5}, [])
    assert segfix == {"mask_f1": 91.2346, "direction_accuracy": None, "loss": 0.5}


def test_deterministic_mode_counts_with_one_bincount():
    """``trainer.deterministic=true``: torchmetrics' own update would count through a
    pixels × classes² tensor there (gigabytes for a Cityscapes image); ours is one bincount."""
    metric = LabelConfusion(150)
    pred = torch.randint(0, 150, (128, 128), generator=torch.Generator().manual_seed(0))
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        metric.update(pred, pred)
    finally:
        torch.use_deterministic_algorithms(before)
    confmat = metric.compute()["confmat"]
    assert int(confmat.trace()) == int(confmat.sum()) == 128 * 128


def test_table_shows_one_column_or_before_after_change():
    pred, gt = _worked_example()
    after = Scores.from_confusion(confusion_counts(pred, gt, 4), NAMES, [100.0, 50.0, 0.0, 100.0])
    text = scores_text(after, "val scores")
    assert "val scores" in text and "33.33" in text
    # boundary F twice, each labelled: the original's (absent class d counts 100) and ocseg's
    # mean over the classes with an IoU (a, b, c)
    assert [ln for ln in text.splitlines() if "boundary F (original: absent class = 100)" in ln][0] \
        .rstrip().endswith("62.50 │")
    assert [ln for ln in text.splitlines() if "boundary F, present classes (ocseg)" in ln][0] \
        .rstrip().endswith("50.00 │")
    # d, in neither ground truth nor prediction, is counted under the table instead of a row
    assert not [ln for ln in text.splitlines() if " d " in ln]
    assert text.splitlines()[-1] == ("1 of 4 classes are in neither ground truth nor prediction: "
                                     "not listed (null in metrics.json)")
    before = Scores.from_confusion(confusion_counts(np.zeros_like(pred), gt, 4), NAMES,
                                   [50.0, 50.0, 0.0, 100.0])
    compared = scores_text(after, "SegFix", before=before)
    assert "before %" in compared and "after %" in compared and "change" in compared
    mean_row = [ln for ln in compared.splitlines() if "mIoU" in ln][0]
    assert f"{before.miou:.2f}" in mean_row and f"{after.miou - before.miou:+.2f}" in mean_row
    assert "\x1b[" not in compared  # plain text for the log file
