"""The original's augmentation steps: exact sampling, LIP pair swap, padding and determinism."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ocseg.data.augment import (
    BrightnessShift,
    HorizontalFlipSwap,
    PadToSize,
    RandomCropUpTo,
    RandomScaleAspect,
    ResizeShortSide,
    ResizeTo,
)
from ocseg.data.dataset import Sample, SegmentationDataset
from ocseg.data.label_map import LabelMap
from ocseg.data.normalize import Normalize
from ocseg.data.transforms import pipeline, train_transform


def _seeded(transform, seed: int):
    transform.set_random_state(np.random.default_rng(seed), random.Random(seed))
    return transform


def _data(h: int = 24, w: int = 32, seed: int = 0):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, (h, w, 3)).astype(np.uint8), rng.randint(0, 20, (h, w)).astype(np.uint8)


def test_random_scale_aspect_draws_scale_then_aspect_and_truncates():
    image, mask = _data()
    out = _seeded(RandomScaleAspect((0.5, 2.0), (0.9, 1.1)), 5)(image=image, mask=mask)
    draws = random.Random(5)
    scale, aspect = draws.uniform(0.5, 2.0), draws.uniform(0.9, 1.1)
    expected = (int(24 * math.sqrt(1 / aspect) * scale), int(32 * math.sqrt(aspect) * scale))
    assert out["image"].shape[:2] == expected == out["mask"].shape
    assert set(np.unique(out["mask"])) <= set(np.unique(mask))  # nearest: no blended ids


def test_resize_short_side_rounds_like_python_and_resize_to_is_fixed():
    image, mask = _data(4, 10)
    out = ResizeShortSide(5)(image=image, mask=mask)
    assert out["image"].shape[:2] == (5, 12) == out["mask"].shape  # 12.5 → 12 (round half even)
    out = ResizeTo(7, 9)(image=image, mask=mask)
    assert out["image"].shape[:2] == (7, 9) == out["mask"].shape


def test_random_crop_keeps_short_sides_and_reaches_both_ends():
    image, mask = _data(10, 40)
    crop = _seeded(RandomCropUpTo(16, 16), 0)
    out = crop(image=image, mask=mask)
    assert out["image"].shape[:2] == (10, 16) == out["mask"].shape  # 10 < 16: kept whole
    left = int(np.flatnonzero([np.array_equal(image[:, x:x + 16], out["image"]) for x in range(25)])[0])
    np.testing.assert_array_equal(out["mask"], mask[:, left:left + 16])
    # offsets are uniform integers 0..W−w, both ends included (random.randint)
    offsets = {crop.get_params_dependent_on_data({"shape": (10, 40, 3)}, {})["left"] for _ in range(400)}
    assert offsets == set(range(0, 25))


def test_flip_swaps_left_and_right_parts():
    image, _ = _data()
    mask = np.zeros((2, 4), np.uint8)
    mask[:, 0] = 14   # left arm at the left edge
    mask[:, 1] = 19   # right shoe
    mask[:, 3] = 5    # not part of a pair
    out = HorizontalFlipSwap([[14, 15], [16, 17], [18, 19]], p=1.0)(image=image[:2, :4], mask=mask)
    np.testing.assert_array_equal(out["mask"][0], [5, 0, 18, 15])
    np.testing.assert_array_equal(out["image"], image[:2, :4][:, ::-1])
    plain = HorizontalFlipSwap([], p=1.0)(image=image[:2, :4], mask=mask)
    np.testing.assert_array_equal(plain["mask"][0], [5, 0, 19, 14])


def test_brightness_adds_one_integer_shift_and_clips():
    image = np.array([[[0, 128, 250]]], np.uint8)
    shifts = set()
    step = _seeded(BrightnessShift(10), 1)
    for _ in range(300):
        out = step(image=image)["image"].astype(int)
        shift = out[0, 0, 1] - 128
        np.testing.assert_array_equal(out[0, 0], np.clip([0 + shift, 128 + shift, 250 + shift], 0, 255))
        shifts.add(int(shift))
    assert shifts == set(range(-10, 11))  # randint(−10, 10): both ends included


def test_pad_fills_the_value_that_normalises_to_zero():
    norm = Normalize()  # BGR/255, ImageNet mean/std
    image, mask = _data(3, 5)
    out = _seeded(PadToSize(6, 8, normalize=norm), 0)(image=image, mask=mask)
    assert out["image"].dtype == np.float32 and out["image"].shape == (6, 8, 3)
    assert (out["mask"] == 255).sum() == 6 * 8 - 3 * 5
    x = norm(out["image"])
    assert torch.all(x[:, torch.from_numpy(out["mask"] == 255)].abs() < 1e-6)
    assert norm.zero_pixel() == pytest.approx((0.485 * 255, 0.456 * 255, 0.406 * 255))
    right_down = PadToSize(6, 8, position="right_down", fill=0)(image=image, mask=mask)
    np.testing.assert_array_equal(right_down["image"][:3, :5], image)
    assert right_down["image"].dtype == np.uint8


def test_pipeline_is_deterministic_under_a_seed_with_one_shared_stream():
    image, mask = _data(40, 60)

    def run(seed):
        t = train_transform((16, 16), (0.5, 2.0), aspect_range=(0.9, 1.1), brightness_shift=10,
                            normalize=Normalize(), seed=seed)
        return [t(image=image, mask=mask) for _ in range(4)]

    a, b, c = run(3), run(3), run(4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x["image"], y["image"])
        np.testing.assert_array_equal(x["mask"], y["mask"])
    assert any(not np.array_equal(x["image"], z["image"]) for x, z in zip(a, c))
    t = pipeline([RandomScaleAspect(), HorizontalFlipSwap()], seed=1)
    assert t.transforms[0].py_random is t.transforms[1].py_random


class _Repeat(SegmentationDataset):
    """One fixed in-memory sample repeated, to see what the augmentation does per index."""

    def __init__(self, n, transform):
        super().__init__([Sample(image=None, label=None, name=str(i)) for i in range(n)],
                         LabelMap([0, 1]), Normalize(), transform)
        self.image, self.mask = _data(40, 60)

    def load(self, index):
        return self.image, self.mask.clip(0, 1)


def _epoch(num_workers: int) -> list[torch.Tensor]:
    ds = _Repeat(6, pipeline([RandomCropUpTo(8, 8), BrightnessShift(10)], seed=0))
    torch.manual_seed(123)
    loader = DataLoader(ds, batch_size=1, num_workers=num_workers)
    return [b["image"][0] for b in loader]


def test_dataloader_workers_draw_different_but_repeatable_augmentations():
    first, again = _epoch(2), _epoch(2)
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    # worker 0 serves indices 0, 2, 4 and worker 1 indices 1, 3, 5: their streams differ
    assert not torch.equal(first[0], first[1])
