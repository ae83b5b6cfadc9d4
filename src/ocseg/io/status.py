"""Status lines: the tools report through :mod:`logging`, so what a user sees on the console also
lands in the run's log file (``<run dir>/<task>.log``, Hydra's job logging,
``conf/hydra/default.yaml``).

:func:`status_logger` is a module's logger that speaks on rank zero only: under DDP every process
runs the tool, and a run's status is said once. Messages about one process's own work (a corrupt
file it read) use a plain ``logging.getLogger``. The console's format and set-up are the
application's (:mod:`ocseg.app.console`).
"""

from __future__ import annotations

import logging
import sys

__all__ = ["RankZeroFilter", "process_rank", "status_logger"]


def process_rank() -> int:
    """This process's global rank: what Lightning recorded once it set the process up (it reads
    the launcher's ``RANK``/``LOCAL_RANK`` when imported and sets the DDP rank on start), else 0.
    Looked up without importing anything, so tools that never load Lightning stay light."""
    rank_zero = sys.modules.get("lightning_utilities.core.rank_zero")
    return int(getattr(getattr(rank_zero, "rank_zero_only", None), "rank", 0) or 0)


class RankZeroFilter(logging.Filter):
    """Passes records on global rank zero only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return process_rank() == 0


def status_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` that drops its records on processes other than rank zero."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RankZeroFilter) for f in logger.filters):
        logger.addFilter(RankZeroFilter())
    return logger
