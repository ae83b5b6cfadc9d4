"""The original's training augmentations as albumentations transforms.

Each class reproduces one step of openseg's OpenCV pipeline with its exact sampling: random
resize with a scale and an aspect range (bicubic image, nearest label), resize to a short side
or a fixed size, a random crop of at most the crop size (smaller images are kept whole), a
horizontal flip that can swap left/right classes (LIP), an integer brightness shift, and the
final pad to the crop size with the ignore label — done last, as the original's collate did, so
padding is never resized, flipped or brightened. Randomness comes from the generators albumentations
gives each transform (``self.py_random``), so ``A.Compose(seed=...)`` makes a pipeline repeatable.

The steps are written for speed without changing a single output value: flips, brightness and id
swaps are OpenCV copies and table look-ups, a resize followed by a crop gathers only the cropped
label pixels (:class:`ResizeThenCrop`), and a dataset may leave the image padding to the
normalisation (:class:`PadToSize`, ``image_pad=``), which writes the padded network input at once.

Every step that moves pixels also takes SegFix's full-resolution ground truth as the extra target
``boundary_maps=`` (:class:`~ocseg.data.boundary_maps.BoundaryMaps`) and moves it as the original
moved its ``distance_map`` / ``angle_map``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import albumentations as A
import cv2
import numpy as np

from ocseg.data.boundary_maps import BoundaryMaps
from ocseg.data.normalize import ImagePad

__all__ = [
    "RandomScaleAspect",
    "ResizeShortSide",
    "ResizeTo",
    "RandomCropUpTo",
    "ResizeThenCrop",
    "HorizontalFlipSwap",
    "BrightnessShift",
    "PadToSize",
    "PAD_POSITIONS",
    "nearest_indices",
    "fuse_resize_crop",
    "pad_with_normalized_zero",
    "pads_image_last",
    "moves_boundary_maps",
]

# where the image sits inside the padded canvas (the original's collate ``pad_mode``)
PAD_POSITIONS = ("random", "right_down", "left_up", "center")


def _resize(image: np.ndarray, width: int, height: int, interpolation: int) -> np.ndarray:
    if image.shape[1] == width and image.shape[0] == height:
        return image
    return cv2.resize(image, (width, height), interpolation=interpolation)


# array types that cv2.flip returns unchanged (int64, for one, comes back as int32)
_OPENCV_TYPES = (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.float32, np.float64)


def _mirror(x: np.ndarray) -> np.ndarray:
    """``x[:, ::-1]`` as a new array; OpenCV's flip makes the same copy several times faster."""
    if x.dtype in _OPENCV_TYPES and x.ndim in (2, 3):
        return cv2.flip(x, 1)
    return np.ascontiguousarray(x[:, ::-1])


def nearest_indices(source: int, size: int) -> np.ndarray:
    """The source index of each of ``size`` outputs of OpenCV's ``INTER_NEAREST`` resize of a
    side of ``source`` pixels: ``min(⌊i · (1 / (size / source))⌋, source − 1)`` in double
    precision, OpenCV's own rule (``resizeNN``), so indexing with it reproduces ``cv2.resize``."""
    step = 1.0 / (size / source)
    index = np.floor(np.arange(size, dtype=np.float64) * step).astype(np.intp)
    return np.minimum(index, source - 1, out=index)


class _MovesBoundaryMaps:
    """Mixin of the steps that move pixels: ``boundary_maps=`` follows the label's move (nearest
    resize, crop), which is what the original's steps did to its distance and angle maps."""

    @property
    def targets(self) -> dict[str, Any]:
        return {**super().targets, "boundary_maps": self.apply_to_boundary_maps}

    def apply_to_boundary_maps(self, maps: BoundaryMaps, **params: Any) -> BoundaryMaps:
        return maps.map(lambda x: self.apply_to_mask(x, **params))


def moves_boundary_maps(transform: Any) -> list[str]:
    """Names of the steps of ``transform`` that move pixels but not ``boundary_maps=`` (the
    SegFix ground truth would come out misaligned with the label); empty when all do."""
    steps = getattr(transform, "transforms", [transform])
    return [type(step).__name__ for step in steps
            if isinstance(step, A.DualTransform) and "boundary_maps" not in step.targets]


class _ResizeBase(_MovesBoundaryMaps, A.DualTransform):
    """Image: bicubic (as the original's cv2 pipeline); label: nearest, so ids are never blended."""

    def apply(self, img: np.ndarray, width: int, height: int, **params: Any) -> np.ndarray:
        return _resize(img, width, height, cv2.INTER_CUBIC)

    def apply_to_mask(self, mask: np.ndarray, width: int, height: int, **params: Any) -> np.ndarray:
        return _resize(mask, width, height, cv2.INTER_NEAREST)


