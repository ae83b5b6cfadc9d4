"""FCN head: one FCN branch on the last feature map (plus the optional auxiliary branch).

Original counterparts: ``FcnNet`` (ResNet, with ``dsn_head``) and ``HRNet_W48`` (no auxiliary).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from ocseg.models.heads.aux import FCNBranch, aux_index, build_aux

__all__ = ["FCNHead"]


class FCNHead(nn.Module):
    """Args:
        in_channels: the backbone's ``out_channels``.
        num_classes: output logits.
        mid_channels, dropout, conv_bias, cls_bias: the main branch (see :class:`FCNBranch`).
        aux: keyword arguments of the auxiliary :class:`FCNBranch`, or ``None`` for no ``"aux"``.
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, mid_channels: int | None = 512,
                 dropout: float = 0.1, conv_bias: bool = True, cls_bias: bool = False,
                 aux: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.main = FCNBranch(in_channels[-1], num_classes, mid_channels, dropout, conv_bias, cls_bias)
        self.aux = build_aux(in_channels, num_classes, aux)
        self._aux_index = aux_index(in_channels)

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {"out": self.main(feats[-1])}
        if self.aux is not None:
            out["aux"] = self.aux(feats[self._aux_index])
        return out
