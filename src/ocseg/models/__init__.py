"""Segmentation networks: backbones, heads, their composition and the model-zoo builder."""

from ocseg.models.build import available_models, build_model
from ocseg.models.network import SegmentationNet, compose_network

__all__ = ["SegmentationNet", "compose_network", "build_model", "available_models"]
