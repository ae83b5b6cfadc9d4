"""Numerical faults while training: a NaN/Inf loss and a fp16 loss-scale overflow streak.

A non-finite loss stops training with one line (:class:`~ocseg.errors.OcsegError`: ``error:``,
exit code 2) naming the step, the loss term and the last good checkpoint. The check runs before
the backward pass, so the weights in memory and on disk are those of the previous step. With
``skip_nonfinite=true`` the batch is skipped instead: its gradients are dropped before the
optimizer step, so SGD changes nothing (no momentum or weight-decay update either, as it would
with zeroed gradients), and the BatchNorm statistics the forward pass already updated are put
back; the step still counts for the schedule (as a GradScaler-skipped step does). With
``trainer.accumulate_grad_batches`` > 1 the whole optimizer step of a bad batch is dropped (its NaN
gradients are summed into that step). Skips are counted (``train/skipped_nonfinite``, kept in
checkpoints); ``max_consecutive_skips`` in a row stop the run, since then the weights or the
learning rate have diverged and skipping cannot help.
Under DDP every process takes the same decision: the non-finite flag is summed over processes.

Each check reads one scalar back from the device per step (a small pipeline stall on GPUs); skip
mode also copies the module's buffers (BatchNorm statistics) every step.

Under ``trainer.precision=16-mixed`` the GradScaler skips a step whenever the scaled gradients
overflow and halves the loss scale; a streak of ``overflow_streak`` such steps in a row means the
weights have stopped changing, which is reported once per streak with what to do. The NaN/Inf
check then reads the module's unscaled loss terms: a finite loss whose product with the loss scale
overflows is such a GradScaler-skipped step, not a non-finite loss.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from ocseg.errors import OcsegError

__all__ = ["NumericsGuard", "OverflowStreak"]

log = logging.getLogger(__name__)


class OverflowStreak:
    """Counts consecutive steps whose loss scale went down (the GradScaler's sign of an overflow
    and a skipped step); :meth:`update` is True exactly when the streak reaches ``limit``."""

    def __init__(self, limit: int = 10) -> None:
        self.limit = int(limit)
        self.length = 0
        self.scale: float | None = None

    def update(self, scale: float) -> bool:
        if self.scale is not None and scale < self.scale:
            self.length += 1
        else:
            self.length = 0
        self.scale = float(scale)
        return self.length == self.limit


def overflow_message(steps: int, scale: float) -> str:
    return (f"fp16 mixed precision (trainer.precision=16-mixed): the GradScaler skipped the last "
            f"{steps} optimizer steps in a row because the gradients overflowed (loss scale now "
            f"{scale:g}), so the weights are not being updated. Use trainer.precision=bf16-mixed on "
            "GPUs that have it (A100, H100, …: no loss scaling needed), or lower schedule.lr; an "
            "overflow from the first step on can also be a NaN/Inf in the data")


def _scaler(trainer: pl.Trainer):
    scaler = getattr(trainer.precision_plugin, "scaler", None)
    return scaler if scaler is not None and scaler.is_enabled() else None


def _format_terms(terms: dict[str, torch.Tensor]) -> str:
    return ", ".join(f"{name}={float(value):.4g}" for name, value in terms.items())


def last_good_checkpoint(trainer: pl.Trainer) -> str:
    """The newest checkpoint file this run wrote (or resumed from), for messages."""
    from ocseg.lightning.last_checkpoint import LastCheckpoint

    paths = []
    for cb in trainer.callbacks:
        if isinstance(cb, LastCheckpoint) and cb.saved_path:
            paths.append(cb.saved_path)
        if isinstance(cb, ModelCheckpoint):
            paths += [cb.best_model_path, cb.last_model_path]
    existing = [Path(p) for p in paths if p and Path(p).is_file()]
    if existing:
        return str(max(existing, key=lambda p: p.stat().st_mtime_ns))
    if trainer.ckpt_path:
        return f"{trainer.ckpt_path} (the checkpoint this run resumed)"
    return "none (no checkpoint was written before this step)"


class NumericsGuard(Callback):
    """Stops (or skips) on a non-finite loss and reports fp16 overflow streaks; see the module
    docstring. The module's ``loss_terms`` (a dict of the current batch's detached loss terms),
    when present, names the term at fault."""

    def __init__(self, skip_nonfinite: bool = False, max_consecutive_skips: int = 10,
                 overflow_streak: int = 10) -> None:
        self.skip_nonfinite = bool(skip_nonfinite)
        self.max_consecutive_skips = int(max_consecutive_skips)
        self.skipped = 0
        self._consecutive = 0
        self._skipping = False   # this batch's loss was non-finite
        self._drop_step = False  # so the optimizer step it belongs to is dropped
        self._saved_buffers: list[torch.Tensor] = []
        self.overflows = OverflowStreak(overflow_streak)

    # the skip count continues over a resume
    def state_dict(self) -> dict[str, Any]:
        return {"skipped": self.skipped}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.skipped = int(state_dict.get("skipped", 0))

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        scaler = _scaler(trainer)
        if scaler is not None:
            self.overflows.update(float(scaler.get_scale()))

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        self._skipping = False
        if self.skip_nonfinite:
            # the forward pass updates BatchNorm statistics before the loss is known
            self._saved_buffers = [b.detach().clone() for b in pl_module.buffers()]

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           loss: torch.Tensor) -> None:
        terms = getattr(pl_module, "loss_terms", None) or {}
        if _scaler(trainer) is not None and terms:
            # under 16-mixed ``loss`` is already multiplied by the loss scale: an overflow of that
            # product is the GradScaler's business (it skips the step), not a non-finite loss
            loss = torch.stack([value.float() for value in terms.values()]).sum()
        loss = loss.detach()
        bad = (~torch.isfinite(loss)).any().float()
        if trainer.world_size > 1:  # every process must stop or skip together
            bad = trainer.strategy.reduce(bad, reduce_op="sum")
        if not bool(bad > 0):
            self._consecutive = 0
            return
        if bool(torch.isfinite(loss).all()):
            what = "in another process"
        else:
            faulty = [name for name, value in terms.items() if not bool(torch.isfinite(value).all())]
            what = (f"in loss term {', '.join(faulty)} (terms: {_format_terms(terms)})" if faulty
                    else f"(loss {float(loss):g})")
        step = trainer.global_step
        if not self.skip_nonfinite:
            raise OcsegError(
                f"non-finite loss at step {step} {what}; training stopped. The last good checkpoint "
                f"is {last_good_checkpoint(trainer)}: lower schedule.lr or check the data, then "
                "resume it with ckpt_path=last, or pass skip_nonfinite=true to skip such batches")
        self._skipping = self._drop_step = True
        self._consecutive += 1
        if self._consecutive >= self.max_consecutive_skips:
            raise OcsegError(
                f"{self._consecutive} batches in a row had a non-finite loss (up to step {step}, "
                f"{what}): the weights or the learning rate have diverged and skipping cannot help. "
                f"The last good checkpoint is {last_good_checkpoint(trainer)}: resume it with "
                "ckpt_path=last and a lower schedule.lr")
        if what != "in another process":  # said by the process(es) that saw it, once each
            log.warning("skipping step %d: non-finite loss %s (skip_nonfinite=true)", step, what)

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                                 optimizer: torch.optim.Optimizer) -> None:
        # with trainer.accumulate_grad_batches > 1 a bad batch poisons the gradients summed over
        # the whole step, so the step is dropped whichever of its batches was bad
        if self._drop_step:  # no gradient: SGD leaves the parameter and its momentum alone
            for group in optimizer.param_groups:
                for param in group["params"]:
                    param.grad = None
        self._drop_step = False

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        if self._skipping:
            with torch.no_grad():
                for buffer, saved in zip(pl_module.buffers(), self._saved_buffers):
                    buffer.copy_(saved)
            self.skipped += 1
        self._saved_buffers = []
        if self.skip_nonfinite:
            pl_module.log("train/skipped_nonfinite", float(self.skipped), on_step=True,
                          on_epoch=False, batch_size=1)
        scaler = _scaler(trainer)
        if (scaler is not None and self.overflows.update(float(scaler.get_scale()))
                and trainer.global_rank == 0):  # gradients are all-reduced: every process overflows
            log.warning(overflow_message(self.overflows.length, self.overflows.scale))
