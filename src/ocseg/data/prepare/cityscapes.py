"""Cityscapes: the official layout is what the loader reads, so preparing only unpacks the zips
(``leftImg8bit_trainvaltest.zip``, ``gtFine_trainvaltest.zip``, optionally ``gtCoarse.zip`` and
``leftImg8bit_trainextra.zip``), checks that every image has its label, and places the files the
loader needs (images, ``*_labelIds.png``, ``*_instanceIds.png``) under ``out_dir`` with the same
layout — hard links by default, so no space is used twice.
"""

from __future__ import annotations

from pathlib import Path

from ocseg.data.prepare.common import Report, find_input, finish, locate_dir, place_file, progress, unpack
from ocseg.errors import OcsegError
from ocseg.io.status import status_logger

__all__ = ["prepare"]

log = status_logger(__name__)

_SITE = "https://www.cityscapes-dataset.com/downloads/"
_IMAGE = "_leftImg8bit.png"
# image split → label folder (None: no labels used)
_SPLITS = {"train": "gtFine", "val": "gtFine", "test": None, "train_extra": "gtCoarse"}


def _gt_files(image: Path, images_root: Path, gt_root: Path, gt: str) -> list[Path]:
    rel = image.relative_to(images_root)
    stem = image.name[: -len(_IMAGE)]
    label = gt_root / rel.parent / f"{stem}_{gt}_labelIds.png"
    if not label.is_file():
        raise OcsegError(f"label '{label}' for image '{image}' not found; unpack {gt} again")
    instance = label.with_name(f"{stem}_{gt}_instanceIds.png")
    return [label, instance] if instance.is_file() else [label]


def prepare(raw_dir: str | Path, out_dir: str | Path, link: str = "hardlink") -> Report:
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise OcsegError(f"raw_dir '{raw_dir}' not found; set raw_dir=<folder with the Cityscapes zips>")
    images = find_input(raw_dir, "leftImg8bit", ["leftImg8bit_trainvaltest.zip"],
                        f"leftImg8bit_trainvaltest.zip from {_SITE}")
    if not (images / "train_extra").is_dir() and (raw_dir / "leftImg8bit_trainextra.zip").is_file():
        unpack(raw_dir / "leftImg8bit_trainextra.zip", raw_dir)
    gt_dirs = {"gtFine": find_input(raw_dir, "gtFine", ["gtFine_trainvaltest.zip"],
                                    f"gtFine_trainvaltest.zip from {_SITE}")}
    coarse = locate_dir(raw_dir, "gtCoarse")
    if coarse is None and (raw_dir / "gtCoarse.zip").is_file():
        coarse = find_input(raw_dir, "gtCoarse", ["gtCoarse.zip"], "gtCoarse.zip")
    if coarse is not None:
        gt_dirs["gtCoarse"] = coarse
    out = Path(out_dir)
    report = Report("cityscapes", out)
    splits = []
    for split, gt in _SPLITS.items():
        split_dir = images / split
        if not split_dir.is_dir():
            if split in ("train", "val"):
                raise OcsegError(f"'{split_dir}' not found; unpack leftImg8bit_trainvaltest.zip again")
            continue
        if gt is not None and gt not in gt_dirs:
            log.info("note: skipping leftImg8bit/%s: its labels need %s.zip", split, gt)
            continue
        files = sorted(split_dir.glob(f"*/*{_IMAGE}"))
        if not files:
            raise OcsegError(f"no '*{_IMAGE}' images under '{split_dir}/<city>/'")
        for image in progress(files, f"cityscapes {split}"):
            rel = image.relative_to(images)
            report.add("images", place_file(image, out / "leftImg8bit" / rel, link))
            if gt is None:
                continue
            for label in _gt_files(image, split_dir, gt_dirs[gt] / split, gt):
                kind = "instances" if label.name.endswith("_instanceIds.png") else "labels"
                dst = out / gt / split / label.relative_to(gt_dirs[gt] / split)
                report.add(kind, place_file(label, dst, link))
        splits.append(split)
    return finish(report, {"source": str(images.parent), "splits": splits})
