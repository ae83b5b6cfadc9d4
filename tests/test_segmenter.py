"""``ocseg.load(...)``: a predictor from an ocseg checkpoint alone (labels identical to eval.py's
files, any input form, colours, SegFix offsets) and from an original ``.pth`` with model=."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

import ocseg
from helpers.checkpoints import SEGFIX_TINY, make_checkpoint, varied
from helpers.config import REPO, TINY, compose, eval_cfg
from ocseg.checkpoints import save_network
from ocseg.errors import OcsegError


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every test here runs on one intra-op thread (see conftest.single_thread)."""


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt")


def _eval(root, ckpt, out, *overrides):
    from ocseg.tasks.evaluate import evaluate

    evaluate(eval_cfg(root, ckpt, out, *overrides))
    return out


@pytest.mark.parametrize("test", ["ss", "ms"])
def test_predict_equals_the_label_files_of_eval(ckpt, synthetic_root, tmp_path, test):
    out = _eval(synthetic_root, ckpt, tmp_path / "eval", f"test={test}")
    seg = ocseg.load(ckpt)
    assert seg.task == "segmentation" and seg.class_names[:2] == ["road", "sidewalk"]
    images = sorted((synthetic_root / "leftImg8bit" / "val").glob("*/*.png"))
    assert len(images) == 4
    for image in images:
        written = cv2.imread(str(out / "label" / image.name), cv2.IMREAD_UNCHANGED)
        labels = seg.predict(image, test=test)
        assert labels.dtype == written.dtype and np.array_equal(labels, written)
        assert len(np.unique(labels)) > 1
    if test == "ss":   # the same image as a BGR array, an RGB array and an RGB tensor; the colours
        bgr = cv2.imread(str(image))
        assert np.array_equal(seg.predict(bgr, channels="bgr"), labels)
        assert np.array_equal(seg.predict(bgr[..., ::-1].copy()), labels)
        assert np.array_equal(seg.predict(torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1)), labels)
        color = np.array(Image.open(out / "color" / image.name).convert("RGB"))
        assert np.array_equal(seg.colorize(labels), color)
        with pytest.raises(OcsegError, match="H×W×3 uint8"):
            seg.predict(bgr.astype(np.float32))
        with pytest.raises(OcsegError, match="not SegFix"):
            seg.predict_offsets(image)


def test_flip_and_a_checkpoint_model_check(ckpt, synthetic_root):
    seg = ocseg.load(ckpt, model="tiny_fcn", dataset="synthetic_city")
    image = next((synthetic_root / "leftImg8bit" / "val").glob("*/*.png"))
    assert seg.predictor("ss", flip=True).flip and not seg.predictor("ss").flip
    assert seg.predict(image, flip=True).shape == (64, 128)
    with pytest.raises(OcsegError, match="model=hrnet48_ocr"):
        ocseg.load(ckpt, model="hrnet48_ocr")


def test_original_checkpoint_needs_model_and_classes(tmp_path, synthetic_root):
    """An original-layout file (hrnet_w48_ocr keys on a tiny backbone): labels of dataset= are
    the num_classes= labels mapped to that dataset's ids."""
    from ocseg.checkpoints.openseg import original_key_names
    from ocseg.models.cards import CARDS

    torch.manual_seed(0)
    net = varied(ocseg.build_model("hrnet18_small_ocr", 19, backbone="hrnet_tiny"))
    state = net.state_dict()
    names = original_key_names(net, CARDS["hrnet48_ocr"].layout, "bn")
    path = tmp_path / "hrnet_tiny_ocr_1_latest.pth"
    torch.save({"config_dict": {"performance": np.float64(0.5)},
                "state_dict": {f"module.{orig}": state[ours] for ours, orig in names.items()}}, path)
    with pytest.raises(OcsegError, match="pass model=<name>"):
        ocseg.load(path)
    with pytest.raises(OcsegError, match="dataset=<name> or num_classes=N"):
        ocseg.load(path, model="hrnet18_small_ocr", backbone="hrnet_tiny")
    plain = ocseg.load(path, model="hrnet18_small_ocr", num_classes=19, backbone="hrnet_tiny")
    city = ocseg.load(path, model="hrnet18_small_ocr", dataset="cityscapes", backbone="hrnet_tiny")
    assert plain.class_names[0] == "class_0" and city.class_names[0] == "road"
    image = next((synthetic_root / "leftImg8bit" / "val").glob("*/*.png"))
    train_ids = plain.predict(image)
    assert train_ids.max() < 19
    assert np.array_equal(city.predict(image), city.label_map.to_original(train_ids))


