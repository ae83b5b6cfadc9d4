"""Status lines: the tools report through :mod:`logging`, so what a user sees on the console also
lands in the run's log file (``<run dir>/<task>.log``, Hydra's job logging,
``conf/hydra/default.yaml``).

:func:`status_logger` is a module's logger that speaks on rank zero only: under DDP every process
runs the tool, and a run's status is said once. Messages about one process's own work (a corrupt
file it read) use a plain ``logging.getLogger``. :class:`ConsoleFormatter` is the console's format.
"""

from __future__ import annotations

import logging
import sys
import warnings
from contextlib import contextmanager
from typing import Iterator

__all__ = ["ConsoleFormatter", "RankZeroFilter", "lightning_to_run_log", "process_rank",
           "restored_root_logging", "status_logger"]


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


class _NoAdvertisement(logging.Filter):
    """Drops Lightning's "💡 Tip: … try installing litlogger" line, said by every Trainer
    (``logger_connector.py``, ``configure_logger``): not a message about the run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip:")


def lightning_to_run_log() -> None:
    """Let Lightning's messages reach the console once, through the configured handlers, without
    its advertisement or a deprecation warning about its own code.

    Importing ``lightning`` gives its logger a stderr handler of its own even when logging is
    configured (``lightning/__init__.py``), so under Hydra's job logging every Lightning line
    appeared twice on the console: once plain on stderr, once through the root handlers (console
    and run log). When the root logger has handlers, Lightning's own are removed.
    """
    # torch 2.13 deprecates the LeafSpec that Lightning's _pytree.py still builds: a FutureWarning
    # on every run that the user can do nothing about
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            category=FutureWarning)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _NoAdvertisement) for f in rank_zero.filters):
        rank_zero.addFilter(_NoAdvertisement())
    if not logging.getLogger().handlers or "lightning" not in sys.modules:
        return
    lightning = logging.getLogger("lightning")
    for handler in list(lightning.handlers):
        if type(handler) is logging.StreamHandler:
            lightning.removeHandler(handler)


class ConsoleFormatter(logging.Formatter):
    """The console's format (``hydra.job_logging``): a status line as it is, a warning or error
    prefixed by its level (``warning: …``), like the tools' ``error:`` lines. The log file keeps
    Hydra's ``[time][logger][LEVEL]`` format."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        return message


@contextmanager
def restored_root_logging() -> Iterator[None]:
    """Put the root logger's handlers and level back as they were on exit.

    A Hydra app run inside this process (the in-process executor, tests) configures logging with
    handlers bound to the ``sys.stdout``/``sys.stderr`` of that moment; left in place they outlive
    a redirected stream and every later record fails with "I/O operation on closed file". The
    handlers added inside are removed and closed.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
