"""What a command that stops with a user error leaves behind: no empty run folder.

Hydra creates the run folder (``.hydra/`` and ``<task>.log``) before the tool starts, so a typo
in ``dataset.root`` used to leave ``logs/<task>/runs/<date>/`` holding a log that did not say why
the run ended. Now the ``error:`` line is also written to the run's log, and a single run in
Hydra's default folder that wrote nothing of its own (only Hydra's bookkeeping) is removed. A
folder the user or the pipeline named (``hydra.run.dir=``), a multirun job's folder (its sweep
summary lists the failure) or one holding outputs is kept, its log ending with the error.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

__all__ = ["record_failure"]

log = logging.getLogger("ocseg.app")


def _own_files(folder: Path) -> list[Path]:
    """The files the run wrote besides Hydra's ``.hydra/`` and the run log (empty folders, such
    as a logger's, do not count)."""
    return [p for p in folder.rglob("*") if p.is_file() and ".hydra" not in p.relative_to(folder).parts
            and not (p.parent == folder and p.suffix == ".log")]


def record_failure(message: str) -> None:
    """Write ``error: <message>`` to the run's log files, then remove the run folder when the
    run is a single run in Hydra's default folder and wrote nothing else."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    if OmegaConf.is_missing(hydra_cfg.runtime, "output_dir"):  # composed, not run (tests)
        return
    folder = Path(hydra_cfg.runtime.output_dir)
    root = logging.getLogger()
    files = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, message, None, None)
    for handler in files:
        handler.handle(record)
    chosen = any(o.startswith("hydra.run.dir=") for o in hydra_cfg.overrides.hydra)
    if hydra_cfg.mode == RunMode.MULTIRUN or chosen or not folder.is_dir() or _own_files(folder):
        return
    for handler in files:
        if Path(handler.baseFilename).parent == folder:
            root.removeHandler(handler)
            handler.close()
    shutil.rmtree(folder, ignore_errors=True)
