"""The console of the command-line tools: its format (:class:`ConsoleFormatter`, set in
``conf/hydra/default.yaml``), Lightning's messages routed through it once
(:func:`lightning_to_run_log`), and the root logger put back after an in-process Hydra app
(:func:`restored_root_logging`), and a tool's end on a user error (:func:`exit_with_error`:
``error: <message>`` on stderr, exit code 2). Status lines themselves come from
:func:`ocseg.io.status.status_logger`.
"""

from __future__ import annotations

import logging
import sys
import warnings
from contextlib import contextmanager
from typing import Iterator

__all__ = ["EXIT_USER_ERROR", "error_line", "exit_with_error", "ConsoleFormatter", "lightning_to_run_log",
           "restored_root_logging"]

#: the exit code of a tool stopped by a problem the user can fix
EXIT_USER_ERROR = 2


def error_line(message: str) -> str:
    """``error: <message>`` on one line: a line break in it (from a value or a file name the user
    gave) is written as ``\\n``."""
    return "error: " + message.strip().replace("\r", "\\r").replace("\n", "\\n")


def exit_with_error(message: str) -> None:
    """Print :func:`error_line` on stderr and exit with :data:`EXIT_USER_ERROR`."""
    print(error_line(message), file=sys.stderr, flush=True)
    sys.exit(EXIT_USER_ERROR)


class _NothingToActOn(logging.Filter):
    """Drops Lightning's lines that tell the user nothing they can act on: the "💡 Tip: … try
    installing litlogger" advertisement said by every Trainer (``logger_connector.py``,
    ``configure_logger``), the echo of a ``limit_*_batches`` setting the user gave
    (``trainer/setup.py``), and "`Trainer.fit` stopped: `max_steps=N` reached" (the tool's own
    "val scores after N steps" follows)."""

    DROPPED = ("💡 Tip:", "`Trainer.fit` stopped: `max_steps=")
    DROPPED_PARTS = ("` was configured so ",)

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        return not (text.startswith(self.DROPPED) or any(p in text for p in self.DROPPED_PARTS))


# Lightning warnings that do not apply to ocseg's runs: training is iteration based, and train
# metrics are logged every log_every_n_steps optimizer steps across epochs, however few batches an
# epoch has; the loader worker count is ocseg's choice (data.num_workers, null: min(4, cores)),
# which says itself when it exceeds the cores
_INAPPLICABLE_WARNINGS = (
    r"The number of training batches \(\d+\) is smaller than the logging interval",
    r"The '\w+_dataloader' does not have many workers",
)


def lightning_to_run_log() -> None:
    """Let Lightning's messages reach the console once, through the configured handlers, without
    the lines a user can do nothing about (:class:`_NothingToActOn`, inapplicable warnings).

    Importing ``lightning`` gives its logger a stderr handler of its own even when logging is
    configured (``lightning/__init__.py``), so under Hydra's job logging every Lightning line
    appeared twice on the console: once plain on stderr, once through the root handlers (console
    and run log). When the root logger has handlers, Lightning's own are removed.
    """
    # torch 2.13 deprecates the LeafSpec that Lightning's _pytree.py still builds: a FutureWarning
    # on every run that the user can do nothing about
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            category=FutureWarning)
    for pattern in _INAPPLICABLE_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _NothingToActOn) for f in rank_zero.filters):
        rank_zero.addFilter(_NothingToActOn())
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
