"""The original SegFix ground truth: per-segment distance transform and its direction, encoded
as the original's uint8 ``depth`` / ``dir_deg`` maps.

For every segment (a class of a semantic map, or one instance / stuff region) the original
computes, on the whole image, the Euclidean distance of each segment pixel to the nearest pixel
outside the segment (``scipy.ndimage.distance_transform_edt``; the image border is *not* a
boundary), then cross-correlates that float32 distance map with a 2×5×5 kernel (channel 0: row
offset ``j/(i²+j²)``, channel 1: column offset ``i/(i²+j²)``, zero padding) with ``torch`` conv2d,
keeps the result inside the segment and sums over segments. ``dir_deg = uint8((degrees(atan2(y,
x)) + 180) / 2)`` and ``depth = uint8(min(distance, 250))``; pixels in no segment get depth 0 and
``dir_deg`` 90 (angle 0).

Both quantities are local, so we compute them on small crops with the *same* scipy EDT and the
*same* float32 conv2d: the distance per 4-connected component of the segment on its bounding box
grown by one pixel (the ring of other pixels stays zero, the image border stays a border), the
correlation per component on its box grown by two pixels, at a fraction of the cost. ``depth``
is the original's bit for bit. ``dir_deg`` is too, except where the exact angle sits on a 2°
truncation boundary (axis-aligned directions at symmetric pixels): there a float32 sum in another
order (the cropped conv2d against the original's whole-image call) can give ``-1e-7`` instead of
``0`` and truncate one step lower (``dir_deg`` 89, not 90), so a few dozen pixels of a
Cityscapes-size map may differ by one; the 8-direction training bins are identical
(``tests/test_segfix_ground_truth.py`` checks both). The float32 conv2d itself is kept so that
every other pixel matches exactly.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import distance_transform_edt, find_objects, label

__all__ = [
    "DEG_REDUCE", "MAX_DEPTH", "MIN_CLASS_PIXELS", "KERNEL_SIZE", "DTOffsets",
    "direction_kernel", "distance_and_direction", "encode", "semantic_ground_truth",
    "instance_ground_truth",
]

DEG_REDUCE = 2          # dir_deg stores (angle + 180) / DEG_REDUCE
MAX_DEPTH = 250         # depth is capped here before the uint8 cast
MIN_CLASS_PIXELS = 100  # semantic classes with fewer pixels get no ground truth
KERNEL_SIZE = 5


@dataclass(frozen=True)
class DTOffsets:
    """The original's ground-truth maps (H×W uint8) and what training reads from them."""

    depth: np.ndarray
    dir_deg: np.ndarray
    deg_reduce: int = DEG_REDUCE

    @property
    def distance(self) -> np.ndarray:
        """Distance to the segment border in pixels (float32, capped at 250; 0 outside segments)."""
        return self.depth.astype(np.float32)

    @property
    def angle(self) -> np.ndarray:
        """Direction in degrees, ``deg_reduce·dir_deg − 180`` (float32), rows pointing down."""
        return self.dir_deg.astype(np.float32) * np.float32(self.deg_reduce) - np.float32(180)


def direction_kernel(ksize: int = KERNEL_SIZE) -> torch.Tensor:
    """The original's 2×1×k×k float32 kernel: channel 0 ``j/(i²+j²)`` (rows), 1 ``i/(i²+j²)``."""
    offsets = np.arange(ksize, dtype=np.float64) - (ksize - 1) / 2
    j, i = np.meshgrid(offsets, offsets, indexing="ij")
    r2 = i * i + j * j
    r2[r2 == 0] = np.inf  # centre tap is 0
    return torch.from_numpy(np.stack([j / r2, i / r2])).float().unsqueeze(1)


_KERNEL = direction_kernel()
_FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run the many small convolutions on one thread (results do not depend on it): with a
    thread pool each call waits on a barrier, which costs milliseconds on a busy machine."""
    previous = torch.get_num_threads()
    if previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _grown_box(box: tuple[slice, slice], height: int, width: int,
               margin: int) -> tuple[slice, slice]:
    ys, xs = box
    return (slice(max(ys.start - margin, 0), min(ys.stop + margin, height)),
            slice(max(xs.start - margin, 0), min(xs.stop + margin, width)))


def _compact(segments: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Map segment ``ids[k]`` → ``k + 1`` and everything else → 0 (int32), for find_objects."""
    top = int(segments.max(initial=0))
    if segments.dtype.kind in "ub" or (int(segments.min(initial=0)) >= 0 and top < (1 << 22)):
        lut = np.zeros(top + 1, np.int32)
        lut[ids[ids <= top]] = np.flatnonzero(ids <= top).astype(np.int32) + 1
        return lut[segments]
    pos = np.searchsorted(ids, segments)
    pos_clip = np.minimum(pos, len(ids) - 1)
    return np.where(ids[pos_clip] == segments, pos_clip + 1, 0).astype(np.int32)


