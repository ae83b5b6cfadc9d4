"""Window placement and sliding-window averaging: every pixel covered exactly as configured."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ocseg.inference import sliding_window, window_boxes, window_starts


@pytest.mark.parametrize("length, crop, stride, expected", [
    # SegFix: crop 512, stride int(512/3)=170 over 2048 columns; the last window is flush right
    (2048, 512, 170, [0, 170, 340, 510, 680, 850, 1020, 1190, 1360, 1530, 1536]),
    (1024, 512, 170, [0, 170, 340, 510, 512]),
    (1024, 512, 512, [0, 512]),          # segmentation crop test: stride = crop, exact fit
    (1000, 512, 512, [0, 488]),          # ... and a flush last window
    (512, 512, 170, [0]),
    (300, 512, 170, [0]),                # shorter than the crop: one clipped window
    (10, 4, 3, [0, 3, 6]),               # 6 + 4 = 10 reaches the border: nothing added
    (11, 4, 3, [0, 3, 6, 7]),
])
def test_window_starts(length, crop, stride, expected):
    assert window_starts(length, crop, stride) == expected


def test_window_coverage_counts_match_hand_computed_map():
    boxes = window_boxes(10, 7, crop_size=(4, 4), stride=(3, 3))
    assert [tuple(b) for b in boxes] == [(0, 0, 4, 4), (0, 3, 4, 7), (3, 0, 7, 4), (3, 3, 7, 7),
                                         (6, 0, 10, 4), (6, 3, 10, 7)]
    count = np.zeros((10, 7), int)
    for top, left, bottom, right in boxes:
        count[top:bottom, left:right] += 1
    rows = np.array([1, 1, 1, 2, 1, 1, 2, 1, 1, 1])  # rows 3 and 6 lie in two window rows
    cols = np.array([1, 1, 1, 2, 1, 1, 1])           # column 3 lies in two window columns
    assert (count == rows[:, None] * cols[None, :]).all()


def test_sliding_average_of_per_window_constants():
    """Window k outputs the constant k; each pixel gets the mean of the windows covering it."""
    calls = []

    def forward(crop):
        calls.append(tuple(crop.shape[-2:]))
        return {"out": torch.full((1, 1, *crop.shape[-2:]), float(len(calls) - 1))}

    x = torch.zeros(1, 3, 10, 7)
    avg = sliding_window(x, forward, crop_size=(4, 4), stride=(3, 3), keys=["out"])["out"][0, 0]
    assert calls == [(4, 4)] * 6
    assert avg[0, 0] == 0 and avg[0, 5] == 1 and avg[9, 6] == 5
    assert avg[3, 3] == pytest.approx((0 + 1 + 2 + 3) / 4)   # in four windows
    assert avg[6, 0] == pytest.approx((2 + 4) / 2)           # rows 3..6 and 6..9


def test_sliding_identity_network_reproduces_input_and_applies_transforms_before_upsampling():
    x = torch.randn(2, 3, 23, 31)
    seen = []

    def forward(crop):  # "native stride" 1: the crop itself, plus a half-resolution map
        half = torch.nn.functional.avg_pool2d(crop, 2, ceil_mode=True)
        return {"same": crop, "half": half}

    def double(v):
        seen.append(tuple(v.shape[-2:]))
        return 2 * v

    out = sliding_window(x, forward, crop_size=(8, 16), stride=(5, 7), transforms={"same": double})
    assert set(out) == {"same", "half"}
    torch.testing.assert_close(out["same"], 2 * x)
    assert out["half"].shape == x.shape
    assert all(s[0] <= 8 and s[1] <= 16 for s in seen)  # transformed at window size
    out2 = sliding_window(x, forward, (8, 16), (5, 7), out_size=(46, 62), keys=["same"])
    assert list(out2) == ["same"] and out2["same"].shape[-2:] == (46, 62)
