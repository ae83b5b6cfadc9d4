"""Segmentation networks: backbones, heads and their composition."""

from ocseg.models.segmentor import Segmentor, compose_network

__all__ = ["Segmentor", "compose_network"]
