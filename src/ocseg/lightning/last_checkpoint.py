"""``checkpoints/last.ckpt``: the state a run resumes from (``ckpt_path=last``), kept fresh enough
that an interrupted run loses at most one checkpoint interval of training.

Two public Lightning callbacks write it (``conf/callbacks/default.yaml``):

- ``ModelCheckpoint(save_last=True, save_top_k=0, every_n_train_steps=schedule.checkpoint_every)``
  saves it every N optimizer steps, independent of validation (Lightning's own cadence);
- :class:`LastCheckpoint`, an ``OnExceptionCheckpoint``, saves it again after every validation
  (so the file holds the validation's best score), when training ends, and when the run is
  stopped by SIGTERM (what SLURM and most schedulers send before killing a job) or Ctrl-C — not
  on other exceptions, which ``OnExceptionCheckpoint`` and ``ModelCheckpoint(save_on_exception=True)``
  would also save on (a crash's state is not one to resume). Lightning only *notices* SIGTERM in a
  plain run: its handler sets ``trainer.received_sigterm`` and the loop raises
  ``SIGTERMException`` after the current batch.

Every file goes through the Trainer's CheckpointIO, atomic with
:class:`~ocseg.lightning.checkpoint_io.AtomicCheckpointIO`. Only public hooks and
``Trainer.save_checkpoint`` are used, so a Lightning upgrade cannot silently change the cadence.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import OnExceptionCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

__all__ = ["LastCheckpoint"]

log = logging.getLogger(__name__)


def _fitting(trainer: pl.Trainer) -> bool:
    return (trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking
            and not trainer.fast_dev_run)


class LastCheckpoint(OnExceptionCheckpoint):
    """Args:
        dirpath: the run's checkpoint folder.
        filename: the file's name without ``.ckpt``.

    ``saved_path`` and ``saved_step`` name the newest file this callback wrote (None before the
    first), for messages that point the user to it.
    """

    def __init__(self, dirpath: str, filename: str = "last") -> None:
        super().__init__(dirpath=dirpath, filename=filename)
        self.saved_path: str | None = None
        self.saved_step: int | None = None

    def _save(self, trainer: pl.Trainer) -> None:
        trainer.save_checkpoint(self.ckpt_path)
        self.saved_path, self.saved_step = self.ckpt_path, int(trainer.global_step)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # also when the periodic save already wrote this step (it ran before validation)
        if _fitting(trainer):
            self._save(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if _fitting(trainer) and self.saved_step != trainer.global_step:
            self._save(trainer)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                     exception: BaseException) -> None:
        if not isinstance(exception, (SIGTERMException, KeyboardInterrupt)) or not _fitting(trainer):
            return
        if self.saved_step != trainer.global_step:
            self._save(trainer)
        cause = "SIGTERM" if isinstance(exception, SIGTERMException) else "Ctrl-C"
        log.warning("%s: training stopped after step %d; %s holds that state. Resume with the same "
                    "command plus ckpt_path=last (docs/troubleshooting.md)", cause,
                    trainer.global_step, self.saved_path)

    def teardown(self, trainer: pl.Trainer, *args: Any, **kwargs: Any) -> None:
        """Keep the file: ``OnExceptionCheckpoint`` deletes it when the run ends without an error."""
