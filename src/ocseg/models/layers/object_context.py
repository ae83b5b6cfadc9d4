"""OCR's two steps: gather object-region representations, then attend from pixels to them.

:class:`SpatialGather` turns the coarse (auxiliary) logits into K soft object regions and pools
the pixel features in each; :class:`ObjectAttention` relates every pixel to those K region
vectors and returns the object-contextual representation.
"""

from __future__ import annotations

import torch
from torch import nn

from ocseg.models.layers.attention import attend, from_tokens, projection, to_tokens
from ocseg.models.layers.norm_act import NormAct

__all__ = ["SpatialGather", "ObjectAttention"]


class SpatialGather(nn.Module):
    """Region representations ``f_k = Σ_p softmax_p(logits_k) · x_p``, returned as N×C×K×1.

    The softmax over all pixels runs in float32: a bf16 softmax over ~10⁵ positions loses most
    of the mass of the small weights.
    """

    def forward(self, feats: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(logits.flatten(2).float(), dim=-1)           # N×K×HW
        regions = torch.matmul(weights.to(feats.dtype), to_tokens(feats))    # N×K×C
        return regions.transpose(1, 2).unsqueeze(-1)


class ObjectAttention(nn.Module):
    """Pixel → object-region attention (the original's ``ObjectAttentionBlock2D``, scale 1).

    ``query`` transforms pixels, ``key``/``value`` transform the region vectors, ``out_proj``
    maps the attended values back to ``in_channels``. Returns the context map only.
    """

    def __init__(self, in_channels: int, key_channels: int) -> None:
        super().__init__()
        self.query = projection(in_channels, key_channels, bias=True)
        self.key = projection(in_channels, key_channels, bias=True)
        self.value = projection(in_channels, key_channels, bias=True, depth=1)
        self.out_proj = nn.Sequential(nn.Conv2d(key_channels, in_channels, 1), NormAct(in_channels))

    def forward(self, feats: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        h, w = feats.shape[-2:]
        context = attend(to_tokens(self.query(feats)), to_tokens(self.key(regions)),
                         to_tokens(self.value(regions)))
        return self.out_proj(from_tokens(context, h, w))