def distance_and_direction(segments: np.ndarray, ids: Sequence[int],
                           dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Distance (H×W) and direction (H×W×2: y, x) of the segments ``ids`` of the id map
    ``segments``, in ``dtype`` (the original: float32 for semantic, float64 for instance maps).

    Pixels outside the listed segments are 0 in both.
    """
    segments = np.asarray(segments)
    height, width = segments.shape
    ids = np.unique(np.asarray(list(ids), dtype=np.int64))
    depth = np.zeros((height, width), dtype)
    direction = np.zeros((height, width, 2), dtype)
    if ids.size == 0:
        return depth, direction
    boxes = find_objects(_compact(segments, ids), max_label=len(ids))
    with _one_thread():
        for value, box in zip(ids, boxes):
            if box is not None:
                _segment_fields(segments, int(value), _grown_box(box, height, width, 1),
                                depth, direction)
    # The original adds every segment's (zeroed elsewhere) map onto +0.0: -0.0 becomes +0.0,
    # which decides atan2(±0, x < 0) = ±180°.
    direction += dtype(0)
    return depth, direction


def _segment_fields(segments: np.ndarray, value: int, window: tuple[slice, slice],
                    depth: np.ndarray, direction: np.ndarray) -> None:
    """Write one segment's distance and direction into ``depth`` / ``direction``.

    The distance is computed per 4-connected component of the segment: the nearest pixel
    outside the segment is always 4-adjacent to the pixel's own component, so a component's
    transform equals the segment's there, and components have much smaller boxes. The
    correlation then reads the whole segment's distances (a 5×5 window may hold pixels of
    a neighbouring component).
    """
    inside = segments[window] == value
    components, _ = label(inside, structure=_FOUR_CONNECTED)
    dist = np.zeros(inside.shape, np.float64)
    boxes = find_objects(components)
    for index, box in enumerate(boxes, start=1):
        sub = _grown_box(box, *inside.shape, 1)
        part = components[sub] == index
        np.copyto(dist[sub], distance_transform_edt(part), where=part)
    np.copyto(depth[window], dist, where=inside, casting="same_kind")
    dist32 = dist.astype(np.float32)
    y0, x0 = window[0].start, window[1].start
    for index, box in enumerate(boxes, start=1):
        sub = _grown_box(box, *inside.shape, KERNEL_SIZE // 2)
        grad = _correlate(dist32[sub])
        own = components[sub] == index
        target = direction[y0 + sub[0].start:y0 + sub[0].stop, x0 + sub[1].start:x0 + sub[1].stop]
        np.copyto(target, grad.transpose(1, 2, 0), where=own[..., None], casting="same_kind")


def _bucket(size: int) -> int:
    """Round a crop size up to one of a few dozen sizes (multiples of 16, then ~19 % apart)."""
    if size <= 64:
        return -(-size // 16) * 16
    step = 64
    while step < size:
        step = -(-int(step * 1.19) // 16) * 16
    return step


def _correlate(dist: np.ndarray) -> np.ndarray:
    """The original's float32 conv2d (zero padding) of ``dist``, 2×h×w.

    Crops are zero-padded on the far side to bucketed sizes: oneDNN builds a kernel for every
    new input shape (milliseconds), so a handful of shapes keeps it cached; the extra zeros are
    what the full-image computation sees there anyway, so the values do not change.
    """
    height, width = dist.shape
    padded = np.zeros((_bucket(height), _bucket(width)), np.float32)
    padded[:height, :width] = dist
    grad = F.conv2d(torch.from_numpy(padded)[None, None], _KERNEL, padding=KERNEL_SIZE // 2)
    return grad[0, :, :height, :width].numpy()


def encode(depth: np.ndarray, direction: np.ndarray) -> DTOffsets:
    """The original's uint8 encoding; arithmetic stays in the maps' dtype (truncating casts)."""
    capped = np.minimum(depth, depth.dtype.type(MAX_DEPTH))
    # atan2 on the interleaved views, exactly the original's call.
    degrees = np.degrees(np.arctan2(direction[:, :, 0], direction[:, :, 1])) + 180
    return DTOffsets(depth=capped.astype(np.uint8),
                     dir_deg=(degrees / DEG_REDUCE).astype(np.uint8))


def semantic_ground_truth(train_label: np.ndarray, num_classes: int,
                          min_pixels: int = MIN_CLASS_PIXELS) -> DTOffsets:
    """Ground truth of a train-id map (0..num_classes−1; anything else, e.g. 255, is no class).

    Classes with fewer than ``min_pixels`` pixels are skipped, as in the original.
    """
    label = np.asarray(train_label)
    flat = label.ravel()
    if label.dtype == np.uint8:
        counts = np.bincount(flat, minlength=256)[:num_classes]
    else:
        valid = flat[(flat >= 0) & (flat < num_classes)].astype(np.int64)
        counts = np.bincount(valid, minlength=num_classes)
    classes = np.flatnonzero(counts >= min_pixels)
    return encode(*distance_and_direction(label, classes, np.float32))


def instance_ground_truth(instance_ids: np.ndarray, label_ids: Sequence[int]) -> DTOffsets:
    """Ground truth of a Cityscapes-style instanceIds map (the original instance generator).

    Ids below 256 that are not in ``label_ids`` (the dataset's evaluated label ids) become 255;
    then every distinct id (each instance, each stuff class and 255) is a segment, whatever its
    size, and the maps are computed in float64.
    """
    ids = np.asarray(instance_ids)
    if ids.dtype.kind not in "iu":
        raise ValueError(f"instance ids must be integers, got {ids.dtype}")
    keep = np.zeros(256, bool)
    keep[[int(v) for v in label_ids if 0 <= int(v) < 256]] = True
    small = (ids >= 0) & (ids < 256)
    remap = np.where(small & ~keep[np.clip(ids, 0, 255)], 255, ids)
    values = np.unique(remap)
    return encode(*distance_and_direction(remap, values, np.float64))
