"""Every dataset config on its prepared fake tree: the batch contract, label mapping, ignore
handling, normalisation and the bad-input errors."""

from __future__ import annotations

import functools
import shutil

import cv2
import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from helpers.config import compose
from helpers.data_fakes import DATASETS, SIZES, Prepared, cityscapes_raw, folder_raw
from ocseg.data.cityscapes import Cityscapes
from ocseg.data.folder import FolderDataset
from ocseg.data.label_map import LabelMap
from ocseg.data.normalize import Normalize
from ocseg.errors import OcsegError
from ocseg.io.image_io import read_label


@pytest.fixture(scope="session")
def prepared(tmp_path_factory) -> Prepared:
    return Prepared(tmp_path_factory.mktemp("fakes"))


def dataset_cfg(prepared: Prepared, name: str, *overrides: str):
    """The train config of dataset ``name`` on its fake tree, tiny sizes (composed once)."""
    return _compose_cached(name, str(prepared.out[name]), overrides)


@functools.lru_cache(maxsize=None)
def _compose_cached(name: str, root: str, overrides: tuple[str, ...]):
    return compose("train", [f"dataset={name}", f"dataset.root={root}", "dataset.crop_size=[16,16]",
                             "data.batch_size=2", "data.num_workers=0", "paths.output_dir=unused",
                             *SIZES.get(name, []), *overrides])


@pytest.mark.parametrize("name", DATASETS)
def test_train_and_val_batches_follow_the_contract(prepared, name):
    cfg = dataset_cfg(prepared, name)
    dm = instantiate(cfg.data)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].dtype == torch.float32 and batch["image"].shape == (2, 3, 16, 16)
    assert batch["label"].dtype == torch.int64 and batch["label"].shape == (2, 16, 16)
    values = set(batch["label"].unique().tolist())
    assert values <= set(range(cfg.dataset.num_classes)) | {255} and values - {255}
    assert len(batch["name"]) == 2 and batch["orig_size"].shape == (2, 2)
    # validation reads full-resolution images and labels: the test protocol (dataset.test) resizes
    val = dm.dataset("val")[0]
    expected = tuple(val["orig_size"].tolist())
    assert tuple(val["image"].shape[1:]) == expected == tuple(val["label"].shape)


# original id → expected train id, from each dataset's documentation (255: ignored)
KNOWN_IDS = {
    "cityscapes": {0: 255, 1: 255, 7: 0, 8: 1, 26: 13, 33: 18, 255: 255},
    "ade20k": {0: 255, 1: 0, 75: 74, 150: 149},
    "pascal_context": {0: 255, 1: 0, 59: 58},
    "coco_stuff": {0: 255, 1: 0, 11: 10, 12: 255, 13: 11, 91: 255, 92: 80, 182: 170},
    "lip": {0: 0, 14: 14, 19: 19, 255: 255},
    "mapillary": {0: 0, 13: 13, 64: 64, 65: 255},
    "mapillary_cityscapes": {13: 0, 2: 1, 9: 1, 23: 0, 55: 13, 20: 12, 44: 5, 49: 7, 58: 16, 0: 255, 65: 255},
    "folder": {0: 0, 1: 1, 7: 2, 255: 255},
}


@pytest.mark.parametrize("name", DATASETS)
def test_label_ids_map_to_train_ids_and_back(prepared, name):
    lm: LabelMap = instantiate(dataset_cfg(prepared, name).dataset.label_map)
    original = np.array(list(KNOWN_IDS[name]), dtype=np.uint8)
    train = lm.to_train(original)
    np.testing.assert_array_equal(train, list(KNOWN_IDS[name].values()))
    # train ids → original ids → train ids is the identity on every class
    every = np.arange(lm.num_classes, dtype=np.uint8)
    np.testing.assert_array_equal(lm.to_train(lm.to_original(every)), every)
    # original ids → train ids → original ids is the identity on one-to-one classes
    kept = train != 255
    if name != "mapillary_cityscapes":
        np.testing.assert_array_equal(lm.to_original(train)[kept], original[kept])
    with pytest.raises(OcsegError, match=r"label file 'x.png' contains ids \[254\]"):
        lm.to_train(np.array([[254]], np.uint8), source="x.png")


def test_fake_sources_load_as_their_train_ids(prepared):
    """The datasets read exactly the ids the fake downloads hold (ADE: 0 → ignore, k → k−1)."""
    cfg = dataset_cfg(prepared, "ade20k")
    ds = instantiate(cfg.data).dataset("val")
    for i, sample in enumerate(ds.samples):
        source = prepared.made["ade20k"][("val", sample.name)].astype(np.int64)
        expected = np.where(source == 0, 255, source - 1)
        np.testing.assert_array_equal(ds[i]["label"].numpy(), expected)


