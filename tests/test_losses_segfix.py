"""SegFix loss against a worked 4×4 example computed independently in numpy (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.loss_references import IGNORE, bilinear_align_corners, direction_bin, weighted_ce
from ocseg.errors import OcsegError
from ocseg.losses import SegFixLoss
from ocseg.segfix.training.targets import direction_target

LABEL = np.array([[0, 0, 1, 1],
                  [0, 0, 1, 255],
                  [2, 2, 1, 1],
                  [2, 2, 255, 1]])
DISTANCE = np.array([[9, 2, 1, 4],
                     [6, 0, 5, 3],
                     [1, 6, 4, 3],
                     [12, 3, 0, 5]], dtype=np.float32)
ANGLE = np.array([[-170.0, 10.0, 95.0, 30.0],
                  [60.0, -100.0, 150.0, 0.0],
                  [-45.0, -170.0, 22.5, 179.0],
                  [-60.0, 135.0, 0.0, -10.0]], dtype=np.float32)
# boundary-minus-background margins: the predicted boundary is where the margin is > 0
MARGIN = np.array([[-1.0, 0.5, 2.0, -0.5],
                   [1.0, 1.5, -2.0, 0.3],
                   [0.8, -1.2, 0.6, 1.1],
                   [-0.7, 0.9, 0.4, 2.5]])


def example(seed: int = 0):
    mask = np.stack([np.zeros((4, 4)), MARGIN])[None]
    direction = np.random.default_rng(seed).normal(size=(1, 8, 4, 4))
    return mask, direction


def as_torch(mask, direction, label=LABEL, distance=DISTANCE, angle=ANGLE):
    outputs = {"mask": torch.tensor(mask, dtype=torch.float32, requires_grad=True),
               "direction": torch.tensor(direction, dtype=torch.float32, requires_grad=True)}
    target = {"label": torch.tensor(label)[None], "distance": torch.tensor(distance)[None],
              "angle": torch.tensor(angle)[None]}
    return outputs, target


def reference(mask, direction, max_distance=5.0, threshold=0.5):
    """(mask CE, direction CE) of the original's SegFixLoss, with 1 − frequency weights."""
    valid = LABEL != IGNORE
    gt_mask = np.where(valid, (DISTANCE <= max_distance).astype(int), IGNORE)[None]
    counts = np.array([(gt_mask == k).sum() for k in range(2)], dtype=np.float64)
    mask_loss = weighted_ce(mask, gt_mask, 1 - counts / counts.sum())
    p_boundary = np.exp(mask[:, 1]) / np.exp(mask).sum(axis=1)
    gt_dir = np.where(valid & (p_boundary[0] > threshold), direction_bin(ANGLE), IGNORE)[None]
    counts = np.array([(gt_dir == k).sum() for k in range(8)], dtype=np.float64)
    direction_loss = weighted_ce(direction, gt_dir, 1 - counts / counts.sum())
    return mask_loss, direction_loss


def test_worked_example_matches_the_numpy_reference():
    mask, direction = example()
    terms = SegFixLoss().terms(*as_torch(mask, direction))
    mask_loss, direction_loss = reference(mask, direction)
    # by hand: 14 valid pixels, 10 of them within distance 5 → weights 1 − 4/14 and 1 − 10/14
    valid = LABEL != IGNORE
    assert ((DISTANCE <= 5) & valid).sum() == 10 and valid.sum() == 14
    # 9 valid pixels have a positive margin, i.e. a predicted boundary, and get a direction target
    assert ((MARGIN > 0) & valid).sum() == 9
    assert terms["mask"].item() == pytest.approx(mask_loss, rel=1e-6)
    assert terms["direction"].item() == pytest.approx(direction_loss, rel=1e-6)


def test_weights_threshold_and_max_distance_are_config_values():
    mask, direction = example(1)
    loss = SegFixLoss(mask_weight=2.0, direction_weight=0.5, mask_threshold=0.7, max_distance=3)
    terms = loss.terms(*as_torch(mask, direction))
    mask_loss, direction_loss = reference(mask, direction, max_distance=3, threshold=0.7)
    assert terms["mask"].item() == pytest.approx(2.0 * mask_loss, rel=1e-6)
    assert terms["direction"].item() == pytest.approx(0.5 * direction_loss, rel=1e-6)
    assert loss(*as_torch(mask, direction)).item() == pytest.approx(
        2.0 * mask_loss + 0.5 * direction_loss, rel=1e-6)


