"""HRNetV2 (W18/32/48/64, W18-Small-v2) and HRNet2x-W20, returning all branches concatenated.

The last stage's branches are upsampled (bilinear, ``align_corners=True``) to the first branch's
resolution and concatenated — the representation every head of the original reads: W48 → 720
channels at 1/4, HRNet2x-W20 → 620 channels at 1/2. Variants are data (:data:`HRNET_VARIANTS`).
Module names follow HRNet (``conv1``, ``layer1``, ``transition1``, ``stage2`` …) so checkpoints
and ImageNet files load by name; HRNet2x has no ``layer1`` and starts at ``transition0/stage1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ocseg.errors import OcsegError
from ocseg.models.backbones.hrnet_module import BLOCKS, HRModule
from ocseg.models.layers.residual import Bottleneck

__all__ = ["HRNet", "Stage", "HRNetSpec", "HRNET_VARIANTS"]


@dataclass(frozen=True)
class Stage:
    modules: int
    blocks: int                 # residual blocks per branch
    widths: tuple[int, ...]     # one per branch
    block: str = "basic"


@dataclass(frozen=True)
class HRNetSpec:
    stages: tuple[Stage, ...]
    stem_convs: int = 2                        # 2: two 3×3/2 convs (stride 4); 1: one (stride 2)
    stem_channels: int = 64
    layer1: tuple[int, int] | None = (64, 4)   # (planes, blocks) of the bottleneck layer; None: HRNet2x


def _v2(w: int, modules=(1, 4, 3), blocks=4, layer1=(64, 4)) -> HRNetSpec:
    widths = (w, 2 * w, 4 * w, 8 * w)
    return HRNetSpec(stages=tuple(Stage(m, blocks, widths[:n]) for m, n in zip(modules, (2, 3, 4))),
                     layer1=layer1)


HRNET_VARIANTS: dict[str, HRNetSpec] = {
    "hrnet18": _v2(18),
    "hrnet32": _v2(32),
    "hrnet48": _v2(48),
    "hrnet64": _v2(64),
    # the official HRNet-W18-Small-v2 layout
    "hrnet18_small": _v2(18, modules=(1, 3, 2), blocks=2, layer1=(64, 2)),
    # a deliberately tiny member for tests and smoke runs
    "hrnet_tiny": HRNetSpec(stages=tuple(Stage(1, 1, (8, 16, 32, 64)[:n]) for n in (2, 3, 4)),
                            stem_channels=16, layer1=(8, 1)),
    "hrnet2x20": HRNetSpec(
        stages=(Stage(1, 4, (32, 64), block="bottleneck"), Stage(1, 4, (20, 40, 80)),
                Stage(4, 4, (20, 40, 80, 160)), Stage(3, 4, (20, 40, 80, 160, 320))),
        stem_convs=1, layer1=None),
}


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _transition(prev: Sequence[int], cur: Sequence[int]) -> nn.ModuleList:
    """Adapt existing branches whose width changes; grow new ones from the lowest resolution."""
    layers: list[nn.Module] = []
    for i, c in enumerate(cur):
        if i < len(prev):
            layers.append(_conv_bn_relu(prev[i], c, 1) if prev[i] != c else nn.Identity())
        else:
            steps = i + 1 - len(prev)
            layers.append(nn.Sequential(*(
                _conv_bn_relu(prev[-1], c if k == steps - 1 else prev[-1], 2) for k in range(steps))))
    return nn.ModuleList(layers)


class HRNet(nn.Module):
    """Args:
        variant: a key of :data:`HRNET_VARIANTS` (``hrnet48``, ``hrnet2x20`` …).
        pretrained: ImageNet weights file of the original (``hrnetv2_w48_imagenet_pretrained.pth``,
            ``hr_rnet_bt_w20_imagenet_pretrained.pth`` …) or ``None``.
        download: fetch a missing ``pretrained`` file the original links directly (False: stop
            with its URL instead).
    """

    def __init__(self, variant: str = "hrnet48", pretrained: str | None = None, download: bool = True) -> None:
        super().__init__()
        if variant not in HRNET_VARIANTS:
            raise OcsegError(f"backbone.variant={variant!r} is unknown; use one of {sorted(HRNET_VARIANTS)}")
        spec = HRNET_VARIANTS[variant]
        self.variant = variant
        c = spec.stem_channels
        self.conv1 = nn.Conv2d(3, c, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        if spec.stem_convs == 2:
            self.conv2 = nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        channels = [c]
        if spec.layer1 is not None:
            planes, blocks = spec.layer1
            self.layer1 = nn.Sequential(*(Bottleneck(c if i == 0 else planes * Bottleneck.expansion, planes)
                                          for i in range(blocks)))
            channels = [planes * Bottleneck.expansion]
        self.first_stage = 2 if spec.layer1 is not None else 1
        self.num_stages = len(spec.stages)
        for k, stage in enumerate(spec.stages, start=self.first_stage):
            cur = [w * BLOCKS[stage.block].expansion for w in stage.widths]
            setattr(self, f"transition{k - 1}", _transition(channels, cur))
            modules = []
            for _ in range(stage.modules):
                modules.append(HRModule(stage.block, cur, stage.widths, [stage.blocks] * len(cur)))
                cur = modules[-1].out_channels
            setattr(self, f"stage{k}", nn.Sequential(*modules))
            channels = cur
        self.branch_channels = list(channels)
        self.out_channels = [sum(channels)]
        self.strides = [2 ** spec.stem_convs]
        if pretrained:
            from ocseg.models.backbones.pretrained import load_pretrained

            load_pretrained(self, pretrained, download=download)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        if hasattr(self, "conv2"):
            x = self.relu(self.bn2(self.conv2(x)))
        if hasattr(self, "layer1"):
            x = self.layer1(x)
        return x

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        ys = [self._stem(x)]
        for k in range(self.first_stage, self.first_stage + self.num_stages):
            transition = getattr(self, f"transition{k - 1}")
            xs = [t(ys[i] if i < len(ys) else ys[-1]) for i, t in enumerate(transition)]
            ys = getattr(self, f"stage{k}")(xs)
        size = ys[0].shape[-2:]
        ups = [ys[0]] + [F.interpolate(y, size=size, mode="bilinear", align_corners=True) for y in ys[1:]]
        return [torch.cat(ups, dim=1)]
