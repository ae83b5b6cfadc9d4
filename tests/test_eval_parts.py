"""Evaluation building blocks: scores from a hand-computed confusion matrix, label files,
DDP sharding, checkpoint identity and the labelled/unlabelled decision."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ocseg.checkpoints.identity import check_checkpoint_matches
from ocseg.data.cityscapes import CITYSCAPES_TRAIN_IDS
from ocseg.data.dataset import Sample
from ocseg.data.label_map import LabelMap
from ocseg.errors import OcsegError
from ocseg.evaluation import PredictionWriter, ShardSampler
from ocseg.metrics.accumulators import LabelConfusion
from ocseg.metrics.scores import Scores
from ocseg.tasks.evaluate import _labelled


def test_scores_equal_a_hand_computed_confusion_matrix():
    # (gt, pred) pairs over non-ignored pixels: (0,0) (0,1) | (1,1) (1,1) (2,1); class 3 absent
    metric = LabelConfusion(num_classes=4)
    metric.update(torch.tensor([[0, 1]]), torch.tensor([[0, 0]]))
    metric.update(torch.tensor([[1, 1, 1, 0]]), torch.tensor([[1, 1, 2, 255]]))
    summed = metric.compute()
    expected = torch.zeros(4, 4, dtype=torch.long)
    expected[0, 0], expected[0, 1], expected[1, 1], expected[2, 1] = 1, 1, 2, 1
    assert torch.equal(summed["confmat"], expected) and summed["images"] == 2
    scores = Scores.from_confusion(summed["confmat"], ["a", "b", "c", "d"]).to_json()
    # IoU a: 1/(1+1) ; b: 2/(2+2) ; c: 0/1 ; d: no pixels at all -> None, left out of the mean
    assert scores["per_class_iou"] == {"a": 50.0, "b": 50.0, "c": 0.0, "d": None}
    assert scores["mIoU"] == pytest.approx(100 / 3, abs=1e-4)
    assert scores["pixel_accuracy"] == 60.0


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


def test_a_split_with_some_labels_missing_is_an_error():
    class Fake:
        samples = [Sample(image="a.png", label="a_gt.png", name="a"), Sample(image="b.png", label=None, name="b")]

    with pytest.raises(OcsegError, match="1 of 2 images have no ground-truth label .*'b.png'"):
        _labelled(Fake())
    Fake.samples = [Sample(image="b.png", label=None, name="b")]
    assert _labelled(Fake()) is False