def test_segfix_offsets_and_refine(tmp_path, synthetic_root):
    from ocseg.segfix.offsets.prediction import OffsetPredictor

    cfg = compose("train", [*TINY, *SEGFIX_TINY])
    torch.manual_seed(0)
    net = varied(instantiate(cfg.net)).eval()
    with torch.no_grad():   # boundary logit = −background logit: p(boundary) crosses 0.5
        net.head.mask[-1].weight[1] = -net.head.mask[-1].weight[0]
    seg = ocseg.load(save_network(net, cfg, tmp_path / "segfix.ckpt"))
    image = next((synthetic_root / "leftImg8bit" / "val").glob("*/*.png"))
    offsets = seg.predict_offsets(image)
    with torch.no_grad():
        expected = OffsetPredictor()(net, instantiate(cfg.normalize)(cv2.imread(str(image)))[None])[0]
    assert offsets.shape == (64, 128, 2) and offsets.any() and np.array_equal(offsets, expected.numpy())
    with pytest.raises(OcsegError, match="predict_offsets"):
        seg.predict(image)
    # ocseg.segfix.refine on arrays, in a fresh interpreter (importing ocseg.segfix is cheap)
    labels = np.random.RandomState(0).randint(0, 5, (64, 128)).astype(np.uint8)
    np.save(tmp_path / "labels.npy", labels)
    np.save(tmp_path / "offsets.npy", offsets)
    code = ("import sys, numpy as np, ocseg.segfix as s; d = sys.argv[1]; "
            "out = s.refine(np.load(d + '/labels.npy'), np.load(d + '/offsets.npy')); "
            "np.save(d + '/refined.npy', out); print('torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO / "src")), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"      # no torch needed
    refined = np.load(tmp_path / "refined.npy")
    rows, cols = np.indices(labels.shape)
    expect = labels[np.clip(rows + 2 * offsets[..., 0], 0, 63), np.clip(cols + 2 * offsets[..., 1], 0, 127)]
    assert np.array_equal(refined, expect) and not np.array_equal(refined, labels)


def test_a_predicted_value_names_its_class_and_colour(ckpt, synthetic_root):
    """predict returns Cityscapes labelIds (7 road … 33 bicycle), not train ids: seg.classes maps
    each returned value to its name and colour, seg.label_ids lists them in class_names order."""
    seg = ocseg.load(ckpt)
    assert seg.label_ids[:3] == [7, 8, 11] and seg.label_ids[-1] == 33
    assert len(seg.label_ids) == len(seg.class_names) == len(seg.palette) == 19
    assert seg.classes[7] == ("road", (128, 64, 128), 0) and seg.classes[33].name == "bicycle"
    image = next((synthetic_root / "leftImg8bit" / "val").glob("*/*.png"))
    labels = seg.predict(image)
    colors = seg.colorize(labels)
    for value in np.unique(labels):
        cls = seg.classes[value]                   # a numpy value indexes the dict too
        assert seg.label_ids[cls.train_id] == value and seg.class_names[cls.train_id] == cls.name
        y, x = np.argwhere(labels == value)[0]
        assert tuple(colors[y, x]) == cls.color
    assert max(seg.classes) > len(seg.class_names)   # why class_names[value] was the wrong door
