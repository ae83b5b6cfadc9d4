"""Mapillary Vistas v1.2 (65 classes) from ``mapillary-vistas-dataset_public_v1.2.zip``.

Raw layout: ``{training,validation,testing}/images/*.jpg``, labels in
``{training,validation}/v1.2/labels/*.png`` (v1.0/1.1: ``{training,validation}/labels``) —
palette PNGs whose index is the class id (65 = unlabeled) — and ``config_v1.2.json`` (or
``config.json``) naming the 66 labels. Labels are written as plain 8-bit id PNGs (the original
generator did the same); ``short_side=N`` also stores images and labels resized so the shorter
side is N (bicubic / nearest, the original's ``Resize(min_side_length=N)``), which its
1024×1024 training does anyway and which makes loading much faster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ocseg.data.prepare.common import (
    Pair,
    Report,
    find_input,
    finish,
    list_images,
    pair_by_stem,
    progress,
    write_label,
    write_split,
)
from ocseg.errors import OcsegError
from ocseg.io.atomic import atomic_path
from ocseg.io.image_io import read_image, read_label

__all__ = ["prepare", "short_side_size"]

_ARCHIVES = ["mapillary-vistas-dataset_public_v1.2.zip", "mapillary-vistas-dataset_public_v1.1.zip"]
_SPLITS = {"train": "training", "val": "validation"}


def short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(height, width) after scaling the shorter side to ``short_side`` (Python ``round``)."""
    scale = short_side / min(height, width)
    return int(round(height * scale)), int(round(width * scale))


def _check_config(root: Path, expected: Sequence[str] | None) -> Path:
    for name in ("config_v1.2.json", "config.json"):
        path = root / name
        if path.is_file():
            break
    else:
        raise OcsegError(f"'config_v1.2.json' not found in '{root}'; unpack the Mapillary Vistas "
                         "v1.2 archive again")
    labels = json.loads(path.read_text())["labels"]
    names = [label["readable"] for label in labels]
    if expected is not None and names[: len(expected)] != list(expected):
        raise OcsegError(f"'{path}' lists {len(names)} labels that differ from Mapillary Vistas "
                         "v1.2's 65 classes + unlabeled; use the v1.2 labels (v2.0 has 124)")
    return path


def _label_dir(split_dir: Path) -> Path:
    for candidate in (split_dir / "v1.2" / "labels", split_dir / "labels"):
        if candidate.is_dir():
            return candidate
    raise OcsegError(f"no label folder '{split_dir}/v1.2/labels' (or '{split_dir}/labels'); unpack "
                     "the Mapillary Vistas v1.2 archive again")


def _ids(path: Path) -> np.ndarray:
    label = read_label(path)
    if label.max() > 65:
        raise OcsegError(f"'{path}' holds ids above 65; is it a Mapillary Vistas v1.2 label?")
    return label.astype(np.uint8)


def _write_resized(report: Report, split: str, pairs: list[Pair], short_side: int) -> None:
    out = report.out_dir
    for pair in progress(pairs, f"mapillary {split} (short side {short_side})"):
        image_dst = out / "images" / split / f"{pair.name}.jpg"
        label_dst = out / "labels" / split / f"{pair.name}.png"
        if image_dst.exists() and (pair.label is None or label_dst.exists()):
            report.add("images", False)
            if pair.label is not None:
                report.add("labels", False)
            continue
        image = read_image(pair.image)
        h, w = short_side_size(*image.shape[:2], short_side)
        report.add("images", not image_dst.exists())
        if not image_dst.exists():
            with atomic_path(image_dst) as tmp:
                resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_CUBIC)
                if not cv2.imwrite(str(tmp), resized, [cv2.IMWRITE_JPEG_QUALITY, 95]):
                    raise OSError(f"could not write '{image_dst}'")
        if pair.label is not None:
            report.add("labels", write_label(label_dst, lambda src=pair.label, size=(w, h): cv2.resize(
                _ids(src), size, interpolation=cv2.INTER_NEAREST)))


def prepare(raw_dir: str | Path, out_dir: str | Path, link: str = "hardlink",
            short_side: int | None = None, class_names: Sequence[str] | None = None) -> Report:
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise OcsegError(f"raw_dir '{raw_dir}' not found; set raw_dir=<folder with "
                         f"{_ARCHIVES[0]}>")
    training = find_input(raw_dir, "training", _ARCHIVES,
                          f"{_ARCHIVES[0]} from https://www.mapillary.com/dataset/vistas")
    root = training.parent
    config = _check_config(root, class_names)
    report = Report("mapillary", Path(out_dir))
    splits = []
    for split, folder in [*_SPLITS.items(), ("test", "testing")]:
        split_dir = root / folder
        if split == "test" and not split_dir.is_dir():
            continue
        images = list_images(split_dir / "images")
        pairs = [Pair(p.stem, p) for p in images] if split == "test" else \
            pair_by_stem(images, _label_dir(split_dir))
        if short_side:
            _write_resized(report, split, pairs, int(short_side))
        else:
            write_split(report, split, pairs, link, convert=_ids)
        splits.append(split)
    return finish(report, {"source": str(root), "config": str(config), "short_side": short_side,
                           "splits": splits})
