"""Where sliding windows go: start offsets along one axis and the boxes that tile an image.

The rule is the original's (``_decide_intersection`` of its testers): windows start at
``0, stride, 2·stride, …`` while they fit, and when the last one stops short of the far border
one more window is placed flush with it. Segmentation crop testing uses ``stride = crop``;
SegFix offset prediction uses crop 512 and ``stride = int(512 / 3) = 170``.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

__all__ = ["Box", "window_starts", "window_boxes"]


class Box(NamedTuple):
    """A window ``[top:bottom, left:right]``."""

    top: int
    left: int
    bottom: int
    right: int


def window_starts(length: int, crop: int, stride: int) -> list[int]:
    """Start offsets of windows of size ``crop`` covering ``0 .. length-1``.

    A length no longer than the crop gets one window at 0 (clipped to the image), where the
    original would have failed.
    """
    length, crop, stride = int(length), int(crop), int(stride)
    if crop <= 0 or stride <= 0:
        raise ValueError(f"crop ({crop}) and stride ({stride}) must be positive")
    if length <= crop:
        return [0]
    starts = list(range(0, length - crop + 1, stride))
    if starts[-1] + crop < length:
        starts.append(length - crop)  # flush with the far border
    return starts


def window_boxes(height: int, width: int, crop_size: Sequence[int],
                 stride: Sequence[int]) -> list[Box]:
    """Row-major boxes of ``crop_size`` (H, W) windows with ``stride`` (H, W) over an image."""
    ch, cw = int(crop_size[0]), int(crop_size[1])
    tops = window_starts(height, ch, int(stride[0]))
    lefts = window_starts(width, cw, int(stride[1]))
    return [Box(t, left, min(t + ch, height), min(left + cw, width)) for t in tops for left in lefts]
