"""Schedule, parameter groups, BN freezing, the offline wandb logger and the hyperparameters
every logger receives."""

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


def test_the_scheduler_is_a_partial_next_to_the_optimizer(tiny_cfg):
    """Poly by default, stepped per optimizer step; any torch scheduler from the command line."""
    cfg = tiny_cfg("schedule.lr=0.02", "schedule.max_steps=10")
    schedule = instantiate(cfg.module, _convert_="object").configure_optimizers()["lr_scheduler"]
    scheduler = schedule["scheduler"]
    assert (schedule["interval"], schedule["frequency"]) == ("step", 1)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR)
    for _ in range(5):
        scheduler.optimizer.step()
        scheduler.step()
    assert scheduler.get_last_lr()[0] == pytest.approx(0.02 * 0.5 ** 0.9)
    constant = tiny_cfg("schedule.lr=0.02", "~schedule.scheduler.lr_lambda",
                        "schedule.scheduler._target_=torch.optim.lr_scheduler.ConstantLR",
                        "+schedule.scheduler.factor=0.5")
    scheduler = instantiate(constant.module, _convert_="object").configure_optimizers()["lr_scheduler"]["scheduler"]
    assert isinstance(scheduler, torch.optim.lr_scheduler.ConstantLR)
    assert scheduler.get_last_lr()[0] == pytest.approx(0.01)


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


def _sgd_steps(module, steps: int = 2) -> None:
    """``steps`` optimizer steps of ``module`` on random images (loss and SGD as in training)."""
    optimizer = module.configure_optimizers()["optimizer"]
    generator = torch.Generator().manual_seed(0)
    module.train()
    for _ in range(steps):
        images = torch.randn(2, 3, 32, 32, generator=generator) * 5
        label = torch.randint(0, 19, (2, 32, 32), generator=generator)
        optimizer.zero_grad()
        module.loss(module.net(images), label).backward()
        optimizer.step()


@pytest.mark.parametrize("freeze", ["true", "stats", "all", "false"])
def test_freeze_bn_keeps_batchnorm_statistics_and_optionally_the_affine_parameters(
        tiny_cfg, freeze, single_thread):
    """true = stats (the zoo's "freezing the BN statistics"): eval-mode BatchNorm, weight and bias
    trained; all: weight and bias out of the optimizer too; false: BatchNorm trains."""
    cfg = tiny_cfg(f"model.freeze_bn={freeze}", "schedule.weight_decay=0.1")
    module = instantiate(cfg.module, _convert_="object")
    bns = [m for m in module.net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    stats = {f"{i}.{k}": v.clone() for i, m in enumerate(bns) for k, v in m.state_dict().items()
             if k.startswith(("running_", "num_batches"))}
    affine = [p.detach().clone() for m in bns for p in m.parameters()]
    others = {n: p.detach().clone() for n, p in module.net.named_parameters()
              if not any(p is q for m in bns for q in m.parameters())}
    _sgd_steps(module)
    frozen = freeze != "false"
    assert bns and all(not m.training for m in bns) == frozen
    after = {f"{i}.{k}": v for i, m in enumerate(bns) for k, v in m.state_dict().items()}
    unchanged = [k for k, v in stats.items() if torch.equal(v, after[k])]
    assert (len(unchanged) == len(stats)) == frozen        # running mean/var and batch counter
    trained = [not torch.equal(a, p) for a, p in zip(affine, (p for m in bns for p in m.parameters()))]
    optimized = {id(p) for g in module.configure_optimizers()["optimizer"].param_groups for p in g["params"]}
    in_optimizer = [id(p) in optimized for m in bns for p in m.parameters()]
    if freeze == "all":  # no gradient, no weight decay
        assert not any(trained) and not any(in_optimizer)
        assert all(not p.requires_grad for m in bns for p in m.parameters())
    else:
        assert all(trained) and all(in_optimizer)
    # every other weight trains either way
    params = dict(module.net.named_parameters())
    assert all(not torch.equal(v, params[n]) for n, v in others.items())


def test_freeze_bn_refuses_an_unknown_value(tiny_cfg):
    from hydra.errors import InstantiationException

    from ocseg.errors import OcsegError

    with pytest.raises(InstantiationException) as raised:  # the CLI prints the cause's one line
        instantiate(tiny_cfg("model.freeze_bn=affine").module, _convert_="object")
    assert isinstance(raised.value.__cause__, OcsegError)
    assert str(raised.value.__cause__).startswith("model.freeze_bn='affine': use false, true (= stats")


def test_freeze_bn_holds_through_lightning_fit_and_validation(tiny_cfg, single_thread):
    """Lightning's fit never calls ``train()`` on the module: the frozen BatchNorms must still be
    in eval mode for every training step, before and after a validation."""
    from ocseg.tasks.train import build_module, build_trainer

    cfg = tiny_cfg("model.freeze_bn=true", "schedule.max_steps=3", "schedule.val_every=1",
                   "logger=none")
    module, datamodule = build_module(cfg), instantiate(cfg.data)
    frozen = {k: v.clone() for k, v in module.net.state_dict().items()
              if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    trainer = build_trainer(cfg)
    datamodule.set_world_size(trainer.world_size)
    trainer.fit(module, datamodule=datamodule)
    assert frozen and module.trained_steps == 3
    state = module.net.state_dict()
    assert [k for k, v in frozen.items() if not torch.equal(v, state[k])] == []


def test_wandb_logger_works_offline(tiny_cfg, tmp_path):
    cfg = tiny_cfg("logger=wandb")
    logger = instantiate(cfg.logger.wandb)
    logger.log_metrics({"train/loss": 1.0}, step=1)
    logger.experiment.finish()
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))


