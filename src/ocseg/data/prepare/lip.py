"""LIP (Look Into Person, 20 classes) from ``TrainVal_images.zip`` and
``TrainVal_parsing_annotations.zip`` (+ ``Testing_images.zip``).

Raw layout (any nesting): ``train_images/*.jpg``, ``val_images/*.jpg``,
``train_segmentations/*.png``, ``val_segmentations/*.png`` (ids 0..19, 0 = background) and
``testing_images/*.jpg``. Labels are placed unchanged.
"""

from __future__ import annotations

from pathlib import Path

from ocseg.data.prepare.common import (
    Pair,
    Report,
    find_input,
    finish,
    list_images,
    locate_dir,
    pair_by_stem,
    write_split,
)
from ocseg.errors import require_dir

__all__ = ["prepare"]

_IMAGES = ["TrainVal_images.zip"]
_LABELS = ["TrainVal_parsing_annotations.zip"]
_SITE = "from https://www.sysu-hcp.net/lip (or the LIP Google Drive)"


def prepare(raw_dir: str | Path, out_dir: str | Path, link: str = "hardlink") -> Report:
    raw_dir = require_dir(raw_dir, "raw_dir", "set raw_dir=<folder with the LIP downloads>")
    report = Report("lip", Path(out_dir))
    for split in ("train", "val"):
        images = find_input(raw_dir, f"{split}_images", _IMAGES, f"TrainVal_images.zip {_SITE}")
        labels = find_input(raw_dir, f"{split}_segmentations", _LABELS,
                            f"TrainVal_parsing_annotations.zip {_SITE}")
        write_split(report, split, pair_by_stem(list_images(images), labels), link)
    test = locate_dir(raw_dir, "testing_images")
    if test is None and (raw_dir / "Testing_images.zip").is_file():
        test = find_input(raw_dir, "testing_images", ["Testing_images.zip"], "Testing_images.zip")
    if test is not None:
        write_split(report, "test", [Pair(p.stem, p) for p in list_images(test)], link)
    return finish(report, {"source": str(raw_dir),
                           "splits": ["train", "val"] + (["test"] if test else [])})
