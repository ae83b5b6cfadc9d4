"""On-the-fly SegFix targets (same generator as the .mat files, from the full label, moved
through crop and flip as the original's loader moved the files), target labels, metrics, and the
datamodule path with task=segfix."""

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


def _worked_label() -> np.ndarray:
    """48×64 train ids: class 1 (a block that leaves every crop below on the right), class 2
    (120 pixels on the whole image, fewer than 100 inside the crops), class 0 elsewhere, an
    ignored strip."""
    label = np.zeros((48, 64), np.uint8)
    label[10:31, 20:61] = 1
    label[30:42, 2:12] = 2
    label[44:, :] = 255
    return label


def _coordinates(height: int, width: int) -> np.ndarray:
    """A BGR image whose pixel tells where it came from: B = row + 20, G = column + 20, R = 100."""
    rows, cols = np.mgrid[:height, :width]
    return np.stack([rows + 20, cols + 20, np.full_like(rows, 100)], -1).astype(np.uint8)


def _where(image: np.ndarray) -> tuple[int, int, bool]:
    """(top, left, flipped) of an augmented coordinate image (brightness shift k = R − 100)."""
    k = int(image[0, 0, 2]) - 100
    rows, cols = image[..., 0].astype(int) - 20 - k, image[..., 1].astype(int) - 20 - k
    flipped = image.shape[1] > 1 and cols[0, 0] > cols[0, 1]
    return int(rows[0, 0]), int(cols[0, :].min()), bool(flipped)


@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_full_label_targets_are_the_originals_mat_cropped_and_flipped(flip):
    """ocseg's pipeline (ground truth of the full label, moved through crop and flip) against the
    original's (full-image .mat → its loader's crop and flip), on a worked example where
    computing on the crop would differ: a boundary beyond the crop edge and a class under 100
    pixels inside the crop."""
    from helpers.segfix_original import reference_loader_crop_flip, reference_semantic
    from ocseg.data.augment import BrightnessShift, HorizontalFlipSwap, RandomCropUpTo
    from ocseg.data.transforms import pipeline

    label = _worked_label()
    targets = SegFixTargets(num_classes=3)
    transform = pipeline([RandomCropUpTo(32, 40), HorizontalFlipSwap(p=flip), BrightnessShift(10)],
                         seed=3)
    depth, dir_deg = reference_semantic(label, 3)
    seen = set()
    for _ in range(6):
        out = transform(image=_coordinates(*label.shape), mask=label, boundary_maps=targets.maps(label))
        top, left, flipped = _where(out["image"])
        assert flipped == bool(flip) and out["mask"].shape == (32, 40)
        np.testing.assert_array_equal(out["mask"], label[top:top + 32, left:left + 40][:, ::-1 if flip else 1])
        distance, angle = reference_loader_crop_flip(depth, dir_deg, top, left, 32, 40, flipped)
        got = targets.tensors(out["boundary_maps"])
        np.testing.assert_array_equal(got["distance"].numpy(), distance)
        np.testing.assert_array_equal(got["angle"].numpy(), angle)
        # the per-crop ground truth would not be the original's
        assert not np.array_equal(SegFixTargets(3)(out["mask"])["distance"].numpy(), distance)
        seen.add((top, left))
    assert len(seen) > 1
    # class 2: on the whole image (120 px) it has ground truth; a crop holds fewer than 100 of them
    assert (label == 2).sum() >= 100 and depth[label == 2].min() > 0


def test_flipped_angles_follow_the_originals_rule():
    """(0, 180) → 180 − a, (−180, 0) → −(180 + a), 0 and ±180 kept (the original's RandomHFlip)."""
    from ocseg.data.boundary_maps import BoundaryMaps

    angle = np.array([[0, 30, 90, 178, 180, -180, -30, -90, -178]], np.float32)
    maps = BoundaryMaps(np.arange(9, dtype=np.float32)[None], angle).mirrored()
    np.testing.assert_array_equal(maps.angle, [[-2, -90, -150, -180, 180, 2, 90, 150, 0]])
    np.testing.assert_array_equal(maps.distance, [[8, 7, 6, 5, 4, 3, 2, 1, 0]])
    padded = maps.padded(1, 2, 2, 3)
    assert padded.distance.shape == (3, 12) and padded.distance[0, 0] == 255 and padded.angle[0, 0] == 0
    np.testing.assert_array_equal(padded.angle[1, 2:11], maps.angle[0])


