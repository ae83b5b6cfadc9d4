"""Every model of the zoo, and each built with a small backbone of its own family (the head
unchanged), for the tests that run a head at tiny sizes."""

from __future__ import annotations

from ocseg.models import build_model
from ocseg.models.cards import CARDS

#: every model name with a card (the original's networks and ocseg's own)
MODELS = list(CARDS)


def small(name: str, num_classes: int = 5, **overrides):
    """The model with a small backbone of the same family."""
    backbone = "r18" if name.startswith("r101") else "hrnet_tiny"
    return build_model(name, num_classes, backbone=backbone, **overrides)