def test_logits_are_upsampled_to_the_target_size():
    rng = np.random.default_rng(2)
    mask_low, direction_low = rng.normal(size=(1, 2, 2, 2)), rng.normal(size=(1, 8, 3, 3))
    terms = SegFixLoss().terms(*as_torch(mask_low, direction_low))
    mask_loss, direction_loss = reference(bilinear_align_corners(mask_low, (4, 4)),
                                          bilinear_align_corners(direction_low, (4, 4)))
    assert terms["mask"].item() == pytest.approx(mask_loss, rel=1e-5)
    assert terms["direction"].item() == pytest.approx(direction_loss, rel=1e-5)


def test_direction_bins_on_bin_edges_follow_the_original():
    # bin 0 covers angle ≤ −157.5 or > 157.5; bin i covers (−180 + 45i − 22.5, −180 + 45i + 22.5]
    angles = [-180.0, -157.5, -157.4, -112.5, -67.5, -22.5, 0.0, 22.5, 22.6, 67.5, 112.5, 157.5,
              157.6, 180.0]
    expected = [0, 0, 1, 1, 2, 3, 4, 4, 5, 5, 6, 7, 0, 0]
    angle = torch.tensor(angles, dtype=torch.float32)[None]
    label = torch.zeros_like(angle, dtype=torch.long)
    got = direction_target(angle, label, IGNORE, supervised=torch.ones_like(label, dtype=torch.bool))
    assert got[0].tolist() == expected
    assert direction_bin(np.array(angles)).tolist() == expected  # the test's own formula agrees
    # not supervised (no predicted boundary) or ignored label → ignore
    label[0, 0] = IGNORE
    supervised = torch.ones_like(label, dtype=torch.bool)
    supervised[0, 1] = False
    got = direction_target(angle, label, IGNORE, supervised=supervised)
    assert got[0, :2].tolist() == [IGNORE, IGNORE] and got[0, 2:].tolist() == expected[2:]


def test_gradient_flows_and_inputs_are_untouched():
    outputs, target = as_torch(*example())
    before = ({k: v.detach().clone() for k, v in outputs.items()},
              {k: v.clone() for k, v in target.items()})
    SegFixLoss()(outputs, target).backward()
    for key in ("mask", "direction"):
        assert outputs[key].grad.abs().sum() > 0
        assert torch.equal(outputs[key].detach(), before[0][key])
    for key, value in target.items():
        assert torch.equal(value, before[1][key])


def test_no_predicted_boundary_gives_a_zero_direction_term_not_nan():
    mask, direction = example()
    mask[:, 1] = -5.0  # nothing predicted as boundary: the original divides 0 by 0 here
    outputs, target = as_torch(mask, direction)
    terms = SegFixLoss().terms(outputs, target)
    sum(terms.values()).backward()
    assert terms["direction"].item() == 0.0 and torch.isfinite(terms["mask"])
    assert torch.isfinite(outputs["direction"].grad).all()


def test_target_keys_and_wrong_outputs():
    loss = SegFixLoss()
    batch = {"image": None, "label": 1, "distance": 2, "angle": 3, "name": "x"}
    assert loss.target_from_batch(batch) == {"label": 1, "distance": 2, "angle": 3}
    with pytest.raises(OcsegError, match="needs batch entries"):
        loss.target_from_batch({"label": 1})
    with pytest.raises(OcsegError, match="SegFix model"):
        loss({"out": torch.zeros(1, 19, 4, 4)}, as_torch(*example())[1])


def test_bf16_autocast_gives_the_float32_value():
    outputs, target = as_torch(*example())
    ref = SegFixLoss()(outputs, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = SegFixLoss()(outputs, target)
    assert got.dtype == torch.float32 and got.item() == pytest.approx(ref.item(), rel=1e-6)
