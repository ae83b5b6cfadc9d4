"""Running an entry point: turn user-facing errors into one line on stderr and exit code 2.

``train.py``, ``eval.py``, ``predict_offsets.py`` and ``refine.py`` are thin ``@hydra.main``
wrappers that call :func:`run_task` with the package function doing the work.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from ocseg.errors import OcsegError

__all__ = ["run_task", "user_message"]

EXIT_USER_ERROR = 2


def _chain(exc: BaseException | None):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _ocseg_text(exc: OcsegError) -> str:
    text = str(exc).strip()
    if "Traceback" in text:  # re-raised from a DataLoader worker: the message is the last line
        last = [ln for ln in text.splitlines() if ln.strip()][-1]
        text = last.split(f"{type(exc).__name__}: ", 1)[-1]
    return text


def user_message(exc: BaseException) -> str | None:
    """The one-line message for an exception a user can fix, or None for a real bug.

    An :class:`OcsegError` anywhere in the chain wins (Hydra and OmegaConf wrap errors raised
    while instantiating or resolving); a bare configuration error comes next.
    """
    chain = list(_chain(exc))
    for item in chain:
        if isinstance(item, OcsegError):
            return _ocseg_text(item)
    for item in chain:
        if isinstance(item, OmegaConfBaseException):
            return (f"configuration error: {str(item).splitlines()[0]} "
                    "(check the key or add it with +key=value)")
    return None


def run_task(task: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run ``task(cfg)``; a user-facing error becomes ``error: <message>`` and exit code 2."""
    try:
        return task(cfg)
    except Exception as exc:  # noqa: BLE001 - classified below, real bugs re-raised
        message = user_message(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr, flush=True)
        sys.exit(EXIT_USER_ERROR)
