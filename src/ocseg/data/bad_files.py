"""Counting the corrupt files a dataset skipped (``data.on_bad_file=skip``).

DataLoader workers are separate processes, so the count lives in shared memory that every
worker's copy of the dataset increments; the main process reads the total.
"""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

__all__ = ["BAD_FILE_POLICIES", "BadFileLog"]

BAD_FILE_POLICIES = ("error", "skip")

log = logging.getLogger("ocseg.data")


class BadFileLog:
    """A process-shared counter of skipped files; each skip is logged with the file's path."""

    def __init__(self) -> None:
        self._count = multiprocessing.get_context().Value("i", 0)

    def record(self, path: str | Path) -> None:
        with self._count.get_lock():
            self._count.value += 1
        log.warning("skipping corrupt file '%s' (data.on_bad_file=skip)", path)

    @property
    def count(self) -> int:
        return int(self._count.value)