def test_run_config_reaches_every_logger_as_hyperparameters(tiny_cfg, tmp_path, single_thread):
    import wandb
    import yaml

    from ocseg.tasks.train import train

    cfg = tiny_cfg("logger=[csv,wandb]", "schedule.lr=0.0123", "schedule.max_steps=1",
                   "schedule.val_every=1", "+trainer.limit_val_batches=1")
    train(cfg)
    hparams = yaml.safe_load((tmp_path / "run" / "csv" / "hparams.yaml").read_text())
    assert hparams["schedule/lr"] == 0.0123 and hparams["model/name"] == cfg.model.name
    assert hparams["dataset/class_names"] == list(cfg.dataset.class_names)
    run = wandb.run  # the offline run the W&B logger started, still open
    try:
        assert run is not None and run.config["schedule/lr"] == 0.0123
        assert run.config["loss/_target_"] == cfg.loss._target_
    finally:
        wandb.finish()


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


def test_one_bf16_mixed_step_stays_close_to_fp32(tiny_cfg, single_thread):
    """trainer.precision=bf16-mixed on a CPU: one SGD step of a tiny OCR model (attention and
    loss kept in float32) lands close to the float32 step."""
    cfg = tiny_cfg("model=hrnet48_ocr", "backbone.variant=hrnet_tiny", "head.mid_channels=64",
                   "head.key_channels=32", "head.aux.mid_channels=64", "loss=rmi")
    results = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        module = instantiate(cfg.module, _convert_="object")
        module.train()
        optimizer = module.configure_optimizers()["optimizer"]
        generator = torch.Generator().manual_seed(1)
        # big enough that BatchNorm's batch statistics are not dominated by bf16 rounding
        images = torch.randn(8, 3, 64, 64, generator=generator)
        label = torch.randint(0, 19, (8, 64, 64), generator=generator)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            outputs = module.net(images)
            loss = module.loss(outputs, label)
        assert loss.dtype == torch.float32
        assert outputs["out"].dtype == (torch.bfloat16 if precision == "bf16" else torch.float32)
        before = torch.cat([p.detach().flatten().clone() for p in module.net.parameters()])
        loss.backward()
        optimizer.step()
        after = torch.cat([p.detach().flatten() for p in module.net.parameters()])
        results[precision] = (loss.item(), after - before)
    (loss32, step32), (loss16, step16) = results["fp32"], results["bf16"]
    assert loss16 == pytest.approx(loss32, rel=0.01)
    # loosely: the same direction and size (bf16 keeps 8 bits of mantissa in the convolutions)
    cosine = torch.nn.functional.cosine_similarity(step32, step16, dim=0)
    assert cosine > 0.85 and step16.norm().item() == pytest.approx(step32.norm().item(), rel=0.2)
