"""``checkpoints/last.ckpt``: the state a run resumes from (``ckpt_path=last``), kept fresh enough
that an interrupted run loses at most one checkpoint interval of training.

Saved every ``every_n_train_steps`` optimizer steps (``schedule.checkpoint_every``, independent of
validation), again after every validation (so the file holds the validation's best score), when
training ends, and when the run is stopped by SIGTERM (what SLURM and most schedulers send before
killing a job) or Ctrl-C. Lightning only *notices* SIGTERM in a plain run: its handler sets
``trainer.received_sigterm`` and the loop raises ``SIGTERMException`` after the current batch,
which ends the run without saving (``ModelCheckpoint(save_on_exception=False)``, and its
``save_on_exception=True`` would also save on every crash). This callback saves on those two
interruptions only. Every file goes through the Trainer's CheckpointIO, atomic with
:class:`~ocseg.lightning.checkpoint_io.AtomicCheckpointIO`.
"""

from __future__ import annotations

import logging

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

__all__ = ["LastCheckpoint"]

log = logging.getLogger(__name__)


class LastCheckpoint(ModelCheckpoint):
    """Args:
        dirpath: the run's checkpoint folder.
        every_n_train_steps: save every N optimizer steps; ``None``/0: only after validation, at
            the end and on interruption.
        filename: the file's name without ``.ckpt``.

    ``saved_path`` and ``saved_step`` name the newest file this callback wrote (None before the
    first), for messages that point the user to it.
    """

    def __init__(self, dirpath: str, every_n_train_steps: int | None = None,
                 filename: str = "last") -> None:
        super().__init__(dirpath=dirpath, filename=filename, monitor=None, save_top_k=1,
                         enable_version_counter=False, every_n_train_steps=every_n_train_steps or None)
        self.saved_path: str | None = None
        self.saved_step: int | None = None

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath)
        self.saved_path, self.saved_step = filepath, int(trainer.global_step)

    def _save_now(self, trainer: pl.Trainer) -> None:
        self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))

    def _fitting(self, trainer: pl.Trainer) -> bool:
        return (trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking
                and not trainer.fast_dev_run)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # also when the periodic save already wrote this step (it ran before validation)
        if self._fitting(trainer):
            self._save_now(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._fitting(trainer) and self._last_global_step_saved != trainer.global_step:
            self._save_now(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        if not isinstance(exception, (SIGTERMException, KeyboardInterrupt)) or not self._fitting(trainer):
            return
        if self._last_global_step_saved != trainer.global_step:
            self._save_now(trainer)
        cause = "SIGTERM" if isinstance(exception, SIGTERMException) else "Ctrl-C"
        log.warning("%s: training stopped after step %d; %s holds that state. Resume with the same "
                    "command plus ckpt_path=last (docs/troubleshooting.md)", cause,
                    trainer.global_step, self.saved_path)
