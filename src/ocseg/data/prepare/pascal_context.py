"""PASCAL-Context (59 classes) from the PASCAL VOC 2010 images and the full context annotations.

Downloads: ``VOCtrainval_03-May-2010.tar`` (http://host.robots.ox.ac.uk/pascal/VOC/voc2010/)
and ``trainval.tar.gz`` (https://cs.stanford.edu/~roozbeh/pascal-context/), whose
``trainval/<image id>.mat`` files hold ``LabelMap``, the 459-category labels. Splits are VOC
2010's ``ImageSets/Main/{train,val}.txt`` (4998 / 5105 images), as the 59-class benchmark uses.

The 59 classes are the 459-category ids below; ordered by id (which is alphabetical, as in
``labels.txt``) they become labels 1..59, everything else 0 — the same masks the original read
from PyTorch-Encoding's ``train.pth``/``val.pth``. The loader reduces zero (0 → ignore).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ocseg.data.prepare.common import Pair, Report, find_input, finish, listed_names, write_split
from ocseg.errors import OcsegError, require_file
from ocseg.io.image_io import CorruptFileError
from ocseg.io.safe_load import load_mat

__all__ = ["prepare", "CONTEXT59_IDS", "context59_label"]

# 459-category ids of the 59 classes (aeroplane, bag, bed, ... wood)
CONTEXT59_IDS = sorted([2, 259, 260, 415, 324, 9, 258, 144, 18, 19, 22, 23, 397, 25, 284, 158, 159,
                        416, 33, 162, 420, 454, 295, 296, 427, 44, 45, 46, 308, 59, 440, 445, 31,
                        232, 65, 354, 424, 68, 326, 72, 458, 34, 207, 80, 355, 85, 347, 220, 349,
                        360, 98, 187, 104, 105, 366, 189, 368, 113, 115])

_LUT = np.zeros(65536, dtype=np.uint8)
_LUT[CONTEXT59_IDS] = np.arange(1, len(CONTEXT59_IDS) + 1)


def context59_label(mat_path: Path) -> np.ndarray:
    """The 0..59 label map of one ``.mat`` annotation (0: none of the 59 classes)."""
    mat = load_mat(str(mat_path), mat_path, what="PASCAL-Context annotation",
                   fix="unpack trainval.tar.gz again")
    ids = np.asarray(mat.get("LabelMap"))
    if ids.ndim != 2 or ids.dtype.kind not in "iuf":
        raise CorruptFileError(mat_path, "PASCAL-Context annotation (expected key 'LabelMap')")
    if ids.min() < 0 or ids.max() >= len(_LUT):
        raise OcsegError(f"'{mat_path}' holds ids outside 0..459; is it a PASCAL-Context annotation?")
    return _LUT[ids.astype(np.int64)]


def prepare(raw_dir: str | Path, out_dir: str | Path, link: str = "hardlink") -> Report:
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise OcsegError(f"raw_dir '{raw_dir}' not found; set raw_dir=<folder with "
                         "VOCtrainval_03-May-2010.tar and trainval.tar.gz>")
    voc = find_input(raw_dir, "VOC2010", ["VOCtrainval_03-May-2010.tar"],
                     "VOCtrainval_03-May-2010.tar from http://host.robots.ox.ac.uk/pascal/VOC/voc2010/")
    mats = find_input(raw_dir, "trainval", ["trainval.tar.gz"],
                      "trainval.tar.gz from https://cs.stanford.edu/~roozbeh/pascal-context/")
    report = Report("pascal_context", Path(out_dir))
    splits = {}
    for split in ("train", "val"):  # both lists checked before the first file is written
        listing = require_file(voc / "ImageSets" / "Main" / f"{split}.txt", "VOC 2010 split list",
                               "unpack VOCtrainval_03-May-2010.tar again")
        pairs = []
        for name in listed_names(listing):
            image = voc / "JPEGImages" / f"{name}.jpg"
            label = mats / f"{name}.mat"
            for path, what in ((image, "image"), (label, "PASCAL-Context annotation")):
                if not path.is_file():
                    raise OcsegError(f"{what} '{path}' of {split}.txt not found; unpack the "
                                     "downloads again")
            pairs.append(Pair(name, image, label))
        splits[split] = pairs
    for split, pairs in splits.items():
        write_split(report, split, pairs, link, convert=context59_label)
    return finish(report, {"source": [str(voc), str(mats)], "splits": ["train", "val"]})
