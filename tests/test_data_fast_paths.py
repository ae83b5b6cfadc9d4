"""The fast training pipeline gives the values of the straightforward one, bit for bit.

Each fast path is checked against the plain computation it replaces, with the same random draws:
the label cropped before its nearest resize (``ResizeThenCrop``), OpenCV flips and table look-ups
for flips, brightness, id swaps and id mapping, the table normalisation, and padding written by the
normalisation instead of a float32 padded image.
"""

from __future__ import annotations

import copy
import random

import albumentations as A
import cv2
import numpy as np
import pytest
import torch

from helpers.config import shipped_normalize
from ocseg.data.augment import (
    BrightnessShift,
    HorizontalFlipSwap,
    PadToSize,
    RandomCropUpTo,
    RandomScaleAspect,
    ResizeShortSide,
    ResizeThenCrop,
    ResizeTo,
    nearest_indices,
    pad_with_normalized_zero,
)
from ocseg.data.dataset import Sample, SegmentationDataset
from ocseg.data.label_map import LabelMap
from ocseg.data.normalize import ImagePad, Normalize
from ocseg.data.transforms import pipeline, reseed
from ocseg.errors import OcsegError

NORMALIZATIONS = {name: shipped_normalize(name) for name in ("imagenet_bgr", "caffe_bgr")}
_IMAGENET = NORMALIZATIONS["imagenet_bgr"]
NORMALIZATIONS["rgb"] = Normalize("rgb", _IMAGENET.div, _IMAGENET.mean.ravel(), _IMAGENET.std.ravel())