class RandomScaleAspect(_ResizeBase):
    """Resize by ``s·√a`` in width and ``s/√a`` in height, ``s ~ U(scale_range)``,
    ``a ~ U(aspect_range)``; new size is truncated to int (the original's ``RandomResize``)."""

    def __init__(self, scale_range: Sequence[float] = (0.5, 2.0),
                 aspect_range: Sequence[float] = (0.9, 1.1), p: float = 1.0) -> None:
        super().__init__(p=p)
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.aspect_range = (float(aspect_range[0]), float(aspect_range[1]))

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        scale = self.py_random.uniform(*self.scale_range)
        aspect = self.py_random.uniform(*self.aspect_range)
        return {"width": max(1, int(width * math.sqrt(aspect) * scale)),
                "height": max(1, int(height * math.sqrt(1.0 / aspect) * scale))}


class ResizeShortSide(_ResizeBase):
    """Resize so the shorter side is ``size`` (sides rounded with Python's ``round``, as the
    original's ``Resize(min_side_length=...)``)."""

    def __init__(self, size: int, p: float = 1.0) -> None:
        super().__init__(p=p)
        self.size = int(size)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        scale = self.size / min(width, height)
        return {"width": int(round(width * scale)), "height": int(round(height * scale))}


class ResizeTo(_ResizeBase):
    """Resize to a fixed ``height`` × ``width`` (the original's ``Resize(target_size=...)``)."""

    def __init__(self, height: int, width: int, p: float = 1.0) -> None:
        super().__init__(p=p)
        self.height, self.width = int(height), int(width)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        return {"width": self.width, "height": self.height}


class RandomCropUpTo(_MovesBoundaryMaps, A.DualTransform):
    """Crop ``min(height, H)`` × ``min(width, W)`` at a uniformly random integer offset
    (both ends inclusive); a side shorter than the crop is kept whole and padded later."""

    def __init__(self, height: int, width: int, p: float = 1.0) -> None:
        super().__init__(p=p)
        self.height, self.width = int(height), int(width)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        img_h, img_w = params["shape"][:2]
        crop_h, crop_w = min(self.height, img_h), min(self.width, img_w)
        left = self.py_random.randint(0, img_w - crop_w)  # x first, as the original
        top = self.py_random.randint(0, img_h - crop_h)
        return {"top": top, "left": left, "crop_h": crop_h, "crop_w": crop_w}

    def apply(self, img: np.ndarray, top: int, left: int, crop_h: int, crop_w: int,
              **params: Any) -> np.ndarray:
        return img[top:top + crop_h, left:left + crop_w]

    def apply_to_mask(self, mask: np.ndarray, top: int, left: int, crop_h: int, crop_w: int,
                      **params: Any) -> np.ndarray:
        return mask[top:top + crop_h, left:left + crop_w]


class ResizeThenCrop(_MovesBoundaryMaps, A.DualTransform):
    """``resize`` (a :class:`RandomScaleAspect`, :class:`ResizeShortSide` or :class:`ResizeTo`)
    followed by ``crop`` (a :class:`RandomCropUpTo`) as one step, with the same random draws in
    the same order and the same output values (:func:`fuse_resize_crop` builds it).

    Label maps are never resized whole: a nearest resize followed by a crop is, pixel for pixel,
    the source at OpenCV's nearest indices of the kept rows and columns (:func:`nearest_indices`),
    so only the crop is gathered. The image is resized whole and then cropped: OpenCV rounds each
    output pixel's source coordinate to float32 before quantising its bicubic weights, so the
    weights depend on the absolute position, and ``cv2.resize`` has no output window; a smaller
    call on the needed source rows and columns would not give the same bytes.
    """

    def __init__(self, resize: _ResizeBase, crop: RandomCropUpTo) -> None:
        super().__init__(p=1.0)
        self.resize, self.crop = resize, crop

    @property
    def parts(self) -> tuple[A.DualTransform, A.DualTransform]:
        """The two steps this one stands for, in order."""
        return self.resize, self.crop

    def set_random_state(self, random_generator: np.random.Generator, py_random) -> None:
        super().set_random_state(random_generator, py_random)
        self.resize.set_random_state(random_generator, py_random)
        self.crop.set_random_state(random_generator, py_random)

    def get_params(self) -> dict[str, Any]:
        return self.resize.get_params()

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        size = self.resize.get_params_dependent_on_data(params, data)
        shape = (size["height"], size["width"]) + tuple(params["shape"][2:])
        crop = {**self.crop.get_params(), "shape": shape}
        crop.update(self.crop.get_params_dependent_on_data(crop, data))
        return {**size, **{k: v for k, v in crop.items() if k != "shape"}}

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return self.crop.apply(self.resize.apply(img, **params), **params)

    def apply_to_mask(self, mask: np.ndarray, width: int, height: int, top: int, left: int,
                      crop_h: int, crop_w: int, **params: Any) -> np.ndarray:
        rows = nearest_indices(mask.shape[0], height)[top:top + crop_h]
        cols = nearest_indices(mask.shape[1], width)[left:left + crop_w]
        return mask.take(rows, axis=0).take(cols, axis=1)


