"""Lightning's info lines switched off for a while, its warnings kept.

A training run builds a second trainer to score the final weights; Lightning would greet it like
the first ("GPU available: …", "TPU available: …", on a GPU "LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES
…"), so every run said those lines twice. Within :func:`lightning_info_silenced` they are not said.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

__all__ = ["lightning_info_silenced"]


@contextmanager
def lightning_info_silenced() -> Iterator[None]:
    """Lightning's loggers (``lightning.pytorch.*``) drop records below WARNING inside."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
