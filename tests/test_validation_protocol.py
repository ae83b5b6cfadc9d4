"""Training-time validation computes the row's published protocol: for each dataset family, the
last validation of a tiny run equals ``eval.py experiment=<row> ckpt_path=<its last.ckpt>``, on
data where the protocol matters (images resized so the label changes, sizes off the padding
stride, LIP's flip with left/right swap)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from helpers.config import compose
from helpers.data_fakes import Prepared, folder_raw
from ocseg.io.image_io import read_label
from ocseg.metrics.scores import confusion_counts, scores_from_confusion

# family → (experiment, test-protocol overrides at fake sizes: 24×32 images, Mapillary 30×40)
FAMILIES = {
    "cityscapes": ("cityscapes_hrnet48_ocr", []),                       # whole image, no padding
    "ade20k": ("ade20k_hrnet48_ocr", ["dataset.test.short_side=20"]),   # 20×27, padded to 24×32
    "lip": ("lip_hrnet48_ocr", ["dataset.test.input_size=[19,27]"]),    # squashed, + flip/swap
    "mapillary": ("mapillary_hrnet48_ocr_b", ["dataset.test.short_side=21"]),  # 21×28 → 24×32
    "folder": (None, []),                                               # 21×29 → padded 24×32
}
# label size → network input size (step 1) → padded size (step 2), per family
LAYOUT = {"cityscapes": ((24, 32), (24, 32), (24, 32)), "ade20k": ((24, 32), (20, 27), (24, 32)),
          "lip": ((24, 32), (19, 27), (19, 27)), "mapillary": ((30, 40), (21, 28), (24, 32)),
          "folder": ((21, 29), (21, 29), (24, 32))}
TINY = ["model=tiny_fcn", "backbone.pretrained=null", "init_from=null", "trainer.precision=32-true"]


@pytest.fixture(scope="module")
def fakes(tmp_path_factory) -> Prepared:
    prepared = Prepared(tmp_path_factory.mktemp("fakes"))
    prepared.out["folder"] = root = prepared.out["folder"].parent / "folder_odd"
    folder_raw(root, size=(21, 29))
    return prepared


def _dataset(family: str, fakes: Prepared) -> list[str]:
    experiment, protocol = FAMILIES[family]
    chosen = [f"experiment={experiment}"] if experiment else ["dataset=folder"]
    return [*chosen, f"dataset.root={fakes.out[family]}", *TINY, *protocol]


def _last_logged(csv_path: Path, key: str) -> float:
    rows = [r for r in csv.DictReader(csv_path.open()) if r.get(key)]
    return float(rows[-1][key])


def _eval_miou(cfg, out: Path) -> tuple[float, dict]:
    """mIoU of eval.py's written predictions, unrounded, and its metrics.json."""
    from ocseg.tasks.evaluate import build_eval_dataset

    dataset = build_eval_dataset(cfg, "val")
    total = 0
    for sample in dataset.samples:
        pred = dataset.label_map.to_train(read_label(out / "label" / f"{Path(sample.image).stem}.png"))
        gt = dataset.label_map.to_train(read_label(sample.label))
        total = total + confusion_counts(pred, gt, int(cfg.dataset.num_classes))
    return scores_from_confusion(total)["mIoU"], json.loads((out / "metrics.json").read_text())


