"""Schedule, parameter groups, BN freezing and the offline wandb logger."""

from __future__ import annotations

import math

import pytest
import torch
from hydra.utils import instantiate

from ocseg.optim import PolyWithWarmup, backbone_head_groups


def test_poly_decay_and_warmup_values():
    poly = PolyWithWarmup(max_steps=100, power=0.9)
    assert poly(0) == 1.0
    assert math.isclose(poly(50), 0.5 ** 0.9)
    assert poly(100) == 0.0 and poly(150) == 0.0
    warm = PolyWithWarmup(max_steps=100, power=0.9, warmup_steps=10, warmup_start_factor=0.1)
    assert math.isclose(warm(0), 0.1)
    assert math.isclose(warm(5), (1 - 0.05) ** 0.9 * (0.1 + 0.9 * 0.5))
    assert math.isclose(warm(10), 0.9 ** 0.9)


def test_two_parameter_groups_with_head_multiplier(tiny_cfg):
    cfg = tiny_cfg("schedule.lr=0.02", "schedule.head_lr_mult=10", "schedule.warmup_steps=2")
    module = instantiate(cfg.module, _convert_="object")
    opt = module.configure_optimizers()["optimizer"]
    assert [g["name"] for g in opt.param_groups] == ["backbone", "head"]
    assert [g["initial_lr"] for g in opt.param_groups] == pytest.approx([0.02, 0.2])
    # step 0 of a 2-step warm-up starts at warmup_start_factor (0.1) of the base rates
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.002, 0.02])
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9
    n_backbone = sum(p.numel() for p in module.net.backbone.parameters())
    assert sum(p.numel() for p in opt.param_groups[0]["params"]) == n_backbone
    groups = backbone_head_groups(module.net, 1.0, 2.0)
    assert sum(len(g["params"]) for g in groups) == len(list(module.net.parameters()))


def test_freeze_bn_keeps_running_stats(tiny_cfg):
    cfg = tiny_cfg("model.freeze_bn=true")
    module = instantiate(cfg.module, _convert_="object")
    module.train()
    bns = [m for m in module.net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(not m.training for m in bns)
    before = [m.running_mean.clone() for m in bns]
    module.net(torch.randn(2, 3, 32, 32) * 5)
    assert all(torch.equal(a, m.running_mean) for a, m in zip(before, bns))


def test_wandb_logger_works_offline(tiny_cfg, tmp_path):
    cfg = tiny_cfg("logger=wandb")
    logger = instantiate(cfg.logger.wandb)
    logger.log_metrics({"train/loss": 1.0}, step=1)
    logger.experiment.finish()
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))


def test_debug_fdr_runs_one_batch_without_checkpoints(tiny_cfg, tmp_path):
    from ocseg.tasks.train import train

    metrics = train(tiny_cfg("debug=fdr"))
    assert metrics["step"] == 1
    assert not list(tmp_path.rglob("*.ckpt"))


def test_global_batch_is_divided_over_processes(tiny_cfg):
    from ocseg.errors import OcsegError
    from ocseg.lightning.datamodule import per_device_batch

    assert [per_device_batch(16, n) for n in (1, 2, 4, 8, 16)] == [16, 8, 4, 2, 1]
    with pytest.raises(OcsegError, match=r"data.global_batch_size=16 does not divide over 3 "
                                         r"processes.*data.batch_size="):
        per_device_batch(16, 3)
    cfg = tiny_cfg("~data.batch_size", "data.global_batch_size=8")
    datamodule = instantiate(cfg.data)
    assert datamodule.set_world_size(2) == 4
    assert instantiate(tiny_cfg("data.batch_size=3").data).set_world_size(2) == 3  # per device wins
