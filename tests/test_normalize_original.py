"""Input normalisation against the original loaders' worked example (tests/fixtures/openseg): the
shipped ``conf/normalize/*.yaml`` each model's YAML picks gives the original's tensors."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.config import shipped_normalize
from helpers.openseg_reference import FIXTURES
from ocseg.data.cityscapes import CITYSCAPES_TRAIN_IDS
from ocseg.data.label_map import LabelMap
from ocseg.models.cards import card

EXAMPLE = np.load(FIXTURES / "preprocess.npz")


# the original's config (its normalisation) → an ocseg model that reproduces that network
@pytest.mark.parametrize("config,model", [("H_48_D_4", "hrnet48_ocr"), ("H_SEGFIX", "segfix_hrnet48"),
                                          ("R_101_D_8", "r101_ocr")])
def test_normalisation_matches_the_original_loader(config, model):
    bgr = EXAMPLE["image_rgb_u8"][..., ::-1]
    assert np.array_equal(bgr, EXAMPLE[f"loaded_{config}"])  # the original read BGR
    ours = shipped_normalize(card(model).normalize)(np.ascontiguousarray(bgr)).numpy()
    np.testing.assert_allclose(ours, EXAMPLE[f"normalized_{config}"], rtol=0, atol=1e-5)


def test_cityscapes_label_encoding_matches_the_original():
    # the example holds ids 0..38 and 255; the original maps all but the 19 evaluated ones to
    # ignore (ocseg's Cityscapes loader also refuses ids above 33 as not a labelIds file)
    train = LabelMap(CITYSCAPES_TRAIN_IDS, valid_ids=range(256)).to_train(EXAMPLE["label_ids"])
    expected = EXAMPLE["encoded_train_ids_float32"]
    assert np.array_equal(train, expected.astype(np.uint8))
