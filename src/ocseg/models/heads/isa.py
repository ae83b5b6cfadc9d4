"""ISA head: interlaced sparse self-attention (long-range, then short-range) on the bottleneck map.

The map is padded to a multiple of the down factor (dh, dw) — evenly on both sides, as the
original — then attention runs first among pixels that share their position inside a dh×dw block
(long range, stride dh/dw apart) and then among the pixels of each block (short range).
Original counterpart: ``ISANet`` (down factors [[8, 8]], convs without bias).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ocseg.models.heads.aux import aux_index, build_aux
from ocseg.models.layers.attention import SelfAttention2d
from ocseg.models.layers.norm_act import NormAct, conv_norm_act

__all__ = ["ISABlock", "ISAHead"]


class ISABlock(nn.Module):
    def __init__(self, in_channels: int, key_channels: int, value_channels: int, out_channels: int,
                 down_factor: Sequence[int]) -> None:
        super().__init__()
        self.down_factor = (int(down_factor[0]), int(down_factor[1]))
        self.long_range = SelfAttention2d(in_channels, key_channels, value_channels, out_channels,
                                          bias=False, out_norm=True)
        self.short_range = SelfAttention2d(out_channels, key_channels, value_channels, out_channels,
                                           bias=False, out_norm=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        dh, dw = self.down_factor
        gh, gw = math.ceil(h / dh), math.ceil(w / dw)
        ph, pw = gh * dh - h, gw * dw - w
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        c = x.shape[1]
        # long range: one group per offset (i, j) inside the blocks, a gh×gw map each
        x = x.reshape(n, c, gh, dh, gw, dw).permute(0, 3, 5, 1, 2, 4).reshape(n * dh * dw, c, gh, gw)
        x = self.long_range(x)
        c = x.shape[1]
        # short range: one group per block, a dh×dw map each
        x = x.reshape(n, dh, dw, c, gh, gw).permute(0, 4, 5, 3, 1, 2).reshape(n * gh * gw, c, dh, dw)
        x = self.short_range(x)
        x = x.reshape(n, gh, gw, c, dh, dw).permute(0, 3, 1, 4, 2, 5).reshape(n, c, gh * dh, gw * dw)
        return x[:, :, ph // 2: ph // 2 + h, pw // 2: pw // 2 + w]


class ISAHead(nn.Module):
    """Args:
        in_channels: the backbone's ``out_channels``.
        num_classes: output logits.
        mid_channels: width of the 3×3 bottleneck and of the ISA output (512).
        key_channels, value_channels: attention widths (256, 512).
        down_factors: one (dh, dw) per ISA block; several are concatenated (``up_conv`` widens
            the shortcut to match).
        dropout: after the fuse conv.
        aux: keyword arguments of the auxiliary FCN branch, or ``None``.
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, mid_channels: int = 512,
                 key_channels: int = 256, value_channels: int = 512,
                 down_factors: Sequence[Sequence[int]] = ((8, 8),), dropout: float = 0.05,
                 aux: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        c, k = mid_channels, len(down_factors)
        self.aux = build_aux(in_channels, num_classes, aux)
        self._aux_index = aux_index(in_channels)
        self.bottleneck = conv_norm_act(in_channels[-1], c, 3, bias=False)
        self.blocks = nn.ModuleList(ISABlock(c, key_channels, value_channels, c, f) for f in down_factors)
        self.up_conv = nn.Sequential(nn.Conv2d(c, k * c, 1, bias=False), NormAct(k * c)) if k > 1 else None
        self.fuse = nn.Sequential(nn.Conv2d(2 * k * c, c, 1, bias=False), NormAct(c), nn.Dropout2d(dropout))
        self.cls = nn.Conv2d(c, num_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        x = self.bottleneck(feats[-1])
        context = torch.cat([block(x) for block in self.blocks], dim=1)
        shortcut = x if self.up_conv is None else self.up_conv(x)
        out = {"out": self.cls(self.fuse(torch.cat([shortcut, context], dim=1)))}
        if self.aux is not None:
            out["aux"] = self.aux(feats[self._aux_index])
        return out
