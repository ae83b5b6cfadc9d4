"""Optimisation helpers: the poly schedule and the backbone/head parameter groups."""

from ocseg.optim.param_groups import backbone_head_groups
from ocseg.optim.poly import PolyWithWarmup

__all__ = ["PolyWithWarmup", "backbone_head_groups"]
