"""ADE20K (SceneParsing, 150 classes) from ``ADEChallengeData2016.zip`` (+ ``release_test.zip``).

Raw layout: ``ADEChallengeData2016/images/{training,validation}/*.jpg`` and
``annotations/{training,validation}/*.png`` (0 = other, 1..150 = classes; the loader reduces
zero). Labels are placed unchanged, like the original's generator.
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

_SPLITS = {"train": "training", "val": "validation"}


def prepare(raw_dir: str | Path, out_dir: str | Path, link: str = "hardlink") -> Report:
    raw_dir = require_dir(raw_dir, "raw_dir", "set raw_dir=<folder with ADEChallengeData2016.zip>")
    root = find_input(raw_dir, "ADEChallengeData2016", ["ADEChallengeData2016.zip"],
                      "ADEChallengeData2016.zip from http://sceneparsing.csail.mit.edu")
    report = Report("ade20k", Path(out_dir))
    for split, folder in _SPLITS.items():
        images = list_images(require_dir(root / "images" / folder, "ADE20K image folder",
                                          "unpack ADEChallengeData2016.zip again"))
        labels = require_dir(root / "annotations" / folder, "ADE20K annotation folder",
                             "unpack ADEChallengeData2016.zip again")
        write_split(report, split, pair_by_stem(images, labels), link)
    test = locate_dir(raw_dir, "release_test")
    if test is None and (raw_dir / "release_test.zip").is_file():
        test = find_input(raw_dir, "release_test", ["release_test.zip"], "release_test.zip")
    if test is not None and (test / "testing").is_dir():
        write_split(report, "test", [Pair(p.stem, p) for p in list_images(test / "testing")], link)
    return finish(report, {"source": str(root), "splits": sorted(_SPLITS) + (["test"] if test else [])})