def test_normalisation_matches_hand_computed_pixels(tmp_path):
    """A BGR pixel (0, 128, 255) reaches the network as the original fed it: ``(x / div − mean) / std``
    by channel position, with each shipped normalisation's values (compared with the original's
    own tensors in tests/test_normalize_original.py)."""
    image = np.zeros((2, 2, 3), np.uint8)
    image[1, 0] = (0, 128, 255)  # B, G, R
    (tmp_path / "images" / "s").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "images" / "s" / "a.png"), image)
    lm = LabelMap([0, 1])
    for name in ("imagenet_bgr", "caffe_bgr"):   # their values: tests/test_normalize_original.py
        norm = compose("train", [f"normalize={name}", "paths.output_dir=x"]).normalize
        expected = [(v / norm.div - m) / s for v, m, s in zip((0, 128, 255), norm.mean, norm.std)]
        ds = FolderDataset(tmp_path, "s", lm, instantiate(norm), require_labels=False)
        pixel = ds[0]["image"][:, 1, 0].double().numpy()
        np.testing.assert_allclose(pixel, expected, rtol=1e-6, atol=1e-5)


def test_padding_normalises_to_zero_with_ignore_label(prepared):
    """The original padded its normalised tensors with 0 and labels with ignore, after the crop."""
    cfg = dataset_cfg(prepared, "cityscapes", "dataset.crop_size=[40,50]", "dataset.scale_range=[1,1]",
                      "dataset.aspect_range=[1,1]")
    item = instantiate(cfg.data).dataset("train")[0]
    assert item["image"].shape == (3, 40, 50) and item["label"].shape == (40, 50)
    pad = (item["image"].abs() < 1e-5).all(dim=0)  # a real pixel never normalises to exactly 0
    rows, cols = (~pad).nonzero(as_tuple=True)
    top, left = int(rows.min()), int(cols.min())
    content = torch.zeros(40, 50, dtype=torch.bool)
    content[top:top + 24, left:left + 32] = True
    assert torch.equal(~pad, content)  # the whole 24×32 image, placed at a random offset
    assert torch.all(item["label"][pad] == 255)


def test_cityscapes_splits_instances_and_license_plate(tmp_path):
    cityscapes_raw(tmp_path)
    norm = Normalize()
    assert len(Cityscapes(tmp_path, "trainval", norm)) == 3
    assert len(Cityscapes(tmp_path, "trainval+train_extra", norm)) == 4
    extra = Cityscapes(tmp_path, "train_extra", norm, with_instances=True)
    assert "gtCoarse" in str(extra.samples[0].label)
    instance = read_label(extra.samples[0].instance)
    assert instance.dtype == np.uint16 and instance.max() >= 1000
    assert all(s.label is None for s in Cityscapes(tmp_path, "test", norm).samples)
    label = next(tmp_path.glob("gtFine/val/*/*_labelIds.png"))
    plate = read_label(label)
    plate[:2, :2] = 255  # the license plate's id −1 stored as uint8
    cv2.imwrite(str(label), plate)
    item = Cityscapes(tmp_path, "val", norm)[0]
    assert torch.all(item["label"][:2, :2] == 255)
    with pytest.raises(OcsegError, match="unknown Cityscapes split 'fine'"):
        Cityscapes(tmp_path, "fine", norm)


def test_folder_reads_classes_yaml_for_config_and_id_map(prepared):
    cfg = dataset_cfg(prepared, "folder")
    assert cfg.dataset.num_classes == 3 and list(cfg.dataset.class_names) == ["background", "cat", "dog"]
    assert cfg.dataset.palette[1] == [255, 0, 0]
    ds = instantiate(cfg.data).dataset("val")
    source = prepared.made["folder"][("val", "sub/img0")]
    label = ds[0]["label"].numpy()
    np.testing.assert_array_equal(label[source == 7], 2)
    np.testing.assert_array_equal(label[source == 255], 255)
    assert ds.samples[0].name == "sub/img0"


def test_folder_without_classes_file(tmp_path):
    folder_raw(tmp_path / "mine", with_classes=False)
    with pytest.raises(Exception, match="classes file .* not found.*dataset.num_classes=N"):
        _ = compose("train", ["dataset=folder", f"dataset.root={tmp_path / 'mine'}",
                              "paths.output_dir=x"]).dataset.num_classes
    cfg = compose("train", ["dataset=folder", f"dataset.root={tmp_path / 'mine'}", "paths.output_dir=x",
                            "dataset.num_classes=3", "dataset.class_names=[a,b,c]"])
    assert cfg.dataset.palette is None
    ds = instantiate(cfg.data).dataset("train")
    assert set(ds[0]["label"].unique().tolist()) <= {0, 1, 2, 255}
    shutil.rmtree(tmp_path / "mine" / "labels" / "val")
    unlabeled = instantiate(cfg.data).dataset("test")[0]
    assert "label" not in unlabeled and unlabeled["image"].shape == (3, 24, 32)


def _folder(tmp_path):
    folder_raw(tmp_path, with_classes=False)
    return lambda split="train", **kw: FolderDataset(tmp_path, split, LabelMap([0, 1, 2], valid_ids=[0, 1, 2, 255]),
                                                      Normalize(), **kw)


