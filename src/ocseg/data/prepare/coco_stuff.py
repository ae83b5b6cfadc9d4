"""COCO-Stuff (171 classes), from COCO-Stuff-10k (what the original trained on) or -164k.

* 10k: ``cocostuff-10k-v1.1.zip`` (https://github.com/nightrome/cocostuff10k):
  ``images/*.jpg``, ``annotations/*.mat`` (key ``S``: 0 = unlabeled, 1..182 = COCO ids) and
  ``imageLists/{train,test}.txt``; ``test`` becomes ``val``, as in the original's generator.
* 164k: ``train2017.zip``, ``val2017.zip`` and ``stuffthingmaps_trainval2017.zip``
  (https://github.com/nightrome/cocostuff): PNGs hold id−1 with 255 = unlabeled; they are
  shifted to the 10k convention so one loader reads both.

Labels are written as PNGs of COCO ids 0..182; the loader maps the 171 used ids to train ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ocseg.data.prepare.common import (
    Pair,
    Report,
    find_input,
    finish,
    list_images,
    listed_names,
    locate_dir,
    pair_by_stem,
    write_split,
)
from ocseg.errors import OcsegError, require_file
from ocseg.io.image_io import CorruptFileError, read_label
from ocseg.io.safe_load import load_mat

__all__ = ["prepare", "mat_label", "stuffthingmap_label"]

# 164k stuffthingmaps: value v is COCO id v+1, 255 is unlabeled (id 0)
_SHIFT = np.arange(256, dtype=np.int64) + 1
_SHIFT[255] = 0

_AGAIN = "unpack cocostuff-10k-v1.1.zip again"


def mat_label(path: Path) -> np.ndarray:
    """COCO ids (uint8) of one 10k ``.mat`` annotation."""
    mat = load_mat(str(path), path, what="COCO-Stuff annotation", fix=_AGAIN)
    if "S" not in mat or np.asarray(mat["S"]).ndim != 2 or np.asarray(mat["S"]).dtype.kind not in "iuf":
        raise CorruptFileError(path, "COCO-Stuff annotation (expected key 'S')")
    ids = np.asarray(mat["S"])
    if ids.min() < 0 or ids.max() > 182:
        raise OcsegError(f"'{path}' holds ids outside 0..182; is it a COCO-Stuff annotation?")
    return ids.astype(np.uint8)


def stuffthingmap_label(path: Path) -> np.ndarray:
    """COCO ids (uint8) of one 164k stuffthingmap PNG."""
    return _SHIFT[read_label(path)].astype(np.uint8)


def _prepare_10k(root: Path, report: Report, link: str) -> list[str]:
    splits = {}
    for split, listing in (("train", "train.txt"), ("val", "test.txt")):  # both checked first
        names = listed_names(require_file(root / "imageLists" / listing, "COCO-Stuff-10k image list",
                                          "unpack cocostuff-10k-v1.1.zip again"))
        pairs = []
        for name in names:
            image, label = root / "images" / f"{name}.jpg", root / "annotations" / f"{name}.mat"
            for path in (image, label):
                if not path.is_file():
                    raise OcsegError(f"'{path}' listed in {listing} not found; unpack "
                                     "cocostuff-10k-v1.1.zip again")
            pairs.append(Pair(name, image, label))
        splits[split] = pairs
    for split, pairs in splits.items():
        write_split(report, split, pairs, link, convert=mat_label)
    return ["train", "val"]


def _prepare_164k(raw_dir: Path, maps: Path, report: Report, link: str) -> list[str]:
    for split in ("train", "val"):
        images = find_input(raw_dir, f"{split}2017", [f"{split}2017.zip"],
                            f"{split}2017.zip from http://images.cocodataset.org/zips/")
        write_split(report, split, pair_by_stem(list_images(images), maps / f"{split}2017"), link,
                    convert=stuffthingmap_label)
    return ["train", "val"]


def prepare(raw_dir: str | Path, out_dir: str | Path, link: str = "hardlink") -> Report:
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise OcsegError(f"raw_dir '{raw_dir}' not found; set raw_dir=<folder with "
                         "cocostuff-10k-v1.1.zip>")
    report = Report("coco_stuff", Path(out_dir))
    maps = locate_dir(raw_dir, "stuffthingmaps_trainval2017")
    if maps is None and (raw_dir / "stuffthingmaps_trainval2017.zip").is_file():
        maps = find_input(raw_dir, "stuffthingmaps_trainval2017",
                          ["stuffthingmaps_trainval2017.zip"], "stuffthingmaps_trainval2017.zip")
    if maps is not None:
        splits = _prepare_164k(raw_dir, maps, report, link)
        return finish(report, {"source": str(maps), "variant": "164k", "splits": splits})
    lists = find_input(raw_dir, "imageLists", ["cocostuff-10k-v1.1.zip"],
                       "cocostuff-10k-v1.1.zip from https://github.com/nightrome/cocostuff10k")
    splits = _prepare_10k(lists.parent, report, link)
    return finish(report, {"source": str(lists.parent), "variant": "10k", "splits": splits})
