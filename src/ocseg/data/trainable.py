"""Will a training split give the optimizer real batches? Checked before the first step.

Training is iteration based and its loader drops the last incomplete batch (``drop_last``), so a
split with fewer images per process than the batch gives an empty loader: Lightning then ends
``fit`` after 0 steps and the run would look finished. And a crop so much larger than every
image, even at the largest random scale of the augmentation, that image pixels fill less than
:data:`MIN_FILLED` of it makes every training sample mostly padding. Both stop the run before
training with one line giving the split size, the batch or the sizes, and the key that fixes it.
Only file headers are read (a few images' sizes), never pixels.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from ocseg.data.augment import RandomCropUpTo, RandomScaleAspect, ResizeShortSide, ResizeThenCrop, ResizeTo
from ocseg.errors import OcsegError

__all__ = ["batches_per_process", "check_batches", "largest_before_crop", "check_crop",
           "sample_sizes", "SIZE_SAMPLE", "MIN_FILLED"]

#: images whose sizes the crop check reads (evenly spread over the split; all of a smaller one)
SIZE_SAMPLE = 64
#: the share of the crop that image pixels must be able to fill (the rest is padding)
MIN_FILLED = 0.5


def batches_per_process(num_images: int, batch_size: int, world_size: int = 1) -> int:
    """Full batches one process gets per epoch: the distributed sampler gives each of
    ``world_size`` processes ``ceil(num_images / world_size)`` images, the loader drops the rest
    of the last batch."""
    per_process = math.ceil(num_images / world_size)
    return per_process // batch_size


def check_batches(num_images: int, batch_size: int, world_size: int = 1,
                  batch_key: str = "data.global_batch_size") -> None:
    """One :class:`OcsegError` when the training loader of ``num_images`` would be empty.

    ``batch_size`` is per process; ``batch_key`` names the setting the user gave
    (``data.global_batch_size``, the total, or ``data.batch_size``, per process).
    """
    if batches_per_process(num_images, batch_size, world_size) > 0:
        return
    if num_images == 0:
        raise OcsegError("the training split has no images; check dataset.root and "
                         "dataset.train_split")
    per_process = math.ceil(num_images / world_size)
    per_batch = batch_key == "data.batch_size"
    given = batch_size if per_batch else batch_size * world_size
    fix = per_process if per_batch else per_process * world_size
    over = "" if world_size == 1 else f" ({per_process} per process over {world_size} processes)"
    raise OcsegError(
        f"the training split has {num_images} images{over}, fewer than one batch of {batch_key}="
        f"{given}: training would do 0 steps (incomplete batches are dropped); set {batch_key}="
        f"{fix} or less, or add images (dataset.train_split)")


def _steps(transform: Any) -> list:
    steps = []
    for step in getattr(transform, "transforms", []) or []:
        steps.extend(step.parts if isinstance(step, ResizeThenCrop) else [step])
    return steps


def largest_before_crop(transform: Any, height: int, width: int
                        ) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """``((H, W), (crop_h, crop_w))``: the largest size an image of ``height`` × ``width`` can
    have when ``transform`` reaches its random crop (fixed resizes applied, a random scale at its
    largest), and the crop; None when the pipeline has no :class:`RandomCropUpTo`."""
    h, w = float(height), float(width)
    for step in _steps(transform):
        if isinstance(step, ResizeShortSide):
            scale = step.size / min(h, w)
            h, w = round(h * scale), round(w * scale)
        elif isinstance(step, ResizeTo):
            h, w = step.height, step.width
        elif isinstance(step, RandomScaleAspect):
            top = step.scale_range[1]
            h, w = h * top / math.sqrt(step.aspect_range[0]), w * top * math.sqrt(step.aspect_range[1])
        elif isinstance(step, RandomCropUpTo):
            return (int(h), int(w)), (step.height, step.width)
    return None


def check_crop(transform: Any, sizes: Sequence[tuple[int, int]]) -> None:
    """One :class:`OcsegError` when no image of ``sizes`` ((H, W) as stored) fills
    :data:`MIN_FILLED` of the crop of ``transform`` even at the augmentation's largest scale:
    every crop would be mostly padding."""
    if not sizes:
        return
    reach = [largest_before_crop(transform, h, w) for h, w in sizes]
    if any(r is None for r in reach):
        return
    (crop_h, crop_w) = reach[0][1]
    if any(min(h, crop_h) * min(w, crop_w) >= MIN_FILLED * crop_h * crop_w for (h, w), _ in reach):
        return
    stored_h, stored_w = max(h for h, _ in sizes), max(w for _, w in sizes)
    top_h, top_w = max(h for (h, _), _ in reach), max(w for (_, w), _ in reach)
    fit = [min(crop_h, stored_h), min(crop_w, stored_w)]
    raise OcsegError(
        f"dataset.crop_size=[{crop_h}, {crop_w}] is larger than every training image of the "
        f"{len(sizes)} checked (the largest is {stored_h}×{stored_w} H×W, at most {top_h}×{top_w} "
        f"after the largest random resize): every crop would be mostly padding; set "
        f"dataset.crop_size=[{fit[0]},{fit[1]}] or smaller")


def sample_sizes(samples: Sequence[Any], limit: int = SIZE_SAMPLE) -> list[tuple[int, int]]:
    """(H, W) of up to ``limit`` images of ``samples`` (records with ``.image``), evenly spread,
    from their headers; an unreadable file is left out (reading it is ``data.on_bad_file``'s
    business)."""
    from ocseg.data.preflight import image_size

    if not samples:
        return []
    count = min(limit, len(samples))
    picks = sorted({round(i * (len(samples) - 1) / max(count - 1, 1)) for i in range(count)})
    sizes = []
    for i in picks:
        try:
            width, height = image_size(samples[i].image, verify=False)
        except OcsegError:
            continue
        sizes.append((height, width))
    return sizes
