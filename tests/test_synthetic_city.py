"""The embedded dataset: deterministic, in the Cityscapes layout, read by the real loader."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest

from ocseg.data.cityscapes import Cityscapes
from ocseg.data.normalize import Normalize
from ocseg.data.synthetic_city import SyntheticCitySpec, ensure_generated, generate, render_scene
from ocseg.errors import OcsegError


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.png")):
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_generation_is_deterministic_and_in_cityscapes_layout(tmp_path):
    spec = SyntheticCitySpec(num_train=3, num_val=2, height=32, width=64, seed=5)
    a, b = generate(tmp_path / "a", spec), generate(tmp_path / "b", spec)
    assert _digest(a) == _digest(b)
    images = sorted((a / "leftImg8bit" / "train").glob("*/*_leftImg8bit.png"))
    assert len(images) == 3
    for image in images:
        stem = image.name[: -len("_leftImg8bit.png")]
        city, seq, frame = stem.split("_")
        assert image.parent.name == city and len(seq) == len(frame) == 6
        gt = a / "gtFine" / "train" / city
        label = cv2.imread(str(gt / f"{stem}_gtFine_labelIds.png"), cv2.IMREAD_UNCHANGED)
        inst = cv2.imread(str(gt / f"{stem}_gtFine_instanceIds.png"), cv2.IMREAD_UNCHANGED)
        assert label.dtype == np.uint8 and inst.dtype == np.uint16 and label.shape == (32, 64)
        # instance ids: labelId for stuff, labelId*1000+k for cars/people
        assert np.array_equal(np.where(inst >= 1000, inst // 1000, inst), label)
    other = generate(tmp_path / "c", SyntheticCitySpec(3, 2, 32, 64, seed=6))
    assert _digest(other) != _digest(a)


def test_ensure_generated_reuses_and_refuses_foreign_folders(tmp_path):
    root = ensure_generated(tmp_path / "syn", num_train=2, num_val=1, height=32, width=64)
    stamp = (root / "leftImg8bit").stat().st_mtime_ns
    ensure_generated(root, num_train=2, num_val=1, height=32, width=64)
    assert (root / "leftImg8bit").stat().st_mtime_ns == stamp  # not regenerated
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("user data")
    with pytest.raises(OcsegError, match="not made by the synthetic generator"):
        ensure_generated(foreign, num_train=2, num_val=1, height=32, width=64)
    assert (foreign / "keep.txt").read_text() == "user data"


def test_scenes_have_the_street_classes():
    labels = np.concatenate([render_scene(128, 256, s)[1].ravel() for s in range(6)])
    present = set(np.unique(labels).tolist())
    assert {7, 8, 11, 21, 22, 23, 24, 26} <= present  # road … car
    assert present <= {1, 7, 8, 11, 17, 20, 21, 22, 23, 24, 26}


def test_cityscapes_loader_maps_label_ids_to_train_ids(synthetic_root):
    ds = Cityscapes(synthetic_root, "train", normalize=Normalize())
    raw = cv2.imread(str(ds.samples[0].label), cv2.IMREAD_UNCHANGED)
    item = ds[0]
    label = item["label"].numpy()
    assert item["image"].shape == (3, 64, 128) and label.shape == (64, 128)
    expected = np.full(raw.shape, 255)
    for label_id, train_id in [(7, 0), (8, 1), (11, 2), (17, 5), (20, 7), (21, 8), (22, 9),
                               (23, 10), (24, 11), (26, 13)]:
        expected[raw == label_id] = train_id
    assert np.array_equal(label, expected)  # unlabeled / ego vehicle (0, 1) → 255
    assert ds.label_map.to_train(np.array([[0, 1, 7, 26, 33]])).tolist() == [[255, 255, 0, 13, 18]]
