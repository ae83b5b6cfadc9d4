"""Every model with a card, and each built with the small backbone its card names (the head
unchanged), for the tests that run a head at tiny sizes."""

from __future__ import annotations

from ocseg.models import build_model
from ocseg.models.cards import CARDS, card

#: every model name with a card (the original's networks and ocseg's own)
MODELS = list(CARDS)


def small(name: str, num_classes: int = 5, **overrides):
    """The model on its card's test backbone (``hrnet_tiny`` for HRNet models, ``r18`` for ResNet)."""
    return build_model(name, num_classes, backbone=card(name).test_backbone, **overrides)