@pytest.mark.parametrize("family", list(FAMILIES))  # each ~7 s
def test_last_validation_is_eval_py_on_the_checkpoint(family, fakes, tmp_path, single_thread):
    from ocseg.tasks.evaluate import evaluate
    from ocseg.tasks.train import train

    run = tmp_path / "train"
    cfg = compose("train", [*_dataset(family, fakes), "dataset.crop_size=[16,16]", "data.batch_size=2",
                            "data.num_workers=0", "schedule.max_steps=2", "schedule.val_every=2",
                            "trainer.enable_progress_bar=false", "~callbacks.progress_bar",
                            "logger=csv", f"paths.output_dir={run}", f"paths.log_dir={tmp_path}"])
    trained = train(cfg)
    logged = _last_logged(run / "csv" / "metrics.csv", "val/mIoU")

    out = tmp_path / "eval"
    eval_cfg = compose("eval", [*_dataset(family, fakes), f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
                                f"output_dir={out}", "data.num_workers=0", "trainer.enable_progress_bar=false"])
    evaluated = evaluate(eval_cfg)
    miou, saved = _eval_miou(eval_cfg, out)

    assert logged == pytest.approx(miou, abs=1e-6)
    assert trained["mIoU"] == evaluated["mIoU"] == saved["mIoU"]
    assert trained["per_class_iou"] == evaluated["per_class_iou"]
    assert trained["pixel_accuracy"] == evaluated["pixel_accuracy"]

    # the data exercises the protocol: the label is resized (nearest) and/or padded for the network
    predictor = instantiate(cfg.task.val_predictor)
    assert repr(predictor) == repr(instantiate(eval_cfg.test)) and predictor.flip == (family == "lip")
    label_size, network_size, padded = LAYOUT[family]
    assert predictor.network_size(label_size) == network_size
    assert tuple(predictor.input_labels([torch.zeros(label_size, dtype=torch.long)], 255).shape) == (1, *padded)


def test_validation_loss_sees_the_label_laid_out_like_the_network_input():
    """The loss of the unmirrored forward pass is taken against the label resized as the original's
    val_trans did (OpenCV nearest) and padded with the ignore id as its collate did."""
    import cv2

    from ocseg.inference import SegmentationPredictor
    from ocseg.lightning.protocol_validation import predict_by_protocol

    seen = []

    def net(x):
        seen.append(tuple(x.shape))
        return {"out": x[:, :2] * 1.0, "aux": x[:, :2] * 0.0}

    predictor = SegmentationPredictor(short_side=20, pad_stride=8, flip=True)
    images = [torch.randn(3, 24, 32), torch.randn(3, 24, 30)]
    labels = [torch.randint(0, 2, (24, 32)), torch.randint(0, 2, (24, 30))]
    step = predict_by_protocol(net, predictor, images, labels, ignore_index=255)
    assert seen == [(2, 3, 24, 32)] * 2                      # 20×27 and 20×25, padded to 24×32; + mirror
    assert [tuple(x.shape) for x in step.logits] == [(2, 24, 32), (2, 24, 30)]
    assert tuple(step.outputs["out"].shape) == (2, 2, 24, 32)
    for label, target in zip(labels, step.target):
        h, w = predictor.network_size(tuple(label.shape))
        resized = cv2.resize(label.numpy().astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        np.testing.assert_array_equal(target[:h, :w].numpy(), resized)
        assert (target[h:] == 255).all() and (target[:, w:] == 255).all()
    # a multi-scale protocol has no single network input: no loss
    ms = predict_by_protocol(net, SegmentationPredictor(scales=[0.5, 1.0]), images[:1], labels[:1], 255)
    assert ms.outputs is None and ms.target is None and len(ms.logits) == 1


def test_ddp_validation_scores_every_image_once(tiny_cfg):
    """Under DDP the val split is shared out without DistributedSampler's padding duplicates
    (4 images on 3 processes: 2 + 1 + 1, as eval.py shares them), so the summed confusion matrix
    counts each image once."""
    from types import SimpleNamespace

    datamodule = instantiate(tiny_cfg().data)
    shares = []
    for rank in range(3):
        datamodule.trainer = SimpleNamespace(world_size=3, global_rank=rank)
        shares.append(list(datamodule.val_dataloader().sampler))
    assert shares == [[0, 3], [1], [2]]
    datamodule.trainer = SimpleNamespace(world_size=1, global_rank=0)
    assert list(datamodule.val_dataloader().sampler) == [0, 1, 2, 3]
