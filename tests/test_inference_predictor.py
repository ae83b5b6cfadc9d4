"""The test procedure: padding, flip, multi-scale and their order, against hand-written steps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ocseg.errors import OcsegError
from ocseg.inference import SegmentationPredictor, multi_scale, swap_channels, unflip_logits, whole_image


class StrideTwoNet(nn.Module):
    """Logits at 1/2 resolution, records the input sizes it sees."""

    def __init__(self, classes: int = 5, symmetric: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        # stride 1 with mirror-symmetric kernels: the network commutes with horizontal flips
        self.conv = nn.Conv2d(3, classes, 3, stride=1 if symmetric else 2, padding=1)
        if symmetric:
            with torch.no_grad():
                self.conv.weight.copy_((self.conv.weight + self.conv.weight.flip(-1)) / 2)
        self.sizes: list[tuple[int, int]] = []

    def forward(self, x):
        self.sizes.append(tuple(x.shape[-2:]))
        return {"out": self.conv(x), "aux": self.conv(x) * 0}


def reference_ms(net, x, scales, flip):
    """The original ms_test written out: ss_test(x, s) + flip(ss_test(flip(x), s)), summed."""
    h, w = x.shape[-2:]

    def ss(inp, s):
        scaled = F.interpolate(inp, size=(int(h * s), int(w * s)), mode="bilinear", align_corners=True)
        return F.interpolate(net(scaled)["out"], size=(h, w), mode="bilinear", align_corners=True)

    total = 0
    for s in scales:
        probs = ss(x, s)
        if flip:
            probs = probs + ss(x.flip(3), s).flip(3)
        total = total + probs
    return total


def test_single_scale_predictor_equals_whole_image():
    net = StrideTwoNet()
    x = torch.randn(1, 3, 32, 48)
    logits = SegmentationPredictor(scales=[1.0], pad_stride=8)(net, [x[0]])[0]
    expected = F.interpolate(net(x)["out"], size=(32, 48), mode="bilinear", align_corners=True)
    assert torch.equal(logits, expected[0])
    assert torch.equal(logits, whole_image(x, net, keys=["out"])["out"][0])


def test_multi_scale_flip_matches_the_original_order_of_operations():
    net = StrideTwoNet()
    x = torch.randn(1, 3, 40, 56)
    scales = [0.5, 0.75, 1.0, 1.25]
    got = SegmentationPredictor(scales=scales, flip=True, pad_stride=None)(net, [x[0]])[0]
    net.sizes.clear()
    expected = reference_ms(net, x, scales, flip=True)[0]
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    # 2 passes per scale, each at int(H·s) × int(W·s)
    assert net.sizes == [(20, 28), (20, 28), (30, 42), (30, 42), (40, 56), (40, 56), (50, 70), (50, 70)]


def test_flip_of_a_flip_symmetric_input_gives_identical_logits():
    net = StrideTwoNet(symmetric=True)
    half = torch.randn(1, 3, 16, 12)
    x = torch.cat([half, half.flip(-1)], dim=-1)  # mirror-symmetric image
    direct = whole_image(x, net, keys=["out"])["out"]
    mirrored = unflip_logits(whole_image(x.flip(-1), net, keys=["out"])["out"])
    torch.testing.assert_close(mirrored, direct, rtol=0, atol=1e-6)
    both = SegmentationPredictor(flip=True, pad_stride=None)(net, [x[0]])[0]
    torch.testing.assert_close(both, 2 * direct[0], rtol=0, atol=1e-5)


def test_flip_swaps_left_right_channels_before_unflipping():
    logits = torch.arange(4 * 2 * 3, dtype=torch.float32).reshape(1, 4, 2, 3)
    swapped = swap_channels(logits, [(1, 2)])
    assert torch.equal(swapped[:, [0, 3]], logits[:, [0, 3]])
    assert torch.equal(swapped[:, 1], logits[:, 2]) and torch.equal(swapped[:, 2], logits[:, 1])
    assert torch.equal(unflip_logits(logits, [(1, 2)]), swapped.flip(-1))
    with pytest.raises(ValueError):
        swap_channels(logits, [(1, 4)])


def test_multi_scale_weights_and_view_sizes():
    calls = []

    def view(v, size, scale):
        calls.append((tuple(v.shape[-2:]), size, scale))
        return torch.full((1, 2, *size), scale)

    out = multi_scale(torch.zeros(1, 3, 10, 20), view, scales=[0.5, 1.5], weights=[2.0, 1.0])
    assert torch.all(out == 2.0 * 0.5 + 1.5)
    assert calls == [((5, 10), (10, 20), 0.5), ((15, 30), (10, 20), 1.5)]


def test_padding_to_stride_then_cropping_back():
    net = StrideTwoNet()
    image = torch.randn(3, 61, 77)
    logits = SegmentationPredictor(pad_stride=8)(net, [image])[0]
    assert net.sizes == [(64, 80)] and logits.shape == (5, 61, 77)
    padded = F.pad(image[None], (0, 3, 0, 3))
    expected = F.interpolate(net(padded)["out"], size=(64, 80), mode="bilinear", align_corners=True)
    assert torch.equal(logits, expected[0, :, :61, :77])


def test_batch_of_different_sizes_is_padded_to_the_largest():
    net = StrideTwoNet()
    a, b = torch.randn(3, 32, 40), torch.randn(3, 24, 48)
    la, lb = SegmentationPredictor(pad_stride=8)(net, [a, b])
    assert net.sizes == [(32, 48)] and la.shape[-2:] == (32, 40) and lb.shape[-2:] == (24, 48)


def test_same_size_batch_equals_one_by_one():
    net = StrideTwoNet()
    images = [torch.randn(3, 32, 48) for _ in range(3)]
    predictor = SegmentationPredictor(scales=[0.75, 1.0], flip=True)
    batched = predictor.predict(net, images)
    single = [predictor.predict(net, [im])[0] for im in images]
    assert all(torch.equal(p, q) for p, q in zip(batched, single))


def test_sliding_mode_with_a_crop_larger_than_the_image_equals_whole():
    net = StrideTwoNet()
    image = torch.randn(3, 32, 48)
    whole = SegmentationPredictor()(net, [image])[0]
    sliding = SegmentationPredictor(mode="sliding", crop_size=[64, 64])(net, [image])[0]
    assert torch.equal(whole, sliding)
    net.sizes.clear()
    SegmentationPredictor(mode="sliding", crop_size=[16, 32], stride=[16, 16],
                          scales=[0.5, 1.0])(net, [image])
    # scale 0.5 predicted whole (below sliding_min_scale), scale 1: 2 × 2 windows
    assert net.sizes == [(16, 24)] + [(16, 32)] * 4


def test_resize_before_testing_and_back():
    net = StrideTwoNet()
    image = torch.randn(3, 30, 60)
    logits = SegmentationPredictor(short_side=20, pad_stride=None)(net, [image])[0]
    assert net.sizes == [(20, 40)] and logits.shape == (5, 30, 60)


def test_bad_settings_are_rejected():
    with pytest.raises(OcsegError, match="crop_size"):   # a command-line mistake: one line
        SegmentationPredictor(mode="sliding")
    with pytest.raises(ValueError, match="mode"):
        SegmentationPredictor(mode="tiles")
    with pytest.raises(OcsegError, match="weights"):
        SegmentationPredictor(scales=[1.0, 2.0], scale_weights=[1.0])
