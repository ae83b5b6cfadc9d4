"""CE and OHEM losses against hand-checkable worked examples (numpy float64 references)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.loss_references import IGNORE, bilinear_align_corners, nll, weighted_ce
from ocseg.errors import OcsegError
from ocseg.losses import CrossEntropy, OhemCrossEntropy
from ocseg.losses.ohem import ohem_keep_mask

# 2 classes, one image of 4×4 pixels; logits of class 1 minus class 0 are the numbers below, so
# p(class 1) = sigmoid(margin) can be read off by hand.
MARGIN = np.array([[-3.0, -2.0, -1.0, 0.0],
                   [0.5, 1.0, 1.5, 2.0],
                   [2.5, 3.0, -0.5, -1.5],
                   [4.0, -4.0, 0.25, -0.25]])
LABEL = np.array([[0, 0, 1, 1],
                  [1, 0, 1, 255],
                  [1, 1, 0, 0],
                  [255, 1, 1, 0]])


def example_logits() -> np.ndarray:
    return np.stack([np.zeros_like(MARGIN), MARGIN])[None]  # 1×2×4×4


def tensors(logits: np.ndarray, label: np.ndarray, aux: np.ndarray | None = None):
    out = {"out": torch.tensor(logits, dtype=torch.float32, requires_grad=True)}
    if aux is not None:
        out["aux"] = torch.tensor(aux, dtype=torch.float32, requires_grad=True)
    return out, torch.tensor(label, dtype=torch.int64).reshape(1, *label.shape[-2:])


def test_ce_worked_example_with_aux_and_class_weights():
    logits, aux = example_logits(), -0.5 * example_logits()
    outputs, label = tensors(logits, LABEL, aux)
    plain = CrossEntropy(class_weights=None).terms(outputs, label)
    assert plain["seg"].item() == pytest.approx(weighted_ce(logits, LABEL[None]), rel=1e-6)
    assert plain["aux"].item() == pytest.approx(0.4 * weighted_ce(aux, LABEL[None]), rel=1e-6)
    # class weights change the weighted mean: Σ w_y·nll / Σ w_y
    weights = [0.25, 2.0]
    weighted = CrossEntropy(class_weights=weights).terms(outputs, label)
    expected = weighted_ce(logits, LABEL[None], weights)
    assert weighted["seg"].item() == pytest.approx(expected, rel=1e-6)
    assert abs(expected - plain["seg"].item()) > 0.05
    # by hand for the two-weight case: the mean of w_y·nll over the 14 valid pixels / mean w_y
    valid = LABEL != IGNORE
    w = np.where(LABEL == 1, 2.0, 0.25)[valid]
    assert expected == pytest.approx((w * nll(logits, LABEL[None])[0][valid]).sum() / w.sum())
    total = CrossEntropy(class_weights=weights, aux_weight=0.4)(outputs, label)
    assert total.item() == pytest.approx(expected + 0.4 * weighted_ce(aux, LABEL[None], weights), rel=1e-6)


def test_ce_upsamples_logits_bilinearly_with_align_corners():
    rng = np.random.default_rng(0)
    low = rng.normal(size=(2, 3, 3, 4))
    label = rng.integers(0, 3, size=(2, 7, 10))
    label[0, :2] = IGNORE
    outputs = {"out": torch.tensor(low, dtype=torch.float32)}
    got = CrossEntropy(aux_weight=0.4)(outputs, torch.tensor(label))  # no aux output: no aux term
    expected = weighted_ce(bilinear_align_corners(low, (7, 10)), label)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_ohem_keeps_exactly_the_expected_pixels():
    logits = example_logits()
    _, label = tensors(logits, LABEL)
    prob_gt = np.where(LABEL == 1, 1 / (1 + np.exp(-MARGIN)), 1 / (1 + np.exp(MARGIN)))
    # by hand: label-1 pixels give σ(margin), label-0 pixels σ(−margin); the 14 valid ground-truth
    # probabilities sorted ascending are σ of
    by_hand = [-4, -1, -1, 0, 0.25, 0.25, 0.5, 0.5, 1.5, 1.5, 2, 2.5, 3, 3]
    sorted_valid = np.sort(prob_gt[LABEL != IGNORE])
    np.testing.assert_allclose(sorted_valid, 1 / (1 + np.exp(-np.array(by_hand))))
    cases = {
        # thresh dominates: threshold max(sorted[3] = 0.5, 0.7) = 0.7 → the 8 pixels up to σ(0.5)
        (0.7, 3): (prob_gt < 0.7, 8),
        # min_kept dominates: threshold sorted[10] = σ(2) → strictly below it: 10 pixels
        (0.3, 10): (prob_gt < sorted_valid[10], 10),
        # ties at the threshold are dropped (strict <): sorted[4] == sorted[5] = σ(0.25), so
        # min_kept 4 and 5 both keep only 4 pixels
        (0.1, 4): (prob_gt < sorted_valid[4], 4),
        (0.1, 5): (prob_gt < sorted_valid[4], 4),
        # min_kept beyond the pixel count: index n − 1 = σ(3), held by two pixels → 12 kept
        (0.1, 1000): (prob_gt < sorted_valid[-1], 12),
    }
    for (thresh, min_kept), (expected, count) in cases.items():
        expected = expected & (LABEL != IGNORE)
        keep = ohem_keep_mask(torch.tensor(logits, dtype=torch.float32), label, thresh, min_kept, IGNORE)
        assert keep[0].numpy().tolist() == expected.tolist(), (thresh, min_kept)
        assert int(keep.sum()) == count, (thresh, min_kept)


def test_ohem_value_is_plain_mean_of_weighted_pixel_ce_and_aux_is_plain_ce():
    logits, aux = example_logits(), 0.3 * example_logits()
    outputs, label = tensors(logits, LABEL, aux)
    weights = [0.5, 1.5]
    loss = OhemCrossEntropy(ohem_thresh=0.7, min_kept=3, class_weights=weights)
    terms = loss.terms(outputs, label)
    prob_gt = np.where(LABEL == 1, 1 / (1 + np.exp(-MARGIN)), 1 / (1 + np.exp(MARGIN)))
    kept = (prob_gt < 0.7) & (LABEL != IGNORE)
    per_pixel = np.where(LABEL == 1, 1.5, 0.5) * nll(logits, LABEL[None])[0]
    # the original divides by the number of kept pixels, not by the sum of their weights
    assert terms["seg"].item() == pytest.approx(per_pixel[kept].mean(), rel=1e-6)
    assert terms["aux"].item() == pytest.approx(0.4 * weighted_ce(aux, LABEL[None], weights), rel=1e-6)
    unweighted = OhemCrossEntropy(ohem_thresh=0.7, min_kept=3).terms(outputs, label)["seg"]
    assert unweighted.item() == pytest.approx(nll(logits, LABEL[None])[0][kept].mean(), rel=1e-6)


@pytest.mark.parametrize("make", [CrossEntropy, OhemCrossEntropy])
def test_gradient_flows_and_inputs_are_untouched(make):
    outputs, label = tensors(example_logits(), LABEL, example_logits() * 0.1)
    before = {k: v.detach().clone() for k, v in outputs.items()}, label.clone()
    make(class_weights=[1.0, 2.0])(outputs, label).backward()
    for key in ("out", "aux"):
        assert outputs[key].grad is not None and outputs[key].grad.abs().sum() > 0
        assert torch.equal(outputs[key].detach(), before[0][key])
    assert torch.equal(label, before[1])


@pytest.mark.parametrize("make", [CrossEntropy, OhemCrossEntropy])
def test_all_ignored_batch_gives_zero_not_nan(make):
    outputs, label = tensors(example_logits(), np.full((4, 4), IGNORE), example_logits())
    total = make(class_weights=[1.0, 2.0])(outputs, label)
    total.backward()
    assert total.item() == 0.0 and torch.isfinite(outputs["out"].grad).all()


def test_bf16_autocast_gives_the_float32_value():
    outputs, label = tensors(example_logits(), LABEL, example_logits())
    ref = OhemCrossEntropy(ohem_thresh=0.7, min_kept=3, class_weights=[1.0, 2.0])(outputs, label)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = OhemCrossEntropy(ohem_thresh=0.7, min_kept=3, class_weights=[1.0, 2.0])(outputs, label)
    assert got.dtype == torch.float32 and got.item() == pytest.approx(ref.item(), rel=1e-6)


def test_bad_labels_and_class_weights_raise_one_clear_error():
    outputs, _ = tensors(example_logits(), LABEL)
    with pytest.raises(OcsegError, match="label values \\[7\\]"):
        CrossEntropy()(outputs, torch.full((1, 4, 4), 7))
    with pytest.raises(OcsegError, match="class_weights has 3 entries"):
        CrossEntropy(class_weights=[1, 1, 1])(outputs, torch.tensor(LABEL)[None])
    with pytest.raises(OcsegError, match="loss=segfix"):
        CrossEntropy()({"mask": outputs["out"]}, torch.tensor(LABEL)[None])


def test_images_per_chunk_mines_min_kept_per_chunk_and_averages_the_chunks():
    """The original ran the loss per GPU on its share of the batch (DataParallelCriterion /
    one loss per DDP rank) and averaged: OHEM's min_kept counts per chunk."""
    first, second = example_logits(), -0.5 * example_logits()
    logits = np.concatenate([first, second])                       # 2 images
    label = np.stack([LABEL, np.where(LABEL == IGNORE, IGNORE, 1 - LABEL)])
    aux = 0.3 * logits
    outputs = {"out": torch.tensor(logits, dtype=torch.float32),
               "aux": torch.tensor(aux, dtype=torch.float32)}
    target = torch.tensor(label)
    loss = dict(ohem_thresh=0.1, min_kept=6, class_weights=[0.5, 1.5])
    chunked = OhemCrossEntropy(images_per_chunk=1, **loss).terms(outputs, target)
    whole = OhemCrossEntropy(**loss).terms(outputs, target)
    per_image = [OhemCrossEntropy(**loss).terms({k: v[i:i + 1] for k, v in outputs.items()}, target[i:i + 1])
                 for i in range(2)]
    for term in ("seg", "aux"):
        expected = (per_image[0][term] + per_image[1][term]) / 2
        assert chunked[term].item() == pytest.approx(expected.item(), rel=1e-6)
    # by hand: min_kept 6 per image keeps the 6 hardest of each image (threshold 0.1 is lower),
    # i.e. 12 pixels; over the whole batch only the 6 hardest of both images together
    keep = [ohem_keep_mask(outputs["out"][i:i + 1], target[i:i + 1], 0.1, 6, IGNORE).sum() for i in range(2)]
    assert [int(k) for k in keep] == [6, 6]
    assert int(ohem_keep_mask(outputs["out"], target, 0.1, 6, IGNORE).sum()) == 6
    assert abs(chunked["seg"].item() - whole["seg"].item()) > 1e-3
    # a chunk as large as the batch is the whole batch; chunks of 2 over 3 images: 2 + 1
    same = OhemCrossEntropy(images_per_chunk=2, **loss).terms(outputs, target)
    assert same["seg"].item() == pytest.approx(whole["seg"].item(), rel=1e-6)
    three = {k: torch.cat([v, v[:1]]) for k, v in outputs.items()}
    got = OhemCrossEntropy(images_per_chunk=2, **loss).terms(three, torch.cat([target, target[:1]]))
    assert got["seg"].item() == pytest.approx((whole["seg"] + per_image[0]["seg"]).item() / 2, rel=1e-6)
    with pytest.raises(OcsegError, match="images_per_chunk"):
        OhemCrossEntropy(images_per_chunk=0)
