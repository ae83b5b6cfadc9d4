"""A segmentation network = a backbone (multi-scale features) + a head (logits dict).

Backbones expose ``out_channels`` and ``strides`` (one entry per returned feature map), so any
head can sit on any backbone: the head is built from the backbone's ``out_channels``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ocseg.models.layers.norm_act import norm_act_slope, set_norm_act_slope

__all__ = ["Segmentor", "compose_network"]


class Segmentor(nn.Module):
    """``head(backbone(x))``; returns the head's dict (``{"out", "aux"}`` or SegFix's
    ``{"mask", "direction"}``) at the head's native stride, not upsampled.

    The activation of the BN+act sites (ReLU, or LeakyReLU(0.01) once an InPlace-ABN-era
    checkpoint was loaded) is not a weight, so it travels in the state dict as extra state:
    saving and reloading a network keeps computing what it computed.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(self.backbone(x))

    def get_extra_state(self) -> dict[str, Any]:
        return {"norm_act_negative_slope": norm_act_slope(self)}

    def set_extra_state(self, state: Any) -> None:
        if isinstance(state, dict) and "norm_act_negative_slope" in state:
            set_norm_act_slope(self, float(state["norm_act_negative_slope"]))


def compose_network(backbone: nn.Module, head: Callable[..., nn.Module], num_classes: int) -> Segmentor:
    """Complete a partially configured head with the backbone's channels and the class count."""
    return Segmentor(backbone, head(in_channels=list(backbone.out_channels), num_classes=num_classes))
