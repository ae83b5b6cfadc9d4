"""Dot-product attention over feature maps: the self-attention block of OCNet and ISA.

Attention weights are computed with ``scaled_dot_product_attention`` (softmax accumulated in
float32 even under bf16 autocast), on ``N×L×C`` token tensors made with ``flatten``/``reshape`` so
``channels_last`` inputs work. The tokens get a head axis of one (``N×1×L×C``): the fused CPU and
CUDA kernels and the dynamo ONNX exporter take only 4-D attention; 3-D inputs ran the unfused
maths path, which holds the whole L×S weight matrix (the results agree to float rounding,
``tests/test_models.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ocseg.models.layers.norm_act import NormAct

__all__ = ["attend", "to_tokens", "from_tokens", "projection", "SelfAttention2d"]


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """N×C×H×W → N×(H·W)×C."""
    return x.flatten(2).transpose(1, 2)


def from_tokens(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """N×(H·W)×C → N×C×H×W."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], height, width)


def attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``softmax(q·kᵀ / √d) · v`` for N×L×d queries, N×S×d keys and N×S×dv values."""
    dtype = value.dtype
    query, key, value = (t.to(dtype).unsqueeze(1) for t in (query, key, value))
    return F.scaled_dot_product_attention(query, key, value, scale=query.shape[-1] ** -0.5).squeeze(1)


def projection(in_channels: int, out_channels: int, bias: bool, depth: int = 2) -> nn.Sequential:
    """``depth`` × (1×1 conv → BN+act): the query/key transforms of OCNet, ISA and OCR."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 1, bias=bias),
                   NormAct(out_channels)]
    return nn.Sequential(*layers)


class SelfAttention2d(nn.Module):
    """Non-local self-attention of a feature map with itself (OCNet's and ISA's block).

    Args:
        in_channels, key_channels, value_channels, out_channels: widths of the input, the
            query/key space, the values and the output.
        bias: conv biases (OCNet: yes, ISA: no).
        out_norm: the output projection is conv → BN+act (ISA) instead of a plain conv (OCNet,
            whose output conv starts at zero so the block starts as "no context").
        pool: max-pool the input by this factor first and upsample the context back (ASP-OC: 2).
    """

    def __init__(self, in_channels: int, key_channels: int, value_channels: int, out_channels: int,
                 *, bias: bool = True, out_norm: bool = False, pool: int = 1) -> None:
        super().__init__()
        self.pool = int(pool)
        self.query = projection(in_channels, key_channels, bias)
        self.key = projection(in_channels, key_channels, bias)
        self.value = nn.Conv2d(in_channels, value_channels, 1, bias=bias)
        if out_norm:
            self.out_proj: nn.Module = nn.Sequential(nn.Conv2d(value_channels, out_channels, 1, bias=bias),
                                                     NormAct(out_channels))
        else:
            self.out_proj = nn.Conv2d(value_channels, out_channels, 1, bias=bias)
            nn.init.zeros_(self.out_proj.weight)
            if bias:
                nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        if self.pool > 1:
            x = F.max_pool2d(x, self.pool)
        h, w = x.shape[-2:]
        context = attend(to_tokens(self.query(x)), to_tokens(self.key(x)), to_tokens(self.value(x)))
        context = self.out_proj(from_tokens(context, h, w))
        if self.pool > 1:
            context = F.interpolate(context, size=size, mode="bilinear", align_corners=True)
        return context