def formula(image: np.ndarray, norm: Normalize) -> torch.Tensor:
    """The straightforward normalisation: ``(x[..., order] / div − mean) / std``, channels first."""
    x = image[..., ::-1] if norm.channel_order == "rgb" else image
    x = (x.astype(np.float32) / norm.div - norm.mean) / norm.std
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def scene(h: int, w: int, seed: int = 0, classes: int = 20):
    """A random image, a blocky label (so nearest picks are visible) and 16-bit instance ids."""
    rng = np.random.RandomState(seed)
    image = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
    small = rng.randint(0, classes, (h // 3 + 1, w // 3 + 1))
    label = np.kron(small, np.ones((3, 3), np.int64))[:h, :w].astype(np.uint8)
    instance = rng.randint(0, 40000, (h, w)).astype(np.uint16)
    return image, label, instance


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_nearest_indices_are_opencvs(dtype):
    """Random sizes, Cityscapes sizes, and the exact ratios OpenCV has special code for."""
    rng = random.Random(0)
    sizes = [((1, 1), (1, 1)), ((1, 7), (5, 1)), ((1024, 2048), (512, 1024)), ((1024, 2048), (2048, 4096)),
             ((1024, 2048), (1023, 2047)), ((683, 512), (520, 390))]
    sizes += [((5 * k, 5 * k + 10), (p * k, p * k + 2 * p)) for p in (12, 17) for k in (1, 3, 8)]
    sizes += [((10 * k, 20 * k), (13 * k, 26 * k)) for k in (1, 4)]
    sizes += [((rng.randint(1, 300), rng.randint(1, 300)), (rng.randint(1, 700), rng.randint(1, 700)))
              for _ in range(200)]
    for (sh, sw), (dh, dw) in sizes:
        values = ((np.arange(sh)[:, None] * 1009 + np.arange(sw)) % np.iinfo(dtype).max).astype(dtype)
        expected = cv2.resize(values, (dw, dh), interpolation=cv2.INTER_NEAREST)
        gathered = values[nearest_indices(sh, dh)][:, nearest_indices(sw, dw)]
        np.testing.assert_array_equal(gathered, expected, err_msg=f"{sh}×{sw} → {dh}×{dw}")


RESIZES = {
    "scale_aspect": lambda: RandomScaleAspect((0.5, 2.0), (0.9, 1.1)),
    "short_side": lambda: ResizeShortSide(37),
    "fixed": lambda: ResizeTo(29, 41),
}


@pytest.mark.parametrize("resize", list(RESIZES))
@pytest.mark.parametrize("size", [(40, 60), (13, 50), (24, 24)])
def test_resize_then_crop_equals_resize_and_crop(resize, size):
    """Same draws, same image, same labels and instance ids as the two steps one after the other
    (crops larger than the resized image keep it whole; the last case never resizes)."""
    steps = [RESIZES[resize](), RandomCropUpTo(24, 32), HorizontalFlipSwap(p=0.5), BrightnessShift(10)]
    fused = pipeline([copy.deepcopy(s) for s in steps])
    assert isinstance(fused.transforms[0], ResizeThenCrop)
    plain = A.Compose([copy.deepcopy(s) for s in steps])
    image, label, instance = scene(*size)
    for seed in range(25):
        reseed(fused, seed)
        reseed(plain, seed)
        a = fused(image=image, mask=label, masks=[instance])
        b = plain(image=image, mask=label, masks=[instance])
        for key in ("image", "mask"):
            assert a[key].dtype == b[key].dtype
            np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a["masks"][0], b["masks"][0])
        assert fused.py_random.random() == plain.py_random.random()  # the streams stay in step


def test_only_always_applied_resize_crop_pairs_are_fused():
    steps = pipeline([RandomScaleAspect(p=0.5), RandomCropUpTo(8, 8), ResizeTo(9, 9),
                      HorizontalFlipSwap(), RandomCropUpTo(4, 4)]).transforms
    assert [type(s).__name__ for s in steps] == ["RandomScaleAspect", "RandomCropUpTo", "ResizeTo",
                                                 "HorizontalFlipSwap", "RandomCropUpTo"]
    fused = pipeline([ResizeShortSide(8), RandomCropUpTo(4, 4)]).transforms[0]
    assert [type(s).__name__ for s in fused.parts] == ["ResizeShortSide", "RandomCropUpTo"]


def test_flip_brightness_and_swap_equal_the_numpy_formulas():
    image = np.random.RandomState(1).randint(0, 256, (5, 256, 3)).astype(np.uint8)
    image[0, :, 0] = np.arange(256)  # every value
    mask = np.random.RandomState(2).randint(0, 256, (5, 256)).astype(np.uint8)
    pairs = [(14, 15), (16, 17), (18, 19)]
    flip = HorizontalFlipSwap(pairs, p=1.0)(image=image, mask=mask)
    lut = np.arange(256, dtype=np.uint8)
    for a, b in pairs:
        lut[a], lut[b] = b, a
    np.testing.assert_array_equal(flip["image"], image[:, ::-1])
    np.testing.assert_array_equal(flip["mask"], lut[mask[:, ::-1]])
    step = BrightnessShift(10)
    for shift in range(-10, 11):
        expected = np.clip(image.astype(np.int16) + shift, 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(step.apply(image, shift=shift), expected)
    for dtype in (np.int64, np.bool_, np.float32):  # types OpenCV would change or refuse
        wide = (mask % 2).astype(dtype)
        out = HorizontalFlipSwap(p=1.0)(image=image, mask=wide)["mask"]
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, wide[:, ::-1])


@pytest.mark.parametrize("name", list(NORMALIZATIONS))
def test_table_normalisation_is_the_formula_bit_for_bit(name):
    norm = NORMALIZATIONS[name]
    image = np.zeros((2, 256, 3), np.uint8)
    image[0] = np.arange(256)[:, None]  # every value in every channel
    image[1] = np.random.RandomState(0).randint(0, 256, (256, 3))
    expected = formula(image, norm)
    assert torch.equal(norm(image), expected)
    assert torch.equal(norm(image.astype(np.float32)), expected)  # the float path too
    assert norm(image).is_contiguous() and norm(image).dtype == torch.float32


@pytest.mark.parametrize("name", list(NORMALIZATIONS))
def test_padding_in_the_normalisation_equals_padding_the_image(name):
    """Fill None: exact zeros (the original's collate padded its normalised tensor with 0); the
    padding step's float32 image with the pixel that normalises to 0 gives 0 within float
    rounding. An explicit fill gives the formula's value of that pixel, bit for bit."""
    norm = NORMALIZATIONS[name]
    image = np.random.RandomState(3).randint(0, 256, (7, 9, 3)).astype(np.uint8)
    pad = ImagePad(top=2, bottom=3, left=1, right=4)
    out = norm(image, pad)
    assert out.shape == (3, 12, 14)
    assert torch.equal(out[:, 2:9, 1:10], formula(image, norm))
    border = torch.ones(12, 14, dtype=torch.bool)
    border[2:9, 1:10] = False
    assert torch.all(out[:, border] == 0)
    padded = PadToSize(12, 14, normalize=norm).apply(image, pad_top=2, pad_left=1, pad_h=5, pad_w=5)
    np.testing.assert_allclose(formula(padded, norm).numpy(), out.numpy(), rtol=0, atol=1e-6)
    filled = norm(image, ImagePad(top=2, bottom=3, left=1, right=4, fill=(0.0, 128.0, 255.0)))
    plain = PadToSize(12, 14, fill=(0, 128, 255)).apply(image, pad_top=2, pad_left=1, pad_h=5, pad_w=5)
    assert torch.equal(filled, formula(plain, norm))


class _Scenes(SegmentationDataset):
    """In-memory samples of several sizes (smaller and larger than the crop)."""

    SIZES = [(40, 60), (20, 30), (64, 48), (16, 16)]

    def __init__(self, transform, normalize):
        super().__init__([Sample(image=None, label=None, name=str(i)) for i in range(len(self.SIZES))],
                         LabelMap(list(range(20))), normalize, transform)

    def load(self, index):
        image, label, _ = scene(*self.SIZES[index], seed=index)
        return image, label


@pytest.mark.parametrize("position", ["random", "center"])
def test_dataset_sample_equals_the_straightforward_order(position):
    """A dataset sample (fused resize+crop, padding left to the normalisation) against the plain
    steps one after the other, the padded float32 image and the formula, with the same seeds."""
    norm = NORMALIZATIONS["imagenet_bgr"]
    steps = [RandomScaleAspect((0.5, 2.0), (0.9, 1.1)), RandomCropUpTo(32, 40),
             HorizontalFlipSwap([(3, 4)], p=0.5), BrightnessShift(10), PadToSize(32, 40, position)]
    ds = _Scenes(pipeline([copy.deepcopy(s) for s in steps]), norm)
    plain = A.Compose([copy.deepcopy(s) for s in steps])
    pad_with_normalized_zero(plain, norm)  # as the dataset does with its own
    padded = 0
    for seed in range(12):
        reseed(ds.transform, seed)
        reseed(plain, seed)
        for index in range(len(ds)):
            item = ds[index]
            image, label = ds.load(index)
            ref = plain(image=image, mask=label)
            expected = formula(ref["image"], norm)
            assert item["image"].shape == expected.shape == (3, 32, 40)
            np.testing.assert_array_equal(item["label"].numpy(), ref["mask"].astype(np.int64))
            pad = torch.from_numpy(ref["mask"] == 255) & (expected.abs() < 1e-6).all(0)
            padded += int(pad.sum())
            assert torch.equal(item["image"][:, ~pad], expected[:, ~pad])
            assert torch.all(item["image"][:, pad] == 0)
            assert torch.allclose(expected[:, pad], torch.zeros(1), atol=1e-6)
    assert padded > 0  # the check covered padding


@pytest.mark.parametrize("table", [
    LabelMap([7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33],
             valid_ids=[*range(34), 255]),
    LabelMap([], reduce_zero_label=True, num_classes=150),
    LabelMap.from_table({0: 255, 1: 0, 2: 0, 5: 1, 9: 2, 200: 3}, num_classes=4),
    LabelMap.from_table(list(range(256))),  # every id valid: no value left to mark unknown ids
])
def test_label_ids_by_table_look_up_equal_the_int64_table(table):
    every = np.arange(256, dtype=np.uint8).reshape(16, 16)
    lookup = table.lookup
    known = lookup[:256] >= 0
    ids = every.copy()
    ids[~known.reshape(16, 16)] = np.flatnonzero(known)[0]  # only defined ids
    np.testing.assert_array_equal(table.to_train(ids), lookup[ids].astype(np.uint8))
    if not known.all():
        bad = int(np.flatnonzero(~known)[0])
        ids[3, 4] = bad
        with pytest.raises(OcsegError, match=rf"contains ids \[{bad}\]"):
            table.to_train(ids, source="x.png")