def test_instance_targets_are_the_originals_mat_cropped_and_flipped():
    from helpers.segfix_original import reference_instance, reference_loader_crop_flip
    from ocseg.data.augment import HorizontalFlipSwap, RandomCropUpTo
    from ocseg.data.transforms import pipeline
    from ocseg.segfix.training.targets import SegFixInstanceTargets

    label = _worked_label()
    instance = label.astype(np.uint16) * 1000 + (label == 1)        # class 1 is one instance
    instance[label == 255] = 0
    ids = [0, 1, 2]
    targets = SegFixInstanceTargets(label_ids=ids)
    transform = pipeline([RandomCropUpTo(32, 40), HorizontalFlipSwap(p=1.0)], seed=0)
    out = transform(image=_coordinates(*label.shape), mask=label,
                    boundary_maps=targets.maps(label, instance=instance))
    top, left, flipped = _where(out["image"])
    depth, dir_deg = reference_instance(instance, ids)
    distance, angle = reference_loader_crop_flip(depth, dir_deg, top, left, 32, 40, flipped)
    got = targets.tensors(out["boundary_maps"])
    np.testing.assert_array_equal(got["distance"].numpy(), distance)
    np.testing.assert_array_equal(got["angle"].numpy(), angle)


def test_datamodule_batches_carry_the_originals_targets(tmp_path):
    """The SegFix recipe's own pipeline (crop → flip → brightness → pad) through the dataset: every
    sample's targets are the full label's ground truth moved as the original's loader moved it."""
    from hydra.utils import instantiate

    from helpers.config import compose
    from helpers.data_fakes import write_png
    from helpers.segfix_original import CITYSCAPES_IDS, reference_loader_crop_flip, reference_semantic

    label = _worked_label()
    ids = np.array([*CITYSCAPES_IDS, *([0] * (256 - 19))], np.uint8)   # train id → label id
    root = tmp_path / "cityscapes"
    for k in range(2):
        stem = f"city_000000_{k:06d}"
        write_png(root / "leftImg8bit" / "train" / "city" / f"{stem}_leftImg8bit.png", _coordinates(48, 64))
        write_png(root / "gtFine" / "train" / "city" / f"{stem}_gtFine_labelIds.png", ids[label])
    cfg = compose("train", ["experiment=segfix_cityscapes_hrnet48", f"dataset.root={root}",
                            "dataset.crop_size=[32,40]", "normalize.div=1", "normalize.mean=[0,0,0]",
                            "normalize.std=[1,1,1]", "data.num_workers=0", f"paths.output_dir={tmp_path}"])
    assert cfg.task.targets.full_label
    dataset = instantiate(cfg.data).dataset("train")
    depth, dir_deg = reference_semantic(label, 19)
    flips = set()
    for index in [0, 1, 0, 1, 0, 1]:
        item = dataset[index]
        image = item["image"].permute(1, 2, 0).numpy().astype(np.uint8)
        top, left, flipped = _where(image)
        distance, angle = reference_loader_crop_flip(depth, dir_deg, top, left, 32, 40, flipped)
        np.testing.assert_array_equal(item["distance"].numpy(), distance)
        np.testing.assert_array_equal(item["angle"].numpy(), angle)
        flips.add(flipped)
    assert flips == {True, False}


def test_a_pipeline_step_that_cannot_move_the_targets_is_refused():
    import albumentations as A

    from ocseg.data.dataset import SegmentationDataset
    from ocseg.data.label_map import LabelMap
    from ocseg.errors import OcsegError

    with pytest.raises(OcsegError, match=r"steps \['Rotate'\] move pixels but not the SegFix"):
        SegmentationDataset([], LabelMap([0, 1]), transform=A.Compose([A.Rotate()]),
                            target_transform=SegFixTargets(num_classes=2))
    # per-crop targets need nothing from the steps
    SegmentationDataset([], LabelMap([0, 1]), transform=A.Compose([A.Rotate()]),
                        target_transform=SegFixTargets(num_classes=2, full_label=False))


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
