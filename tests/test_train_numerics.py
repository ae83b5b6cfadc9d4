"""A NaN/Inf loss stops training with one line naming the step, the loss term and the last good
checkpoint; with ``skip_nonfinite=true`` the batch is skipped without changing any weight,
BatchNorm statistic or momentum buffer, on every DDP process alike; fp16 overflow streaks are
reported once with what to do."""

from __future__ import annotations

import csv
import json
import logging
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from ocseg.app.cli import run_task
from ocseg.errors import OcsegError
from ocseg.lightning import SegmentationModule
from ocseg.lightning.numerics import NumericsGuard
from ocseg.tasks.train import train

BAD_STEP = 3


def poison_loss_term(monkeypatch, term: str = "aux", step: int = BAD_STEP) -> None:
    """The loss term ``term`` is NaN in the batch of optimizer step ``step``."""
    original = SegmentationModule._loss_terms

    def terms(self, outputs, batch):
        result = original(self, outputs, batch)
        if self.training and self.trainer.global_step == step:
            result[term] = result[term] * float("nan")
        return result

    monkeypatch.setattr(SegmentationModule, "_loss_terms", terms)


def test_nonfinite_loss_stops_with_one_line_naming_step_term_and_last_checkpoint(
        tiny_cfg, tmp_path, monkeypatch, capsys, single_thread):
    cfg = tiny_cfg("model=tiny_fcn", "schedule.max_steps=6", "schedule.val_every=6",
                   "schedule.checkpoint_every=2")
    poison_loss_term(monkeypatch, "aux")
    with pytest.raises(SystemExit) as stop:
        run_task(train, cfg)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert f"non-finite loss at step {BAD_STEP} in loss term aux (terms: seg=" in line
    assert "aux=nan" in line and f"last good checkpoint is {last}" in line
    assert "skip_nonfinite=true" in line and "ckpt_path=last" in line
    assert "Traceback" not in err and not (tmp_path / "run" / "metrics.json").exists()
    saved = torch.load(last, map_location="cpu", weights_only=True)
    assert saved["global_step"] == 2
    weights = {k: v for k, v in saved["state_dict"].items()
               if k.startswith("net.") and isinstance(v, torch.Tensor)}
    assert weights and all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


class StateRecorder(Callback):
    """Copies parameters, buffers and optimizer state around every training batch."""

    def __init__(self):
        self.before, self.after = {}, {}

    @staticmethod
    def _state(trainer, module):
        optim = trainer.optimizers[0].state
        return {"params": {k: v.detach().clone() for k, v in module.net.named_parameters()},
                "buffers": {k: v.detach().clone() for k, v in module.net.named_buffers()},
                "momentum": {id(p): s["momentum_buffer"].clone() for p, s in optim.items()}}

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.before[trainer.global_step] = self._state(trainer, module)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.after[trainer.global_step - 1] = self._state(trainer, module)


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_skip_nonfinite_skips_the_batch_and_changes_nothing(tiny_cfg, tmp_path, monkeypatch,
                                                            single_thread):
    cfg = tiny_cfg("model=tiny_fcn", "schedule.max_steps=6", "schedule.val_every=6",
                   "skip_nonfinite=true")
    original_step = SegmentationModule.training_step

    def nan_pixels(self, batch, batch_idx):  # NaN input poisons BatchNorm in the forward pass
        if self.trainer.global_step == BAD_STEP:
            batch["image"][0, :, :8, :8] = float("nan")
        return original_step(self, batch, batch_idx)

    recorder = StateRecorder()
    monkeypatch.setattr(SegmentationModule, "training_step", nan_pixels)
    monkeypatch.setattr(SegmentationModule, "configure_callbacks",
                        lambda self: [NumericsGuard(skip_nonfinite=True), recorder])
    metrics = train(cfg)
    assert metrics["step"] == 6
    before, after = recorder.before[BAD_STEP], recorder.after[BAD_STEP]
    for part in ("params", "buffers", "momentum"):
        assert same(before[part], after[part]), part
        # an ordinary step changes each of them: the comparison can fail
        assert not same(recorder.before[BAD_STEP - 1][part], recorder.after[BAD_STEP - 1][part])
    assert all(torch.isfinite(v).all() for v in recorder.after[5]["params"].values())
    assert all(torch.isfinite(v).all() for v in recorder.after[5]["buffers"].values()
               if v.is_floating_point())
    rows = [r for r in csv.DictReader((tmp_path / "run" / "csv" / "metrics.csv").read_text().splitlines())
            if r.get("train/skipped_nonfinite")]
    counts = {int(r["step"]): float(r["train/skipped_nonfinite"]) for r in rows}
    assert counts == {s: float(s >= BAD_STEP) for s in range(6)}
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu",
                      weights_only=True)
    assert ckpt["callbacks"]["NumericsGuard"] == {"skipped": 1}   # the count survives a resume
    assert ckpt["global_step"] == 6 and json.loads((tmp_path / "run" / "metrics.json").read_text())