def fuse_resize_crop(steps: Sequence[A.BasicTransform]) -> list[A.BasicTransform]:
    """``steps`` with every resize step that is directly followed by a :class:`RandomCropUpTo`
    merged with it into a :class:`ResizeThenCrop` (both must apply always, ``p=1``, so that no
    extra coin is drawn); everything else is kept as it is."""
    out: list[A.BasicTransform] = []
    for step in steps:
        prev = out[-1] if out else None
        if (isinstance(step, RandomCropUpTo) and isinstance(prev, _ResizeBase)
                and step.p >= 1.0 and prev.p >= 1.0):
            out[-1] = ResizeThenCrop(prev, step)
        else:
            out.append(step)
    return out


class HorizontalFlipSwap(_MovesBoundaryMaps, A.DualTransform):
    """Mirror left-right; in the label, the ids of each ``swap_pairs`` entry are exchanged
    (LIP: left/right arm, leg and shoe), since a mirrored left arm is a right arm. Extra
    ``masks=`` (instance ids) are mirrored without swapping."""

    def __init__(self, swap_pairs: Sequence[Sequence[int]] = (), p: float = 0.5) -> None:
        super().__init__(p=p)
        self.swap_pairs = [(int(a), int(b)) for a, b in swap_pairs]
        lut = np.arange(256, dtype=np.uint8)
        for a, b in self.swap_pairs:
            lut[a], lut[b] = b, a
        self._swap_lut = lut if self.swap_pairs else None

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return _mirror(img)

    def apply_to_mask(self, mask: np.ndarray, **params: Any) -> np.ndarray:
        flipped = _mirror(mask)
        if self._swap_lut is None:
            return flipped
        if flipped.dtype == np.uint8:
            return cv2.LUT(flipped, self._swap_lut)
        return self._swap_lut[flipped]

    def apply_to_masks(self, masks: np.ndarray, **params: Any) -> np.ndarray:
        # extra masks (instance ids) are mirrored only: their ids are not train ids
        return np.ascontiguousarray(np.asarray(masks)[:, :, ::-1])

    def apply_to_boundary_maps(self, maps: BoundaryMaps, **params: Any) -> BoundaryMaps:
        return maps.mirrored()  # no class swap; the angles turn as the original turned them


class BrightnessShift(A.ImageOnlyTransform):
    """Add one integer ``k ~ U{-max_shift, …, max_shift}`` to every channel, clip to 0..255
    (the original's ``RandomBrightness``)."""

    def __init__(self, max_shift: int = 10, p: float = 1.0) -> None:
        super().__init__(p=p)
        self.max_shift = int(max_shift)

    def get_params(self) -> dict[str, Any]:
        return {"shift": self.py_random.randint(-self.max_shift, self.max_shift)}

    def apply(self, img: np.ndarray, shift: int = 0, **params: Any) -> np.ndarray:
        if shift == 0:
            return img
        if img.dtype == np.uint8:  # clip(v + shift, 0, 255) for each of the 256 values
            table = np.clip(np.arange(256) + shift, 0, 255).astype(np.uint8)
            return cv2.LUT(img, table)
        return np.clip(np.around(img + shift), 0, 255).astype(img.dtype)


