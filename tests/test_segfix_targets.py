"""On-the-fly SegFix targets (same generator as the .mat files), target labels, metrics, and
the datamodule path with task=segfix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ocseg.segfix.encoding.distance_direction import semantic_ground_truth
from ocseg.segfix.training.metrics import SegFixMetrics
from ocseg.segfix.training.targets import SegFixTargets, boundary_target, direction_target


def _label() -> np.ndarray:
    label = np.zeros((20, 24), np.uint8)
    label[5:15, 6:18] = 1
    label[:, 22:] = 255  # ignored strip
    return label


def test_targets_are_the_ground_truth_files_contents():
    label = _label()
    out = SegFixTargets(num_classes=2)(label)
    gt = semantic_ground_truth(label, 2)
    assert out["distance"].dtype == torch.float32 and out["angle"].dtype == torch.float32
    np.testing.assert_array_equal(out["distance"].numpy(), gt.depth.astype(np.float32))
    np.testing.assert_array_equal(out["angle"].numpy(), 2 * gt.dir_deg.astype(np.float32) - 180)
    # ignored pixels are in no class: distance 0, angle 0 (dir_deg 90), as in the files
    assert (out["distance"][:, 22:] == 0).all() and (out["angle"][:, 22:] == 0).all()
    assert out["distance"][10, 12].item() == 5 and out["distance"][5, 6].item() == 1


def test_boundary_and_direction_targets():
    distance = torch.tensor([[0.0, 3, 5, 6, 250]])
    label = torch.tensor([[1, 1, 1, 1, 255]])
    assert boundary_target(distance, label).tolist() == [[1, 1, 1, 0, 255]]
    angle = torch.tensor([[0.0, 90, -90, 180, 0]])
    assert direction_target(angle, label).tolist() == [[4, 6, 2, 0, 255]]


def test_metrics_perfect_and_wrong_predictions():
    label = torch.from_numpy(_label().astype(np.int64))[None]
    t = SegFixTargets(num_classes=2)(_label())
    batch = {"label": label, "distance": t["distance"][None], "angle": t["angle"][None]}
    gt_mask = boundary_target(batch["distance"], label)
    gt_dir = direction_target(batch["angle"], label)
    mask_logits = torch.stack([(gt_mask != 1).float(), (gt_mask == 1).float()], 1) * 20
    dir_logits = torch.nn.functional.one_hot(gt_dir.clamp(max=7), 8).permute(0, 3, 1, 2).float()
    metric = SegFixMetrics()
    metric.update({"mask": mask_logits, "direction": dir_logits}, batch)
    scores = metric.compute()
    assert scores["mask_f1"].item() == pytest.approx(100.0)
    assert scores["mask_accuracy"].item() == pytest.approx(100.0)
    assert scores["direction_accuracy"].item() == pytest.approx(100.0)
    metric.reset()
    metric.update({"mask": -mask_logits, "direction": dir_logits.roll(1, dims=1)}, batch)
    scores = metric.compute()
    assert scores["mask_recall"].item() == 0.0 and scores["direction_accuracy"].item() == 0.0
    assert SegFixMetrics.primary == "mask_f1"


def test_datamodule_batches_carry_consistent_targets(tiny_cfg):
    from hydra.utils import instantiate

    cfg = tiny_cfg("task=segfix")
    assert cfg.task.monitor == "val/mask_f1"
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["distance"].shape == batch["label"].shape == batch["angle"].shape
    for k in range(batch["label"].shape[0]):  # computed after the crop/flip of this very label
        gt = semantic_ground_truth(batch["label"][k].numpy().astype(np.uint8), 19)
        np.testing.assert_array_equal(batch["distance"][k].numpy(), gt.depth.astype(np.float32))
        np.testing.assert_array_equal(batch["angle"][k].numpy(), gt.angle)
    metric = instantiate(cfg.task.metric)()
    assert isinstance(metric, SegFixMetrics)


def test_models_and_losses_import_only_the_encoding_and_the_targets():
    """The layers stay acyclic: ocseg.models needs the direction table, ocseg.losses the target
    builders; neither pulls in the rest of SegFix (e.g. its network loading, which imports
    checkpoints, which import models)."""
    import subprocess
    import sys

    code = ("import sys, ocseg.models, ocseg.losses; print(sorted(m for m in sys.modules "
            "if m.startswith('ocseg.segfix.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str([
        "ocseg.segfix.encoding", "ocseg.segfix.encoding.directions",
        "ocseg.segfix.encoding.distance_direction", "ocseg.segfix.training",
        "ocseg.segfix.training.targets"])