def fake_trainer(world_size: int = 1, other_ranks_bad: bool = False, scaler=None, rank: int = 0):
    strategy = SimpleNamespace(reduce=lambda t, reduce_op: t + float(other_ranks_bad))
    return SimpleNamespace(world_size=world_size, strategy=strategy, global_step=7, callbacks=[],
                           ckpt_path=None, precision_plugin=SimpleNamespace(scaler=scaler),
                           global_rank=rank)


def test_every_process_takes_the_decision_of_the_worst_one(caplog):
    module = SimpleNamespace(loss_terms={"seg": torch.tensor(0.5)})
    fine = torch.tensor(0.5)
    skip = NumericsGuard(skip_nonfinite=True)
    with caplog.at_level(logging.WARNING, logger="ocseg.lightning.numerics"):
        skip.on_before_backward(fake_trainer(2, other_ranks_bad=True), module, fine)
        assert skip._skipping and not caplog.records  # another process' loss; that one says it
        bad = SimpleNamespace(loss_terms={"seg": torch.tensor(float("nan"))})
        NumericsGuard(skip_nonfinite=True).on_before_backward(fake_trainer(2, rank=1), bad,
                                                              torch.tensor(float("nan")))
    assert [r.getMessage() for r in caplog.records] == [
        "skipping step 7: non-finite loss in loss term seg (terms: seg=nan) (skip_nonfinite=true)"]
    with pytest.raises(OcsegError, match="at step 7 in another process"):
        NumericsGuard().on_before_backward(fake_trainer(2, other_ranks_bad=True), module, fine)
    NumericsGuard().on_before_backward(fake_trainer(2), module, fine)  # all finite: nothing


def test_with_accumulated_batches_a_bad_first_batch_drops_the_whole_step():
    """trainer.accumulate_grad_batches=2: the NaN gradients of batch 1 are summed into the step
    that batch 2 ends, so that step is dropped although batch 2's loss is finite."""
    param = torch.nn.Parameter(torch.ones(2))
    optimizer = torch.optim.SGD([param], lr=0.1)
    module = torch.nn.BatchNorm1d(2)
    module.log = lambda *args, **kwargs: None
    module.loss_terms = {"seg": torch.tensor(float("nan"))}
    guard = NumericsGuard(skip_nonfinite=True)
    guard.on_train_batch_start(fake_trainer(), module, None, 0)
    guard.on_before_backward(fake_trainer(), module, torch.tensor(float("nan")))
    param.grad = torch.full((2,), float("nan"))
    guard.on_train_batch_end(fake_trainer(), module, None, None, 0)
    module.loss_terms = {"seg": torch.tensor(0.5)}
    guard.on_train_batch_start(fake_trainer(), module, None, 1)
    guard.on_before_backward(fake_trainer(), module, torch.tensor(0.5))
    guard.on_before_optimizer_step(fake_trainer(), module, optimizer)
    assert param.grad is None and guard.skipped == 1
    param.grad = torch.ones(2)   # the next step is a normal one
    guard.on_train_batch_end(fake_trainer(), module, None, None, 1)
    guard.on_train_batch_start(fake_trainer(), module, None, 2)
    guard.on_before_backward(fake_trainer(), module, torch.tensor(0.5))
    guard.on_before_optimizer_step(fake_trainer(), module, optimizer)
    assert param.grad is not None and guard.skipped == 1


