"""Input normalisation against the original loaders' worked example (tests/fixtures/openseg)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.openseg_reference import FIXTURES
from ocseg.data.cityscapes import CITYSCAPES_TRAIN_IDS
from ocseg.data.label_map import LabelMap
from ocseg.data.normalize import Normalize

EXAMPLE = np.load(FIXTURES / "preprocess.npz")
HRNET = dict(channel_order="bgr", div=255.0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
CAFFE = dict(channel_order="bgr", div=1.0, mean=(102.9801, 115.9465, 122.7717), std=(1.0, 1.0, 1.0))


@pytest.mark.parametrize("config,stats", [("H_48_D_4", HRNET), ("H_SEGFIX", HRNET),
                                          ("R_101_D_8", CAFFE)])
def test_normalisation_matches_the_original_loader(config, stats):
    bgr = EXAMPLE["image_rgb_u8"][..., ::-1]
    assert np.array_equal(bgr, EXAMPLE[f"loaded_{config}"])  # the original read BGR
    ours = Normalize(**stats)(np.ascontiguousarray(bgr)).numpy()
    np.testing.assert_allclose(ours, EXAMPLE[f"normalized_{config}"], rtol=0, atol=1e-5)


def test_cityscapes_label_encoding_matches_the_original():
    # the example holds ids 0..38 and 255; the original maps all but the 19 evaluated ones to
    # ignore (ocseg's Cityscapes loader also refuses ids above 33 as not a labelIds file)
    train = LabelMap(CITYSCAPES_TRAIN_IDS, valid_ids=range(256)).to_train(EXAMPLE["label_ids"])
    expected = EXAMPLE["encoded_train_ids_float32"]
    assert np.array_equal(train, expected.astype(np.uint8))
