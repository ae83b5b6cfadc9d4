"""The segmentation test procedure: images in, logits at each image's original size out.

One object, configured from ``conf/test/`` (``test=ss|ms|sliding``), that runs the original's
order of operations on a batch of normalised images of any sizes:

1. optional resize of each image (``short_side`` / ``input_size``; bicubic, as the original's
   test-time resize, which precedes normalisation there);
2. zero padding on the bottom/right to a multiple of ``pad_stride`` and to the batch's largest
   size (the original's ``fit_stride`` / fixed-size padding);
3. :func:`~ocseg.inference.multiscale.multi_scale` over ``scales`` (+ flip), each view predicted
   whole or by sliding windows (views at scales below ``sliding_min_scale`` are predicted
   whole, as the original's ``mscrop_test``);
4. crop of the padding, resize back to the original size when step 1 resized (bicubic), so
   the caller takes the argmax there.

:meth:`SegmentationPredictor.input_labels` lays label maps out like the network input of steps
1–2 (nearest resize, padding ignored), the target of a loss on the network's own outputs: what
the original's validation loss was computed against (its ``val_trans`` resized the label with
the image; its collate padded it with the ignore label).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ocseg.data.augment import nearest_indices
from ocseg.errors import OcsegError
from ocseg.inference.multiscale import multi_scale
from ocseg.inference.padding import crop_top_left, pad_bottom_right, padded_size
from ocseg.inference.sliding import sliding_window
from ocseg.inference.whole import Forward, whole_image

__all__ = ["SegmentationPredictor"]

_MODES = ("whole", "sliding")


def _pair(value, name: str) -> tuple[int, int] | None:
    if value is None:
        return None
    values = [int(v) for v in (value if isinstance(value, Sequence) else [value, value])]
    if len(values) != 2 or min(values) <= 0:
        raise ValueError(f"{name} must be a positive size [H, W], got {value!r}")
    return values[0], values[1]


class SegmentationPredictor:
    """Args:
        mode: ``"whole"`` (one pass per view) or ``"sliding"`` (windows of ``crop_size``).
        scales: test scales; ``[1.0]`` is single-scale.
        flip: also predict the mirror image of every scale.
        flip_swap_pairs: class channels exchanged on mirrored predictions (LIP left/right).
        scale_weights: optional weight of each scale's logits.
        crop_size, stride: sliding windows (H, W); stride defaults to the crop size.
        sliding_min_scale: views at smaller scales are predicted whole even in sliding mode.
        pad_stride: pad inputs to a multiple of this (None: no padding).
        short_side: resize so the shorter side has this length first (None: keep the size).
        input_size: resize to exactly (H, W) first (None: keep the size).
        output_key: the network output holding the logits.
    """

    def __init__(
        self,
        mode: str = "whole",
        scales: Sequence[float] = (1.0,),
        flip: bool = False,
        flip_swap_pairs: Sequence[Sequence[int]] = (),
        scale_weights: Sequence[float] | None = None,
        crop_size: Sequence[int] | int | None = None,
        stride: Sequence[int] | int | None = None,
        sliding_min_scale: float = 1.0,
        pad_stride: int | None = None,
        short_side: int | None = None,
        input_size: Sequence[int] | None = None,
        output_key: str = "out",
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"test mode must be one of {_MODES}, got {mode!r}")
        self.mode = mode
        self.scales = [float(s) for s in scales]
        if not self.scales or min(self.scales) <= 0:
            raise ValueError(f"test scales must be positive, got {list(scales)}")
        self.flip = bool(flip)
        self.flip_swap_pairs = [tuple(int(c) for c in pair) for pair in (flip_swap_pairs or [])]
        self.scale_weights = None if scale_weights is None else [float(w) for w in scale_weights]
        if self.scale_weights is not None and len(self.scale_weights) != len(self.scales):
            raise OcsegError(f"test.scale_weights has {len(self.scale_weights)} weights for "
                             f"{len(self.scales)} test.scales; give one weight per scale")
        self.crop_size = _pair(crop_size, "test.crop_size")
        self.stride = _pair(stride, "test.stride") or self.crop_size
        if mode == "sliding" and self.crop_size is None:
            raise OcsegError("test.mode=sliding needs a window size: set test.crop_size=[H,W] (or use "
                             "test=sliding, which takes the dataset's)")
        self.sliding_min_scale = float(sliding_min_scale)
        self.pad_stride = int(pad_stride) if pad_stride else None
        self.short_side = int(short_side) if short_side else None
        self.input_size = _pair(input_size, "test.input_size")
        self.output_key = output_key

    # -- views ---------------------------------------------------------------------------------
    def _predict_view(self, forward: Forward, view: torch.Tensor, size: tuple[int, int],
                      scale: float) -> torch.Tensor:
        key = self.output_key
        if self.mode == "sliding" and scale >= self.sliding_min_scale:
            return sliding_window(view, forward, self.crop_size, self.stride, size, keys=[key])[key]
        return whole_image(view, forward, size, keys=[key])[key]

    def network_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size an image of ``size`` (H, W) is resized to before padding (step 1)."""
        if self.input_size is not None:
            return self.input_size
        if self.short_side is not None:
            ratio = self.short_side / min(size)
            return int(round(size[0] * ratio)), int(round(size[1] * ratio))
        return size

    # -- the procedure -------------------------------------------------------------------------
    def __call__(self, forward: Forward, images: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Logits (C×H×W float32, at each image's own size) of C×H×W normalised ``images``."""
        if len(images) == 0:
            return []
        originals = [(int(im.shape[-2]), int(im.shape[-1])) for im in images]
        resized = []
        for image, size in zip(images, originals):
            target = self.network_size(size)
            x = image.unsqueeze(0)
            if target != size:
                x = F.interpolate(x, size=target, mode="bicubic", align_corners=False)
            resized.append(x)
        sizes = [tuple(x.shape[-2:]) for x in resized]
        common = padded_size((max(s[0] for s in sizes), max(s[1] for s in sizes)), self.pad_stride)
        batch = torch.cat([pad_bottom_right(x, common) for x in resized])
        logits = multi_scale(batch, lambda v, s, k: self._predict_view(forward, v, s, k),
                             self.scales, self.flip, self.flip_swap_pairs, self.scale_weights)
        results = []
        for index, (size, original) in enumerate(zip(sizes, originals)):
            out = crop_top_left(logits[index: index + 1], size)
            if size != original:
                out = F.interpolate(out, size=original, mode="bicubic", align_corners=False)
            results.append(out[0])
        return results

    def input_labels(self, labels: Sequence[torch.Tensor], fill: int) -> torch.Tensor:
        """H×W ``labels`` laid out as :meth:`__call__` lays out their images for the network:
        each resized to :meth:`network_size` (nearest, OpenCV's rule), then padded on the
        bottom/right with ``fill`` to the batch's common padded size (N×H'×W')."""
        resized = []
        for label in labels:
            size = (int(label.shape[-2]), int(label.shape[-1]))
            target = self.network_size(size)
            if target != size:
                rows = torch.from_numpy(nearest_indices(size[0], target[0])).to(label.device)
                cols = torch.from_numpy(nearest_indices(size[1], target[1])).to(label.device)
                label = label.index_select(-2, rows).index_select(-1, cols)
            resized.append(label)
        common = padded_size((max(x.shape[-2] for x in resized), max(x.shape[-1] for x in resized)),
                             self.pad_stride)
        return torch.stack([pad_bottom_right(x, common, value=fill) for x in resized])

    def predict(self, forward: Forward, images: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Train-id label maps (H×W int64) of ``images``: the argmax of :meth:`__call__`."""
        return [logit.argmax(0) for logit in self(forward, images)]

    def __repr__(self) -> str:
        parts = [f"mode={self.mode!r}", f"scales={self.scales}", f"flip={self.flip}"]
        if self.mode == "sliding":
            parts += [f"crop_size={self.crop_size}", f"stride={self.stride}"]
        return f"SegmentationPredictor({', '.join(parts)})"