def test_bad_input_is_one_error_naming_the_file(tmp_path):
    make = _folder(tmp_path)
    with pytest.raises(OcsegError, match=r"split folder '.*images/test' not found"):
        make("test")
    image = tmp_path / "images" / "train" / "sub" / "img1.png"
    label = tmp_path / "labels" / "train" / "sub" / "img1.png"
    cv2.imwrite(str(label), np.zeros((5, 5), np.uint8))
    with pytest.raises(OcsegError, match=r"label '.*img1.png' is 5×5 but its image .* is 32×24"):
        make()[1]
    label.unlink()
    with pytest.raises(OcsegError, match=r"image '.*img1.png' has no label"):
        make()
    cv2.imwrite(str(label), np.full((24, 32), 9, np.uint8))
    with pytest.raises(OcsegError, match=r"'.*img1.png' contains ids \[9\]"):
        make()[1]
    cv2.imwrite(str(label), np.zeros((24, 32), np.uint8))
    image.write_bytes(b"not a png")
    with pytest.raises(OcsegError, match=r"image '.*img1.png' cannot be decoded.*on_bad_file=skip"):
        make()[1]


def test_corrupt_files_are_skipped_and_counted(tmp_path):
    make = _folder(tmp_path)
    (tmp_path / "images" / "train" / "sub" / "img0.png").write_bytes(b"\x89PNG broken")
    ds = make(on_bad_file="skip")
    names = [ds[i]["name"] for i in range(len(ds))]
    assert names == ["sub/img1", "sub/img1"] and ds.skipped == 1
    cfg = compose("train", ["dataset=folder", f"dataset.root={tmp_path}", "paths.output_dir=x",
                            "dataset.num_classes=3", "dataset.class_names=[a,b,c]",
                            "data.on_bad_file=skip", "data.num_workers=2", "data.batch_size=1",
                            "dataset.crop_size=[8,8]"])
    dm = instantiate(cfg.data)
    dm.setup("fit")
    assert len([b for b in dm.train_dataloader()]) == 2
    assert dm.skipped_files()["train"] == 1  # counted across worker processes
    with pytest.raises(OcsegError, match="on_bad_file must be one of"):
        make(on_bad_file="ignore")


# the original's numbers (configs/<dataset>/H_48_D_4*.json): crop H×W, resize, scale range, order
ORIGINAL_RECIPES = {
    "cityscapes": ([512, 1024], None, [0.5, 2.0], ["RandomScaleAspect", "RandomCropUpTo",
                                                 "HorizontalFlipSwap", "BrightnessShift"]),
    "ade20k": ([520, 520], 520, [0.5, 2.0], ["HorizontalFlipSwap", "ResizeShortSide",
                                             "RandomScaleAspect", "RandomCropUpTo", "BrightnessShift"]),
    "pascal_context": ([520, 520], 520, [0.5, 2.0], None),
    "coco_stuff": ([520, 520], 520, [0.5, 2.0], None),
    "lip": ([473, 473], [473, 473], [0.5, 1.5], ["HorizontalFlipSwap", "ResizeTo", "RandomScaleAspect",
                                                 "RandomCropUpTo", "BrightnessShift"]),
    "mapillary": ([1024, 1024], 1024, [0.5, 2.0], ["ResizeShortSide", "RandomScaleAspect",
                                                   "RandomCropUpTo", "HorizontalFlipSwap", "BrightnessShift"]),
}


@pytest.mark.parametrize("name", list(ORIGINAL_RECIPES))
def test_configs_state_the_original_augmentation(name):
    cfg = compose("train", [f"dataset={name}", "paths.output_dir=x"]).dataset
    crop, resize, scale, order = ORIGINAL_RECIPES[name]
    assert list(cfg.crop_size) == crop and list(cfg.scale_range) == scale
    assert list(cfg.aspect_range) == [0.9, 1.1] and cfg.brightness_shift == 10
    assert (cfg.get("base_size") or (list(cfg.resize_to) if "resize_to" in cfg else None)) == resize
    # the configured steps (a resize fused with the following crop stands for both)
    steps = [s for t in instantiate(cfg.train_transform).transforms for s in getattr(t, "parts", [t])]
    names = [type(t).__name__ for t in steps]
    assert names[-1] == "PadToSize" and steps[-1].fill_mask == 255
    assert names[:-1] == (order or ORIGINAL_RECIPES["ade20k"][3])
    flip = next(t for t in steps if type(t).__name__ == "HorizontalFlipSwap")
    assert flip.p == 0.5
    assert flip.swap_pairs == ([(14, 15), (16, 17), (18, 19)] if name == "lip" else [])


def test_cityscapes_table_is_cityscapesscripts_label_table():
    from cityscapesscripts.helpers.labels import labels

    from ocseg.data.cityscapes import CITYSCAPES_TRAIN_IDS, cityscapes_label_map

    official = sorted((lb.trainId, lb.id) for lb in labels if 0 <= lb.trainId < 255)
    assert [i for _, i in official] == CITYSCAPES_TRAIN_IDS
    lm = cityscapes_label_map()
    for lb in labels:
        if lb.id >= 0:  # the license plate (−1) is never drawn into labelIds files
            expected = lb.trainId if 0 <= lb.trainId < 255 else 255
            assert lm.to_train(np.array([lb.id], np.uint8))[0] == expected, lb.name