class PadToSize(_MovesBoundaryMaps, A.DualTransform):
    """Pad to at least ``height`` × ``width``: the image with ``fill`` (per channel), the label
    with ``fill_mask``; ``position`` places the image (``random``: uniform integer offsets).

    Without ``fill`` the image is padded with the pixel value that the network input
    normalisation maps to exactly 0, which is what the original padded its normalised tensors
    with: the dataset that owns the normalisation sets it (:func:`pad_with_normalized_zero`), or
    pass ``normalize`` here. Such fills are fractional, so the image is returned as float32
    (always, so every sample of a batch has the same dtype).

    Called with an extra ``image_pad=ImagePad()`` target (as :class:`~ocseg.data.dataset.
    SegmentationDataset` does when this is the pipeline's last step), the image is returned
    unpadded, as it came, and ``image_pad`` says where it goes and with which fill (None: the
    normalised zero), for :class:`~ocseg.data.normalize.Normalize` to write the padded network
    input directly: the same random offsets, the label padded as always, and the padding
    exactly 0 after normalisation, as the original's collate padded its normalised tensors
    (``lib/datasets/tools/collate.py:142``, both branches).
    """

    def __init__(self, height: int, width: int, position: str = "random",
                 fill: Sequence[float] | float | None = None, fill_mask: int = 255,
                 normalize: Any | None = None, p: float = 1.0) -> None:
        super().__init__(p=p)
        if position not in PAD_POSITIONS:
            raise ValueError(f"position must be one of {PAD_POSITIONS}, got {position!r}")
        self.height, self.width = int(height), int(width)
        self.position = position
        self.fill_mask = int(fill_mask)
        self.fill_given = fill is not None
        # True when the fill is the pixel that the input normalisation maps to 0
        self.fills_normalized_zero = not self.fill_given and normalize is not None
        self._set_fill(fill if fill is not None else
                       normalize.zero_pixel() if normalize is not None else 0)

    @property
    def targets(self) -> dict[str, Any]:
        return {**super().targets, "image_pad": self.apply_to_image_pad}

    def _set_fill(self, fill: Sequence[float] | float) -> None:
        values = np.broadcast_to(np.asarray(fill, dtype=np.float64), (3,))
        self.fill = tuple(float(v) for v in values)
        self._as_float = any(v != round(v) for v in self.fill)

    def use_normalize(self, normalize: Any) -> None:
        """Pad with the pixel ``normalize`` maps to 0, unless an explicit ``fill`` was given."""
        if not self.fill_given:
            self._set_fill(normalize.zero_pixel())
            self.fills_normalized_zero = True

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        img_h, img_w = params["shape"][:2]
        pad_h, pad_w = max(self.height - img_h, 0), max(self.width - img_w, 0)
        if self.position == "random":
            left = self.py_random.randint(0, pad_w)  # x first, as the original's collate
            top = self.py_random.randint(0, pad_h)
        elif self.position == "left_up":
            top, left = pad_h, pad_w
        elif self.position == "center":
            top, left = pad_h // 2, pad_w // 2
        else:  # right_down
            top = left = 0
        return {"pad_top": top, "pad_left": left, "pad_h": pad_h, "pad_w": pad_w,
                "image_pad_deferred": "image_pad" in data}

    @staticmethod
    def _pad(x: np.ndarray, value, pad_top: int, pad_left: int, pad_h: int, pad_w: int) -> np.ndarray:
        if pad_h == 0 and pad_w == 0:
            return x
        shape = (x.shape[0] + pad_h, x.shape[1] + pad_w) + x.shape[2:]
        out = np.empty(shape, dtype=x.dtype)
        out[...] = value
        out[pad_top:pad_top + x.shape[0], pad_left:pad_left + x.shape[1]] = x
        return out

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        if params.get("image_pad_deferred"):
            return img
        if self._as_float:
            img = img.astype(np.float32)
        fill = self.fill if img.ndim == 3 else self.fill[0]
        return self._pad(img, fill, params["pad_top"], params["pad_left"], params["pad_h"],
                         params["pad_w"])

    def apply_to_mask(self, mask: np.ndarray, **params: Any) -> np.ndarray:
        return self._pad(mask, self.fill_mask, params["pad_top"], params["pad_left"],
                         params["pad_h"], params["pad_w"])

    def apply_to_boundary_maps(self, maps: BoundaryMaps, pad_top: int, pad_left: int, pad_h: int,
                               pad_w: int, **params: Any) -> BoundaryMaps:
        return maps.padded(pad_top, pad_left, pad_h, pad_w)

    def apply_to_image_pad(self, image_pad: ImagePad, pad_top: int, pad_left: int, pad_h: int,
                           pad_w: int, **params: Any) -> ImagePad:
        return ImagePad(top=pad_top, bottom=pad_h - pad_top, left=pad_left, right=pad_w - pad_left,
                        fill=None if self.fills_normalized_zero else self.fill)


def pad_with_normalized_zero(transform: Any, normalize: Any) -> None:
    """Make every :class:`PadToSize` step of ``transform`` (a ``Compose`` or one step) without
    an explicit fill pad with the pixel that ``normalize`` maps to 0."""
    steps = getattr(transform, "transforms", [transform])
    for step in steps:
        if isinstance(step, PadToSize):
            step.use_normalize(normalize)


def pads_image_last(transform: Any) -> bool:
    """Whether ``transform``'s last step is a :class:`PadToSize`, which may then leave the image
    padding to the normalisation (``image_pad=``): no later step sees the unpadded image."""
    steps = getattr(transform, "transforms", [transform])
    return bool(steps) and isinstance(steps[-1], PadToSize)
