"""End-to-end ``evaluate`` on tiny synthetic Cityscapes: files, official-evaluator parity,
resume, prediction-only runs and the errors users see."""

from __future__ import annotations

import glob
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from helpers.checkpoints import make_checkpoint
from helpers.config import eval_cfg
from ocseg.checkpoints import load_network
from ocseg.data.cityscapes import CITYSCAPES_TRAIN_IDS
from ocseg.errors import OcsegError
from ocseg.tasks.evaluate import build_eval_dataset, evaluate


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, synthetic_root, ckpt):
    """One whole-image evaluation shared by the read-only checks below."""
    out = tmp_path_factory.mktemp("eval") / "out"
    metrics = evaluate(eval_cfg(synthetic_root, ckpt, out))
    return out, metrics


def test_outputs_and_metrics_json(first_run, synthetic_root):
    out, metrics = first_run
    names = sorted(p.name for p in (synthetic_root / "leftImg8bit" / "val").glob("*/*.png"))
    assert sorted(p.name for p in (out / "label").iterdir()) == names
    assert sorted(p.name for p in (out / "color").iterdir()) == names
    assert not (out / "overlay").exists()
    saved = json.loads((out / "metrics.json").read_text())
    # the random tiny checkpoint's scores, pinned (re-pin on a deliberate numerics change)
    assert saved["mIoU"] == metrics["mIoU"] == pytest.approx(3.2213, abs=1e-3)
    assert set(saved["per_class_iou"]) == set(saved["config"]["dataset"]["class_names"])
    assert saved["per_class_iou"]["wall"] is None  # not in the synthetic ground truth
    assert saved["pixel_accuracy"] == pytest.approx(26.712, abs=1e-3)
    assert saved["boundary_f"] == pytest.approx(40.3395, abs=1e-3)
    assert saved["num_images"] == 4 and saved["split"] == "val"
    assert saved["config"]["test"]["mode"] == "whole"
    label = cv2.imread(str(out / "label" / names[0]), cv2.IMREAD_UNCHANGED)
    assert label.dtype == np.uint8 and set(np.unique(label)) <= set(CITYSCAPES_TRAIN_IDS)
    from PIL import Image
    color = Image.open(out / "color" / names[0])
    assert color.mode == "P" and color.getpalette()[:3] == [128, 64, 128]


def test_label_pngs_round_trip_to_the_predicted_train_ids(first_run, synthetic_root, ckpt):
    out, _ = first_run
    cfg = eval_cfg(synthetic_root, ckpt, out)
    dataset = build_eval_dataset(cfg, "val")
    net = load_network(ckpt, cfg=cfg).net
    predictor = instantiate(cfg.test)
    with torch.inference_mode():
        for index, sample in enumerate(dataset.samples):
            expected = predictor.predict(net, [dataset[index]["image"]])[0].numpy()
            written = cv2.imread(str(out / "label" / f"{sample.image.stem}.png"), cv2.IMREAD_UNCHANGED)
            assert np.array_equal(dataset.label_map.to_train(written), expected)


def test_miou_equals_the_official_cityscapes_evaluator(first_run, synthetic_root, monkeypatch):
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cs

    out, metrics = first_run
    for key, value in {"predictionPath": str(out / "label"), "predictionWalk": None,
                       "evalInstLevelScore": False, "evalPixelAccuracy": True,
                       "JSONOutput": False, "quiet": True}.items():
        monkeypatch.setattr(cs.args, key, value, raising=False)
    ground_truth = sorted(glob.glob(str(synthetic_root / "gtFine" / "val" / "*" / "*_gtFine_labelIds.png")))
    predictions = [cs.getPrediction(cs.args, gt) for gt in ground_truth]
    result = cs.evaluateImgLists(predictions, ground_truth, cs.args)
    assert abs(100 * result["averageScoreClasses"] - metrics["mIoU"]) < 0.01
    for name, iou in metrics["per_class_iou"].items():
        official = result["classScores"][name]
        assert (iou is None) == np.isnan(official)
        if iou is not None:
            assert abs(100 * official - iou) < 0.01


def test_rerun_finishes_only_missing_images_and_overwrite_redoes_all(first_run, tmp_path,
                                                                     synthetic_root, ckpt):
    src, metrics = first_run
    out = tmp_path / "out"
    shutil.copytree(src, out)
    labels = sorted((out / "label").iterdir())
    labels[1].unlink()
    (out / "color" / labels[1].name).unlink()
    stamps = {p: p.stat().st_mtime_ns for p in labels if p.exists()}
    resumed = evaluate(eval_cfg(synthetic_root, ckpt, out, "save.overlay=true"))
    assert labels[1].is_file() and (out / "overlay" / f"{labels[1].stem}.jpg").is_file()
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())   # untouched
    assert len(list((out / "overlay").iterdir())) == 1                  # only the missing one ran
    assert resumed["mIoU"] == metrics["mIoU"] and resumed["num_images"] == 4
    evaluate(eval_cfg(synthetic_root, ckpt, out, "overwrite=true", "save.color=false"))
    assert all(p.stat().st_mtime_ns != t for p, t in stamps.items())
    assert not list(out.rglob(".*.png"))                                # no temporary files left


def test_unlabelled_split_writes_predictions_only(tmp_path, synthetic_root, ckpt):
    root = tmp_path / "city"
    shutil.copytree(synthetic_root / "leftImg8bit" / "val", root / "leftImg8bit" / "test")
    out = tmp_path / "out"
    metrics = evaluate(eval_cfg(root, ckpt, out, "split=test", "dataset.test_split=test",
                                "dataset.prepare=null", "test=ms", "test.scales=[1.0,0.5]"))
    assert metrics == {} and not (out / "metrics.json").exists()
    assert len(list((out / "label").iterdir())) == 4


def test_checkpoint_of_another_model_or_class_count_is_refused(tmp_path, synthetic_root):
    other = make_checkpoint(tmp_path / "other.ckpt", model_name="hrnet48_ocr")
    with pytest.raises(OcsegError, match=r"model hrnet48_ocr .* model=tiny_fcn"):
        evaluate(eval_cfg(synthetic_root, other, tmp_path / "out"))
    classes = make_checkpoint(tmp_path / "classes.ckpt", num_classes=150)
    with pytest.raises(OcsegError, match=r"150 classes .* 19 classes"):
        evaluate(eval_cfg(synthetic_root, classes, tmp_path / "out"))
    with pytest.raises(OcsegError, match="ckpt_path="):
        evaluate(eval_cfg(synthetic_root, "null", tmp_path / "out"))


def test_missing_ground_truth_is_a_clear_error(tmp_path, synthetic_root, ckpt):
    root = tmp_path / "city"
    shutil.copytree(synthetic_root, root)
    victim = sorted((root / "gtFine" / "val").glob("*/*_labelIds.png"))[0]
    victim.unlink()
    with pytest.raises(OcsegError, match=victim.name):
        evaluate(eval_cfg(root, ckpt, tmp_path / "out"))


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_scores_every_image_once(first_run, tmp_path, synthetic_root, ckpt):
    _, single = first_run
    out = tmp_path / "out"
    metrics = evaluate(eval_cfg(synthetic_root, ckpt, out, "trainer=ddp_cpu", "data.batch_size=2"))
    assert len(list((out / "label").iterdir())) == 4
    assert metrics["num_images"] == 4
    assert metrics["mIoU"] == single["mIoU"] and metrics["per_class_iou"] == single["per_class_iou"]
    assert metrics["boundary_f"] == single["boundary_f"]
