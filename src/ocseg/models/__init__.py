"""Segmentation networks: backbones, heads, their composition and the model-zoo builder."""

from ocseg.models.build import available_models, build_model
from ocseg.models.segmentor import Segmentor, compose_network

__all__ = ["Segmentor", "compose_network", "build_model", "available_models"]
