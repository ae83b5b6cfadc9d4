"""A segmentation network = a backbone (multi-scale features) + a head (logits dict).

Backbones expose ``out_channels`` and ``strides`` (one entry per returned feature map), so any
head can sit on any backbone: the head is built from the backbone's ``out_channels``.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import nn

from ocseg.errors import OcsegError
from ocseg.models.fuse import fold_batchnorms
from ocseg.models.layers.norm_act import norm_act_slope, set_norm_act_slope

__all__ = ["SegmentationNet", "compose_network"]


class SegmentationNet(nn.Module):
    """``head(backbone(x))``; returns the head's dict (``{"out", "aux"}`` or SegFix's
    ``{"mask", "direction"}``) at the head's native stride, not upsampled.

    The activation of the BN+act sites (ReLU, or LeakyReLU(0.01) once an InPlace-ABN-era
    checkpoint was loaded) is not a weight, so it travels in the state dict as extra state:
    saving and reloading a network keeps computing what it computed. The extra state is a 0-d
    float64 tensor (the slope): both ONNX exporters read the state dict as tensors (a dict there
    stops ``torch.onnx.export(dynamo=False)`` in ``torch.jit._unique_state_dict``), and, unlike a
    buffer, extra state is not cast by ``.to(dtype)``/``precision=bf16-true``, so 0.01 stays 0.01.
    Checkpoints saved before (``{"norm_act_negative_slope": s}``) still load.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head(self.backbone(x))

    def fuse_for_inference(self, example: torch.Tensor | None = None) -> "SegmentationNet":
        """An inference-only copy: eval mode, no gradients, every BatchNorm that directly follows a
        conv folded into it (:mod:`ocseg.models.fuse`), conv weights in ``channels_last`` (so the
        activations follow after the first conv: oneDNN then skips the reorders to and from its
        blocked layout; 0.80–0.84× the forward time of SegFix-HRNet2x and R101 on CPU, neutral on
        HRNet-W48, see docs/performance.md). ``self`` is left untouched; the copy refuses
        ``train()`` (its BNs are gone) and its state dict has no BN entries, so save checkpoints
        from the unfused network. ``example``: an input the pairs are traced on (default: one
        zero 64×64 image on the network's device)."""
        fused = copy.deepcopy(self).eval()
        if example is None:
            weight = next(fused.parameters())
            example = torch.zeros(1, 3, 64, 64, device=weight.device, dtype=weight.dtype)
        fold_batchnorms(fused, example)
        fused.to(memory_format=torch.channels_last)
        fused.requires_grad_(False)
        fused.inference_only = True
        return fused

    def train(self, mode: bool = True) -> "SegmentationNet":
        if mode and getattr(self, "inference_only", False):
            raise OcsegError("this network was fused for inference (fuse_for_inference) and cannot "
                             "train; train the unfused network it was made from")
        return super().train(mode)

    def get_extra_state(self) -> torch.Tensor:
        return torch.tensor(norm_act_slope(self), dtype=torch.float64)

    def set_extra_state(self, state: Any) -> None:
        if isinstance(state, dict):   # checkpoints of ocseg before the tensor form
            state = state.get("norm_act_negative_slope")
        if state is not None:
            set_norm_act_slope(self, float(state))


def compose_network(backbone: nn.Module, head: Callable[..., nn.Module], num_classes: int) -> SegmentationNet:
    """Complete a partially configured head with the backbone's channels and the class count."""
    return SegmentationNet(backbone, head(in_channels=list(backbone.out_channels), num_classes=num_classes))
