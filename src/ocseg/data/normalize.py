"""Turning a BGR uint8 image into the network's input tensor exactly as the original did.

The original reads images with OpenCV (BGR), divides by ``div`` and then subtracts ``mean[c]`` and
divides by ``std[c]`` *by channel position*. HRNet configs use ImageNet RGB statistics applied to
B, G, R in that order (div 255); ResNet configs use Caffe BGR means (div 1, std 1). Released
checkpoints depend on this, so it is configured per backbone (``conf/normalize/``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = ["Normalize"]


class Normalize:
    """``(image[..., order] / div - mean) / std`` → float32 tensor C×H×W.

    Args:
        channel_order: ``"bgr"`` feeds the OpenCV channels as read; ``"rgb"`` swaps them first.
        div: divisor applied before the mean/std (255 or 1).
        mean, std: per channel *position* of the fed order.
    """

    def __init__(
        self,
        channel_order: str = "bgr",
        div: float = 255.0,
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
    ) -> None:
        if channel_order not in ("bgr", "rgb"):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
        self.channel_order = channel_order
        self.div = float(div)
        self.mean = np.asarray(mean, dtype=np.float32).reshape(1, 1, 3)
        self.std = np.asarray(std, dtype=np.float32).reshape(1, 1, 3)

    def __call__(self, image_bgr: np.ndarray) -> torch.Tensor:
        image = image_bgr[..., ::-1] if self.channel_order == "rgb" else image_bgr
        x = (image.astype(np.float32) / self.div - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))

    def zero_pixel(self) -> tuple[float, float, float]:
        """The BGR pixel value that normalises to exactly 0 in every channel (``mean·div``).

        The original padded its *normalised* tensors with 0, so padding before normalisation
        must use this value to feed the network the same input.
        """
        values = (self.mean.ravel() * self.div).astype(np.float64)
        if self.channel_order == "rgb":
            values = values[::-1]
        return tuple(float(v) for v in values)

    def denormalize(self, tensor: torch.Tensor) -> np.ndarray:
        """Inverse, for overlays: C×H×W tensor → H×W×3 uint8 BGR."""
        x = tensor.detach().cpu().float().numpy().transpose(1, 2, 0)
        x = (x * self.std + self.mean) * self.div
        image = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        return image[..., ::-1].copy() if self.channel_order == "rgb" else image

    def __repr__(self) -> str:
        return (f"Normalize(channel_order={self.channel_order!r}, div={self.div}, "
                f"mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})")
