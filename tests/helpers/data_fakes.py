"""Tiny fake downloads in each dataset's real official layout (archives where users get archives).

Every writer returns the raw folder and a dict of what it put there (names, label arrays), so
tests can check the prepared output against the source. Images are small random JPEG/PNGs;
labels are random blocks of valid ids of the dataset's own id space.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import scipy.io
from PIL import Image

H, W = 24, 32  # every fake image is 24×32 (H×W) unless a test makes another


#: every dataset family with a fake download (the real layouts, tiny images)
DATASETS = ["cityscapes", "ade20k", "pascal_context", "coco_stuff", "lip", "mapillary",
            "mapillary_cityscapes", "folder"]

# tiny sizes: fake images are 24×32 (Mapillary 30×40)
SIZES = {"ade20k": ["dataset.base_size=24"], "pascal_context": ["dataset.base_size=24"],
         "coco_stuff": ["dataset.base_size=24"], "lip": ["dataset.resize_to=[24,24]"],
         "mapillary": ["dataset.base_size=24"], "mapillary_cityscapes": ["dataset.base_size=24"]}


def _image(rng: np.random.RandomState, h: int = H, w: int = W) -> np.ndarray:
    return rng.randint(0, 256, (h, w, 3)).astype(np.uint8)


def _blocks(rng: np.random.RandomState, ids, h: int = H, w: int = W, dtype=np.uint8) -> np.ndarray:
    """A label map of 4×4 blocks, each a random id of ``ids``."""
    small = rng.choice(np.asarray(ids), size=(h // 4 + 1, w // 4 + 1))
    return np.kron(small, np.ones((4, 4), dtype=np.int64))[:h, :w].astype(dtype)


def write_png(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as a PNG at ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def _zip(folder: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(folder.parent).as_posix())


def _tar(folder: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:gz" if archive.name.endswith("gz") else "w") as tf:
        tf.add(folder, arcname=folder.name)


def cityscapes_raw(raw: Path, seed: int = 0) -> dict:
    """Unpacked official zips: leftImg8bit/{train,val,test,train_extra}, gtFine, gtCoarse."""
    rng = np.random.RandomState(seed)
    ids = [0, 1, 4, 7, 8, 11, 17, 21, 23, 24, 26, 33]
    made = {}
    for split, gt, cities in (("train", "gtFine", ["aachen", "bochum"]), ("val", "gtFine", ["lindau"]),
                              ("test", None, ["berlin"]), ("train_extra", "gtCoarse", ["augsburg"])):
        for k, city in enumerate(cities):
            stem = f"{city}_000000_{k:06d}"
            write_png(raw / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", _image(rng))
            label = _blocks(rng, ids)
            made[(split, stem)] = label
            if gt is not None:
                d = raw / gt / split / city
                write_png(d / f"{stem}_{gt}_labelIds.png", label)
                instance = label.astype(np.uint16) * 1000 + (label == 26)
                write_png(d / f"{stem}_{gt}_instanceIds.png", instance)
                write_png(d / f"{stem}_{gt}_color.png", _image(rng))  # not needed by the loader
    return made


def ade20k_raw(raw: Path, seed: int = 0) -> dict:
    """ADEChallengeData2016.zip with 3 training and 2 validation images (ids 0..150)."""
    rng = np.random.RandomState(seed)
    src = raw / "unzipped" / "ADEChallengeData2016"
    made = {}
    for split, folder, n in (("train", "training", 3), ("val", "validation", 2)):
        for i in range(1, n + 1):
            name = f"ADE_{split}_{i:08d}"
            write_png(src / "images" / folder / f"{name}.jpg", _image(rng))
            made[(split, name)] = _blocks(rng, [0, 1, 2, 75, 150])
            write_png(src / "annotations" / folder / f"{name}.png", made[(split, name)])
    (src / "objectInfo150.txt").write_text("Idx\tRatio\tTrain\tVal\tName\n")
    _zip(src, raw / "ADEChallengeData2016.zip")
    shutil.rmtree(raw / "unzipped")
    return made


# 459-category ids (labels.txt) of a few of the 59 classes → their 1..59 label and name, and ids
# of categories that are not among the 59 (accordion, airplane... are folded into background)
CONTEXT_IDS_IN = {2: 1, 9: 2, 115: 24, 458: 59}
CONTEXT_NAMES = {2: "aeroplane", 9: "bag", 115: "door", 458: "wood"}
CONTEXT_IDS_OUT = [1, 3, 100, 459]


def pascal_context_raw(raw: Path, seed: int = 0) -> dict:
    """VOCtrainval_03-May-2010.tar and trainval.tar.gz (``.mat`` files with ``LabelMap``)."""
    rng = np.random.RandomState(seed)
    stage = raw / "stage"
    voc = stage / "VOCdevkit" / "VOC2010"
    mats = stage / "trainval"
    made = {}
    names = {"train": ["2008_000002", "2008_000003"], "val": ["2008_000007"]}
    for split, ids in names.items():
        (voc / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
        (voc / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
        for name in ids:
            write_png(voc / "JPEGImages" / f"{name}.jpg", _image(rng))
            label = _blocks(rng, [*CONTEXT_IDS_IN, *CONTEXT_IDS_OUT], dtype=np.uint16)
            mats.mkdir(parents=True, exist_ok=True)
            scipy.io.savemat(str(mats / f"{name}.mat"), {"LabelMap": label})
            made[(split, name)] = label
    _tar(stage / "VOCdevkit", raw / "VOCtrainval_03-May-2010.tar")
    _tar(mats, raw / "trainval.tar.gz")
    shutil.rmtree(stage)
    return made


def lip_raw(raw: Path, seed: int = 0) -> dict:
    """Unpacked TrainVal_images / TrainVal_parsing_annotations / Testing_images (ids 0..19)."""
    rng = np.random.RandomState(seed)
    made = {}
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            name = f"{100 + i}_{i:07d}"
            write_png(raw / "TrainVal_images" / f"{split}_images" / f"{name}.jpg", _image(rng))
            made[(split, name)] = _blocks(rng, list(range(20)))
            write_png(raw / "TrainVal_parsing_annotations" / f"{split}_segmentations" / f"{name}.png",
                 made[(split, name)])
    write_png(raw / "Testing_images" / "testing_images" / "999_0000001.jpg", _image(rng))
    return made


COCO_IDS = [0, 1, 2, 12, 91, 92, 182]  # 0 unlabeled, 12/91 unused COCO ids, 182 last class


def coco_stuff_raw(raw: Path, seed: int = 0) -> dict:
    """Unpacked cocostuff-10k-v1.1.zip: images/, annotations/*.mat (``S``), imageLists/."""
    rng = np.random.RandomState(seed)
    made = {}
    for split, listing, names in (("train", "train.txt", ["COCO_train2014_000000000077",
                                                        "COCO_train2014_000000000078"]),
                                  ("val", "test.txt", ["COCO_train2014_000000000081"])):
        (raw / "imageLists").mkdir(parents=True, exist_ok=True)
        (raw / "imageLists" / listing).write_text("\n".join(names) + "\n")
        for name in names:
            write_png(raw / "images" / f"{name}.jpg", _image(rng))
            label = _blocks(rng, COCO_IDS)
            (raw / "annotations").mkdir(parents=True, exist_ok=True)
            scipy.io.savemat(str(raw / "annotations" / f"{name}.mat"),
                             {"S": label, "names": np.array(["x"], dtype=object)})
            made[(split, name)] = label
    return made


def mapillary_raw(raw: Path, names: list[str], seed: int = 0) -> dict:
    """Unpacked v1.2 zip: config_v1.2.json, {training,validation}/images + v1.2/labels
    (palette PNGs), testing/images."""
    rng = np.random.RandomState(seed)
    root = raw / "mapillary-vistas"
    labels = [{"readable": n, "name": n.lower(), "color": [i, i, i], "instances": False,
               "evaluate": True} for i, n in enumerate([*names, "Unlabeled"])]
    root.mkdir(parents=True, exist_ok=True)
    (root / "config_v1.2.json").write_text(json.dumps({"labels": labels, "version": 1.2}))
    palette = np.array([c for label in labels for c in label["color"]], dtype=np.uint8)
    made = {}
    for split, folder, n in (("train", "training", 2), ("val", "validation", 1)):
        for i in range(n):
            name = f"{folder[:3]}{i:019d}"
            write_png(root / folder / "images" / f"{name}.jpg", _image(rng, 30, 40))
            label = _blocks(rng, [0, 2, 13, 27, 55, 65], 30, 40)
            im = Image.fromarray(label, mode="P")
            im.putpalette(palette.tolist() + [0] * (768 - len(palette)))
            (root / folder / "v1.2" / "labels").mkdir(parents=True, exist_ok=True)
            im.save(root / folder / "v1.2" / "labels" / f"{name}.png")
            made[(split, name)] = label
    write_png(root / "testing" / "images" / "tst0000000000000000000.jpg", _image(rng, 30, 40))
    return made


def folder_raw(root: Path, seed: int = 0, with_classes: bool = True,
               size: tuple[int, int] = (H, W), counts: tuple[int, int] = (2, 1)) -> dict:
    """A user's folder: images/{train,val}/*.png (``counts`` images each, ``size`` H×W),
    labels/... with values 0, 1, 7 (7 → class 2 via classes.yaml's id_map) and 255."""
    rng = np.random.RandomState(seed)
    made = {}
    for split, n in zip(("train", "val"), counts):
        for i in range(n):
            name = f"sub/img{i}"
            write_png(root / "images" / split / f"{name}.png", _image(rng, *size))
            made[(split, name)] = _blocks(rng, [0, 1, 7, 255] if with_classes else [0, 1, 2, 255],
                                          *size)
            write_png(root / "labels" / split / f"{name}.png", made[(split, name)])
    if with_classes:
        (root / "classes.yaml").write_text(
            "names: [background, cat, dog]\n"
            "colors: [[0, 0, 0], [255, 0, 0], [0, 255, 0]]\n"
            "id_map: {0: 0, 1: 1, 7: 2}\n"
        )
    return made


def fixed_folder_tree(root: Path, val: tuple[str, ...], suffix: str = ".png", colors: bool = True) -> Path:
    """A folder dataset whose labels are the same three regions (0 left, 1 right, 7 bottom half;
    classes.yaml maps 7 → class 2): images/train/tr0, tr1 and images/val/<val> (``suffix``),
    random images of H×W. The bad-input tests break one of its files at a time."""
    rng = np.random.RandomState(0)
    for split, names in (("train", ("tr0", "tr1")), ("val", val)):
        for name in names:
            write_png(root / "images" / split / f"{name}{suffix}", rng.randint(0, 255, (H, W, 3), np.uint8))
            label = np.zeros((H, W), np.uint8)
            label[:, W // 2:] = 1
            label[H // 2:, :] = 7
            write_png(root / "labels" / split / f"{name}.png", label)
    palette = "colors: [[0, 0, 0], [255, 0, 0], [0, 255, 0]]\n" if colors else ""
    (root / "classes.yaml").write_text(f"names: [background, cat, dog]\n{palette}id_map: {{0: 0, 1: 1, 7: 2}}\n")
    return root


def mapillary_names() -> list[str]:
    import yaml

    conf = Path(__file__).resolve().parents[2] / "conf" / "dataset" / "mapillary.yaml"
    return yaml.safe_load(conf.read_text())["mapillary_names"]


RAW_WRITERS = {
    "cityscapes": cityscapes_raw,
    "ade20k": ade20k_raw,
    "pascal_context": pascal_context_raw,
    "lip": lip_raw,
    "coco_stuff": coco_stuff_raw,
    "mapillary": lambda raw: mapillary_raw(raw, mapillary_names()),
}


class Prepared:
    """Fake downloads of every dataset, each prepared once by its preparer."""

    def __init__(self, base: Path) -> None:
        from ocseg.data.prepare import ade20k, cityscapes, coco_stuff, lip, mapillary, pascal_context

        modules = {"cityscapes": cityscapes, "ade20k": ade20k, "pascal_context": pascal_context,
                   "lip": lip, "coco_stuff": coco_stuff, "mapillary": mapillary}
        self.raw, self.out, self.made, self.reports = {}, {}, {}, {}
        for name, write in RAW_WRITERS.items():
            raw = base / "raw" / name
            raw.mkdir(parents=True)
            self.raw[name], self.out[name] = raw, base / "data" / name
            self.made[name] = write(raw)
            kwargs = {"class_names": mapillary_names()} if name == "mapillary" else {}
            self.reports[name] = modules[name].prepare(raw, self.out[name], **kwargs)
        self.out["mapillary_cityscapes"] = self.out["mapillary"]
        self.out["folder"] = base / "data" / "folder"
        self.made["folder"] = folder_raw(self.out["folder"])

