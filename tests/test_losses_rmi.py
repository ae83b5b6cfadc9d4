"""RMI loss against a float64 numpy reference of the original's steps; degenerate inputs,
autocast, the Cholesky fallback, and label immutability."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from helpers.loss_references import IGNORE, rmi_reference, weighted_ce
from ocseg.errors import OcsegError
from ocseg.losses import RMILoss
from ocseg.losses.rmi import half_logdet


def make_inputs(shape=(2, 3, 13, 14), seed=0, ignore_rows=2):
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    logits = rng.normal(scale=2.0, size=shape)
    # blocky labels, so neighbourhoods are correlated like real segmentations
    label = np.kron(rng.integers(0, c, size=(n, (h + 2) // 3, (w + 2) // 3)), np.ones((1, 3, 3), int))
    label = label[:, :h, :w].copy()
    label[:, :ignore_rows] = IGNORE
    return logits, label


def run(loss, logits, label, aux=None):
    outputs = {"out": torch.tensor(logits, dtype=torch.float32, requires_grad=True)}
    if aux is not None:
        outputs["aux"] = torch.tensor(aux, dtype=torch.float32, requires_grad=True)
    return outputs, loss.terms(outputs, torch.tensor(label))


def test_hand_sized_example_without_pooling():
    # 2 classes, 4×4 pixels, radius 3, no pooling: 4 neighbourhood vectors of 9 pixels each
    logits = np.stack([np.zeros((4, 4)), np.arange(16.0).reshape(4, 4) / 4 - 2])[None]
    label = np.array([[[0, 0, 1, 1], [0, 0, 1, 1], [0, 1, 1, 1], [255, 1, 1, 1]]])
    _, terms = run(RMILoss(rmi_pool_size=1, aux_weight=0.4), logits, label)
    bce, rmi = rmi_reference(logits, label, radius=3, pool=1)
    assert terms["bce"].item() == pytest.approx(0.5 * bce, rel=1e-5)
    assert terms["rmi"].item() == pytest.approx(0.5 * rmi, rel=1e-5, abs=1e-6)
    assert "aux" not in terms  # no aux output given


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_float64_reference_with_pooling_ignore_and_aux(seed):
    logits, label = make_inputs(seed=seed)
    aux = np.random.default_rng(seed + 10).normal(size=(2, 3, 5, 6))
    loss = RMILoss(rmi_radius=3, rmi_pool_size=3, rmi_lambda=0.5, aux_weight=0.4, class_weights=None)
    outputs, terms = run(loss, logits, label, aux)
    bce, rmi = rmi_reference(logits, label, radius=3, pool=3)
    assert terms["bce"].item() == pytest.approx(0.5 * bce, rel=1e-5)
    assert terms["rmi"].item() == pytest.approx(0.5 * rmi, rel=1e-5, abs=1e-6)
    import torch.nn.functional as F

    aux_up = F.interpolate(outputs["aux"].detach().double(), size=label.shape[-2:], mode="bilinear",
                           align_corners=True).numpy()
    assert terms["aux"].item() == pytest.approx(0.4 * weighted_ce(aux_up, label), rel=1e-5)
    total = loss(outputs, torch.tensor(label))
    assert total.item() == pytest.approx(0.5 * bce + 0.5 * rmi + terms["aux"].item(), rel=1e-5)


def test_lambda_and_radius_are_honoured():
    logits, label = make_inputs(shape=(1, 2, 16, 16), seed=3)
    _, terms = run(RMILoss(rmi_radius=2, rmi_pool_size=2, rmi_lambda=0.25), logits, label)
    bce, rmi = rmi_reference(logits, label, radius=2, pool=2)
    assert terms["bce"].item() == pytest.approx(0.25 * bce, rel=1e-5)
    assert terms["rmi"].item() == pytest.approx(0.75 * rmi, rel=1e-5, abs=1e-6)


def test_degenerate_single_class_input_is_finite_and_differentiable():
    logits = np.zeros((2, 3, 12, 12))
    label = np.zeros((2, 12, 12), dtype=np.int64)
    outputs, terms = run(RMILoss(), logits, label)
    total = sum(terms.values())
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(outputs["out"].grad).all()
    bce, rmi = rmi_reference(logits, label)
    assert total.item() == pytest.approx(0.5 * bce + 0.5 * rmi, rel=1e-5)


def test_all_ignored_input_is_finite():
    logits, _ = make_inputs(shape=(1, 2, 9, 9))
    outputs, terms = run(RMILoss(), logits, np.full((1, 9, 9), IGNORE))
    sum(terms.values()).backward()
    assert all(torch.isfinite(v) for v in terms.values()) and torch.isfinite(outputs["out"].grad).all()


def test_gradient_flows_and_labels_are_never_modified():
    logits, label = make_inputs()
    label_t = torch.tensor(label)
    before = label_t.clone()
    outputs = {"out": torch.tensor(logits, dtype=torch.float32, requires_grad=True),
               "aux": torch.zeros(2, 3, 5, 6, requires_grad=True)}
    terms = RMILoss().terms(outputs, label_t)
    terms["rmi"].backward(retain_graph=True)
    assert outputs["out"].grad.abs().sum() > 0  # the RMI part alone reaches the logits
    sum(terms.values()).backward()
    assert outputs["aux"].grad.abs().sum() > 0
    assert torch.equal(label_t, before) and (label_t == IGNORE).any()


def test_works_under_bf16_autocast():
    logits, label = make_inputs()
    loss = RMILoss()
    ref = loss(*run_inputs(logits, label))
    outputs, target = run_inputs(logits, label)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        same = loss(outputs, target)  # float32 logits: autocast must not change the maths
        low = {"out": outputs["out"].to(torch.bfloat16)}  # what a bf16 network would return
        approx = loss(low, target)
    approx.backward()
    assert same.dtype == torch.float32 and same.item() == pytest.approx(ref.item(), rel=1e-6)
    assert torch.isfinite(approx) and approx.item() == pytest.approx(ref.item(), rel=2e-2)
    assert torch.isfinite(outputs["out"].grad).all()


def run_inputs(logits, label):
    return {"out": torch.tensor(logits, dtype=torch.float32, requires_grad=True)}, torch.tensor(label)


def test_half_logdet_matches_cholesky_and_survives_non_pd_matrices(caplog):
    a = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    spd = a @ a.transpose(-2, -1) + 0.1 * torch.eye(4, dtype=torch.float64)
    expected = torch.log(torch.linalg.cholesky(spd).diagonal(dim1=-2, dim2=-1) + 1e-8).sum(-1)
    torch.testing.assert_close(half_logdet(spd), expected)
    broken = spd.clone()
    broken[0, 1] = -torch.eye(4, dtype=torch.float64) * 1e-3  # indefinite: plain Cholesky fails
    broken.requires_grad_(True)
    with caplog.at_level(logging.WARNING, logger="ocseg.losses.rmi"):
        got = half_logdet(broken)
    got.sum().backward()
    assert torch.isfinite(got).all() and torch.isfinite(broken.grad).all()
    torch.testing.assert_close(got[1], expected[1])  # healthy matrices are untouched
    assert "not positive-definite" in caplog.text


@pytest.mark.parametrize("case", ["saturated perfect", "near-constant", "constant"])
def test_near_singular_covariances_give_a_finite_loss_and_gradient(case):
    """Repeated label stripes make Σ_YY rank-deficient; saturated predictions equal to the labels
    leave Σ_YY − Σ_YP(Σ_PP + αI)⁻¹Σ_YPᵀ near zero; near-constant predictions make Σ_PP near zero."""
    n, c, h, w = 2, 3, 24, 24
    label = np.tile((np.arange(w) // 3) % c, (n, h, 1))
    onehot = np.eye(c)[label].transpose(0, 3, 1, 2)
    logits = {"saturated perfect": (onehot * 2 - 1) * 60.0,
              "near-constant": 1e-7 * np.random.default_rng(0).normal(size=(n, c, h, w)),
              "constant": np.zeros((n, c, h, w))}[case]
    if case == "constant":
        label = np.zeros_like(label)
    outputs, terms = run(RMILoss(), logits, label)
    total = sum(terms.values())
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(outputs["out"].grad).all()
    with np.errstate(over="ignore"):
        _, rmi = rmi_reference(logits, label)
    assert terms["rmi"].item() == pytest.approx(0.5 * rmi, rel=1e-5, abs=1e-6)


def test_half_logdet_of_singular_matrices_has_a_finite_gradient(caplog):
    """An all-zero covariance and a rank-one one pushed just below zero: the first Cholesky fails;
    the jittered retry gives finite values and gradients (the failed factor's backward is NaN)."""
    v = torch.arange(1.0, 10.0, dtype=torch.float64)[:, None]
    matrices = torch.stack([torch.zeros(9, 9, dtype=torch.float64),
                            v @ v.T * 1e6 - 1e-9 * torch.eye(9, dtype=torch.float64),
                            torch.eye(9, dtype=torch.float64)]).requires_grad_(True)
    with caplog.at_level(logging.WARNING, logger="ocseg.losses.rmi"):
        got = half_logdet(matrices)
    got.sum().backward()
    assert torch.isfinite(got).all() and torch.isfinite(matrices.grad).all()
    assert "2 of 3 covariance matrices are not positive-definite" in caplog.text
    # the zero matrix gets the smallest jitter (1e-6 of a diagonal clamped to ≥ 1): 9·log(1e-3)
    assert got[0].item() == pytest.approx(9 * np.log(1e-3 + 1e-8), rel=1e-9)
    assert got[2].item() == pytest.approx(9 * np.log(1 + 1e-8), rel=1e-9)   # healthy: untouched


def test_too_small_labels_raise_one_clear_error():
    logits, label = make_inputs(shape=(1, 2, 4, 4), ignore_rows=0)
    with pytest.raises(OcsegError, match="rmi_pool_size"):
        run(RMILoss(), logits, label)


def test_the_rmi_term_is_negative_with_a_floor_per_class():
    """Why RMI's train/loss is negative (docs/losses.md, "Reading the loss values"): the rmi term
    is 0.5·logdet of a regularised covariance / 9 per class, at least 0.5·ln(1e-3) each and
    exactly that for a class absent from every image; weighted by 1 − λ."""
    from ocseg.losses.rmi import POS_ALPHA

    floor = 0.5 * np.log(POS_ALPHA)  # ≈ −3.45 per class
    classes = 5
    logits, label = make_inputs((2, classes, 30, 33), seed=3)
    label = np.where(label == IGNORE, IGNORE, label % 3)           # classes 3 and 4 never appear
    _, terms = run(RMILoss(rmi_lambda=0.5), logits, label)
    rmi = float(terms["rmi"]) / 0.5
    assert floor * classes - 1e-4 <= rmi < 0
    # the two absent classes contribute exactly the floor: the term of the 3 present ones is
    # what a 3-class input with the same channels gives
    _, present = run(RMILoss(rmi_lambda=0.5), logits[:, :3], label)
    assert rmi == pytest.approx(float(present["rmi"]) / 0.5 + 2 * floor, abs=1e-3)
