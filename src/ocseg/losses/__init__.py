"""Losses: every one is a :class:`~ocseg.losses.base.SegLoss` built from ``conf/loss/``."""

from ocseg.losses.base import SegLoss
from ocseg.losses.ce import CrossEntropy

__all__ = ["SegLoss", "CrossEntropy"]
