"""Turning a BGR uint8 image into the network's input tensor exactly as the original did.

The original reads images with OpenCV (BGR), divides by ``div`` and then subtracts ``mean[c]`` and
divides by ``std[c]`` *by channel position*. HRNet configs use ImageNet RGB statistics applied to
B, G, R in that order (div 255); ResNet configs use Caffe BGR means (div 1, std 1). Released
checkpoints depend on this, so it is configured per backbone (``conf/normalize/``).

A uint8 image is normalised through a 256-entry table per channel, computed with the very same
float32 operations, so the values are the formula's bit for bit at a fraction of the cost; the
result is written channel-first into its (optionally padded, :class:`ImagePad`) tensor at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch

__all__ = ["ImagePad", "Normalize"]


@dataclass(frozen=True)
class ImagePad:
    """Padding of the network input around an image: rows above and below, columns left and
    right, and the fill as a BGR pixel (None: the pixel that normalises to 0, so exact zeros, as
    the original padded its normalised tensors)."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0
    fill: tuple[float, float, float] | None = None


class Normalize:
    """``(image[..., order] / div - mean) / std`` → float32 tensor C×H×W, optionally placed in a
    padded tensor (``pad``: an :class:`ImagePad`).

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

        # fed channel k is image channel self.channels[k] (public: the overlays invert it)
        self.channels = (2, 1, 0) if channel_order == "rgb" else (0, 1, 2)
        # the formula below evaluated on every uint8 value: row k is fed channel k's table
        self._table = np.ascontiguousarray(self._formula(np.arange(256, dtype=np.float32)[:, None]).T)

    def _formula(self, x: np.ndarray) -> np.ndarray:
        """``(x / div − mean) / std`` in float32, fed channels last."""
        return (x.astype(np.float32, copy=False) / self.div - self.mean.reshape(-1)) / self.std.reshape(-1)

    def __call__(self, image_bgr: np.ndarray, pad: ImagePad | None = None) -> torch.Tensor:
        """H×W×3 image → 3×H×W float32 tensor; with ``pad`` the tensor is the padded canvas."""
        height, width = image_bgr.shape[:2]
        pad = pad or ImagePad()
        shape = (3, height + pad.top + pad.bottom, width + pad.left + pad.right)
        padded = shape[1:] != (height, width)
        if padded and pad.fill is not None:
            out = np.empty(shape, np.float32)
            out[...] = self._formula(np.asarray(pad.fill, np.float32)[list(self.channels)])[:, None, None]
        else:
            out = np.zeros(shape, np.float32) if padded else np.empty(shape, np.float32)
        inner = out[:, pad.top:pad.top + height, pad.left:pad.left + width]
        if image_bgr.dtype == np.uint8:
            planes = cv2.split(image_bgr)
            for k, c in enumerate(self.channels):
                done = cv2.LUT(planes[c], self._table[k], dst=inner[k])
                if not np.may_share_memory(done, out):  # OpenCV wrote elsewhere: copy it in
                    inner[k] = done
        else:
            for k, c in enumerate(self.channels):
                plane = inner[k]
                np.divide(image_bgr[..., c].astype(np.float32, copy=False), self.div, out=plane)
                np.subtract(plane, self.mean.flat[k], out=plane)
                np.divide(plane, self.std.flat[k], out=plane)
        return torch.from_numpy(out)

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
