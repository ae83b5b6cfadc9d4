"""Evaluation building blocks: label files, DDP sharding and checkpoint identity. (Scores from a
hand-computed confusion matrix: tests/test_scores.py; labelled and unlabelled splits end to end:
tests/test_eval.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from ocseg.checkpoints.identity import check_checkpoint_matches
from ocseg.data.cityscapes import CITYSCAPES_TRAIN_IDS
from ocseg.data.label_map import LabelMap
from ocseg.errors import OcsegError
from ocseg.evaluation import PredictionWriter, ShardSampler


def test_label_files_hold_original_ids_and_read_back_as_train_ids(tmp_path):
    label_map = LabelMap(CITYSCAPES_TRAIN_IDS, valid_ids=range(34))
    writer = PredictionWriter(tmp_path, label_map, [[i, i, i] for i in range(19)], save_overlay=False)
    train_ids = np.arange(19 * 4, dtype=np.int64).reshape(4, 19) % 19
    writer.write("frankfurt_000000_000294_leftImg8bit", train_ids)
    import cv2

    raw = cv2.imread(str(writer.label_path("frankfurt_000000_000294_leftImg8bit")), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint8 and raw[0].tolist() == CITYSCAPES_TRAIN_IDS
    assert np.array_equal(writer.read("frankfurt_000000_000294_leftImg8bit"), train_ids)
    assert writer.read("frankfurt_000000_000294_leftImg8bit", size=(5, 19)) is None  # wrong size
    assert writer.read("missing") is None


@pytest.mark.parametrize("length, world", [(4, 2), (5, 2), (7, 3), (1, 2), (0, 2)])
def test_shards_cover_every_image_exactly_once(length, world):
    shards = [list(ShardSampler(length, world, rank)) for rank in range(world)]
    assert sorted(i for shard in shards for i in shard) == list(range(length))


def test_checkpoint_identity_checks_ocseg_and_openseg_files():
    ocseg = {"global_step": 5, "ocseg_config": {"model": {"name": "hrnet48_ocr"},
                                                "dataset": {"name": "cityscapes", "num_classes": 19}}}
    check_checkpoint_matches(ocseg, "a.ckpt", "hrnet48_ocr", "cityscapes", 19)
    with pytest.raises(OcsegError, match="model hrnet48_ocr with 19 classes .* model=r101_ocr"):
        check_checkpoint_matches(ocseg, "a.ckpt", "r101_ocr", "cityscapes", 19)
    openseg = {"state_dict": {}, "config_dict": {"dataset": "ade20k", "data": {"num_classes": 150},
                                                 "network": {"model_name": "hrnet_w48_ocr"}}}
    check_checkpoint_matches(openseg, "b.pth", "hrnet48_ocr", "ade20k", 150)  # names differ by era
    with pytest.raises(OcsegError, match=r"'b.pth' holds model hrnet_w48_ocr with 150 classes"):
        check_checkpoint_matches(openseg, "b.pth", "hrnet48_ocr", "cityscapes", 19)
    check_checkpoint_matches({"state_dict": {}}, "c.pth", "hrnet48_ocr", "cityscapes", 19)
