"""Losses: every one is a :class:`~ocseg.losses.base.SegLoss` built from ``conf/loss/``."""

from ocseg.losses.base import SegLoss
from ocseg.losses.ce import CrossEntropy
from ocseg.losses.main_aux import MainAuxLoss
from ocseg.losses.ohem import OhemCrossEntropy
from ocseg.losses.rmi import RMILoss
from ocseg.losses.segfix import SegFixLoss

__all__ = ["SegLoss", "MainAuxLoss", "CrossEntropy", "OhemCrossEntropy", "RMILoss", "SegFixLoss"]
