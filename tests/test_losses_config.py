"""Every ``loss=`` config composes, instantiates with the documented defaults, and trains the
composed network (gradients reach its parameters)."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from helpers.config import compose
from ocseg.losses import CrossEntropy, OhemCrossEntropy, RMILoss, SegFixLoss

CITYSCAPES_WEIGHTS = [0.8373, 0.918, 0.866, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023,
                      0.9539, 0.9843, 1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507]


def build_loss(*overrides: str):
    cfg = compose("train", ["dataset=cityscapes", *overrides])
    return cfg, instantiate(cfg.loss)


@pytest.mark.parametrize("name, cls", [("ce", CrossEntropy), ("ohem", OhemCrossEntropy),
                                       ("rmi", RMILoss)])
def test_segmentation_losses_defaults_follow_the_original_configs(name, cls):
    cfg, loss = build_loss(f"loss={name}")
    assert type(loss) is cls
    assert (loss.seg_weight, loss.aux_weight, loss.ignore_index) == (1.0, 0.4, 255)
    assert loss.class_weights is None  # generic default; the Cityscapes recipes set the weights
    if name != "rmi":  # as a recipe does: the dataset's weights (the original's 19)
        cfg, loss = build_loss(f"loss={name}", "loss.class_weights=${dataset.class_weights}")
        assert loss.class_weights.tolist() == pytest.approx(CITYSCAPES_WEIGHTS)
        assert list(cfg.loss.class_weights) == list(cfg.dataset.class_weights)
    if name == "ohem":
        assert (loss.ohem_thresh, loss.min_kept) == (0.9, 100000)
    if name == "rmi":
        assert (loss.rmi_radius, loss.rmi_pool_size, loss.rmi_lambda) == (3, 3, 0.5)


def test_contract_parameters_are_overridable():
    _, ohem = build_loss("loss=ohem", "loss.ohem_thresh=0.7", "loss.min_kept=50000",
                         "loss.aux_weight=0.2", "loss.class_weights=null")
    assert (ohem.ohem_thresh, ohem.min_kept, ohem.aux_weight, ohem.class_weights) == (0.7, 50000, 0.2, None)
    _, rmi = build_loss("loss=rmi", "loss.rmi_radius=2", "loss.rmi_pool_size=2", "loss.rmi_lambda=0.3")
    assert (rmi.rmi_radius, rmi.rmi_pool_size, rmi.rmi_lambda) == (2, 2, 0.3)
    _, segfix = build_loss("loss=segfix", "loss.mask_weight=2", "loss.direction_weight=0.5",
                           "loss.mask_threshold=0.6", "loss.max_distance=3")
    assert type(segfix) is SegFixLoss
    assert (segfix.mask_weight, segfix.direction_weight, segfix.mask_threshold, segfix.max_distance) == \
        (2.0, 0.5, 0.6, 3.0)
    assert segfix.target_keys == ("label", "distance", "angle")


def test_segfix_defaults():
    _, loss = build_loss("loss=segfix")
    assert (loss.mask_weight, loss.direction_weight, loss.mask_threshold, loss.max_distance,
            loss.ignore_index) == (1.0, 1.0, 0.5, 5.0, 255)


@pytest.mark.parametrize("name", ["ce", "ohem", "rmi"])
def test_loss_trains_the_composed_network(name):
    overrides = [f"loss={name}"] + (["loss.min_kept=100"] if name == "ohem" else [])
    cfg = compose("train", overrides)
    torch.manual_seed(0)
    net = instantiate(cfg.net)
    loss = instantiate(cfg.loss)
    label = torch.randint(0, cfg.dataset.num_classes, (2, 48, 48))
    label[:, :4] = 255
    outputs = net(torch.randn(2, 3, 48, 48))
    terms = loss.terms(outputs, loss.target_from_batch({"label": label}))
    expected = {"ce": {"seg", "aux"}, "ohem": {"seg", "aux"}, "rmi": {"bce", "rmi", "aux"}}[name]
    assert set(terms) == expected
    total = loss(outputs, label)
    assert total.item() == pytest.approx(sum(t.item() for t in terms.values()), rel=1e-6)
    total.backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