def test_a_run_of_nonfinite_batches_stops_even_when_skipping():
    guard = NumericsGuard(skip_nonfinite=True, max_consecutive_skips=3)
    module = SimpleNamespace(loss_terms={"rmi": torch.tensor(float("inf"))})
    nan = torch.tensor(float("inf"))
    guard.on_before_backward(fake_trainer(), module, nan)
    guard.on_before_backward(fake_trainer(), module, torch.tensor(1.0))  # a good batch resets
    guard.on_before_backward(fake_trainer(), module, nan)
    guard.on_before_backward(fake_trainer(), module, nan)
    with pytest.raises(OcsegError, match="3 batches in a row had a non-finite loss .* in loss term "
                                         "rmi .* lower schedule.lr"):
        guard.on_before_backward(fake_trainer(), module, nan)


def test_fp16_overflow_streak_is_reported_once_per_streak(caplog):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 16)
    trainer = fake_trainer(scaler=scaler)
    guard = NumericsGuard(overflow_streak=4)
    guard.on_train_start(trainer, None)
    x = torch.randn(8, 4)
    overflowing = [True] * 6 + [False] * 2 + [True] * 4 + [False]
    module = SimpleNamespace(log=lambda *a, **k: None)
    with caplog.at_level(logging.WARNING, logger="ocseg.lightning.numerics"):
        for step, overflow in enumerate(overflowing):
            optimizer.zero_grad()
            weight = model.weight.detach().clone()
            loss = model(x).square().mean() * (1e38 if overflow else 1.0)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            # a real GradScaler: overflowing steps are skipped, the others update the weights
            assert torch.equal(model.weight, weight) == overflow
            guard.on_train_batch_end(trainer, module, None, None, step)
        quiet = NumericsGuard(overflow_streak=1)  # a streak on another process: rank zero says it
        quiet.overflows.update(2 * float(scaler.get_scale()))
        quiet.on_train_batch_end(fake_trainer(scaler=scaler, rank=1), module, None, None, 0)
        assert quiet.overflows.length == 1
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings
    assert "skipped the last 4 optimizer steps in a row" in warnings[0]
    assert "trainer.precision=bf16-mixed" in warnings[0] and "schedule.lr" in warnings[0]
    assert "loss scale now 4096" in warnings[0]   # 2^16 halved four times


def test_fp16_overflow_streak_through_lightnings_16_mixed_plugin(tiny_cfg, monkeypatch, caplog,
                                                                 single_thread):
    """Lightning's own 16-mixed precision plugin on CPU (given as a plugin: the precision flag
    16-mixed is turned into bf16-mixed on CPU). A huge loss in steps 2-6 overflows the fp16
    gradients: the GradScaler skips those steps and the guard reports the streak once; the huge
    (finite) loss is not taken for a non-finite one, although loss × scale is not finite."""
    from omegaconf import open_dict

    cfg = tiny_cfg("model=tiny_fcn", "schedule.max_steps=8", "schedule.val_every=8",
                   "trainer.precision=null", "logger=none")
    with open_dict(cfg):
        cfg.trainer.plugins.append({"_target_": "lightning.pytorch.plugins.MixedPrecision",
                                    "precision": "16-mixed", "device": "cpu"})
    original = SegmentationModule._loss_terms

    def huge(self, outputs, batch):
        terms = original(self, outputs, batch)
        if 2 <= self.trainer.global_step <= 6:
            terms = {name: value * 1e36 for name, value in terms.items()}
        return terms

    monkeypatch.setattr(SegmentationModule, "_loss_terms", huge)
    monkeypatch.setattr(SegmentationModule, "configure_callbacks",
                        lambda self: [NumericsGuard(overflow_streak=4)])
    with caplog.at_level(logging.WARNING, logger="ocseg.lightning.numerics"):
        metrics = train(cfg)
    assert metrics["step"] == 8
    warnings = [r.getMessage() for r in caplog.records if r.name == "ocseg.lightning.numerics"]
    assert len(warnings) == 1 and "skipped the last 4 optimizer steps in a row" in warnings[0]
