"""The training run's ``report.html`` (:mod:`ocseg.report.training`), rewritten after every
validation and once more at the end (``tasks/train.py`` calls :meth:`TrainingReport.write` with
the final ``metrics.json``).

Cheap by design: rank 0 only, no forward pass of its own; it reads the CSV log (the file plus the
rows Lightning's CSV logger has not flushed yet, without flushing them, so the log is written
exactly as without the report) and takes the validation overlays the
:class:`~ocseg.lightning.validation_overlays.WandbValidationOverlays` callback draws, which it
asks to keep them even without a W&B logger.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger

from ocseg.io.status import status_logger
from ocseg.lightning.validation_overlays import WandbValidationOverlays

__all__ = ["TrainingReport"]

log = status_logger(__name__)


class TrainingReport(Callback):
    """Args:
        output_dir: the run's folder (where ``metrics.json`` goes).
        enabled: ``report=`` of the run (False: nothing is written).
        class_names: the dataset's classes (train-id order).
        facts: the page header's entries (model, dataset, schedule, …).
    """

    def __init__(self, output_dir: str, enabled: bool = True, class_names: Sequence[str] = (),
                 facts: Mapping[str, Any] | None = None) -> None:
        self.output_dir = Path(output_dir)
        self.enabled = bool(enabled)
        self.class_names = [str(n) for n in class_names]
        self.facts = [(str(k), v) for k, v in (facts or {}).items()]

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self.enabled:
            for callback in trainer.callbacks:
                if isinstance(callback, WandbValidationOverlays):
                    callback.keep_last = True

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.enabled and trainer.is_global_zero and not trainer.sanity_checking:
            self.write(trainer)

    def write(self, trainer: Trainer, metrics: Mapping[str, Any] | None = None) -> Path | None:
        """Write the page (rank 0; ``metrics``: the final ``metrics.json``); returns its path."""
        if not self.enabled or not trainer.is_global_zero:
            return None
        from ocseg.report.training import read_csv_log, write_training_report

        csv_logger = next((lg for lg in trainer.loggers if isinstance(lg, CSVLogger)), None)
        csv_path, rows = None, []
        if csv_logger is not None:
            writer = csv_logger.experiment
            csv_path = writer.metrics_file_path
            rows = read_csv_log(csv_path, pending=writer.metrics)
        overlays = next((cb.last for cb in trainer.callbacks if isinstance(cb, WandbValidationOverlays)), [])
        facts = [("run", self.output_dir), *self.facts,
                 ("step", f"{trainer.global_step} of {trainer.max_steps}")]
        start = time.perf_counter()
        try:
            path = write_training_report(self.output_dir, rows, class_names=self.class_names, facts=facts,
                                         metrics=metrics, overlays=overlays, csv_path=csv_path,
                                         state="finished" if metrics is not None else "running")
        except Exception as exc:  # noqa: BLE001 - training goes on; the page is a view of the logs
            log.warning("report.html not written (%s: %s)", type(exc).__name__, exc)
            return None
        if metrics is not None:
            log.info("report: %s (%.1f s)", path, time.perf_counter() - start)
        return path
