"""Cityscapes in its official layout: ``leftImg8bit/<split>/<city>/<name>_leftImg8bit.png`` with
``gtFine/<split>/<city>/<name>_gtFine_labelIds.png`` (coarse: ``gtCoarse/..._gtCoarse_labelIds.png``).

Splits: ``train``, ``val``, ``test`` (no labels), ``train_extra`` (coarse labels) and
``trainval`` (train + val); several are joined with ``+`` (``trainval+train_extra``).
Label ids follow cityscapesscripts' table: ids 0..33, the 19 evaluated ones become train ids.
The license plate (id −1) is never drawn into the official labelIds PNGs (json2labelImg skips
negative ids); a file that stores it as 255 (−1 as uint8) is accepted and ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ocseg.data.dataset import Sample, SegmentationDataset
from ocseg.data.label_map import LabelMap
from ocseg.data.normalize import Normalize
from ocseg.errors import OcsegError

__all__ = ["Cityscapes", "cityscapes_samples", "cityscapes_label_map", "CITYSCAPES_TRAIN_IDS"]

# Original labelId of each of the 19 train ids (cityscapesscripts' label table).
CITYSCAPES_TRAIN_IDS = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
# ids a labelIds file may hold: 0..33, plus the license plate's −1 stored as uint8 255
CITYSCAPES_VALID_IDS = [*range(0, 34), 255]

_SPLITS = {
    "train": [("train", "gtFine")],
    "val": [("val", "gtFine")],
    "test": [("test", None)],
    "train_extra": [("train_extra", "gtCoarse")],
    "trainval": [("train", "gtFine"), ("val", "gtFine")],
}

_IMAGE_SUFFIX = "_leftImg8bit.png"


def cityscapes_label_map(train_id_to_original: list[int] | None = None,
                         ignore_index: int = 255) -> LabelMap:
    """labelIds → train ids with the official table (or a custom list of evaluated ids)."""
    return LabelMap(train_id_to_original or CITYSCAPES_TRAIN_IDS, valid_ids=CITYSCAPES_VALID_IDS,
                    ignore_index=ignore_index)


def _parts(split: str) -> list[tuple[str, str | None]]:
    parts = []
    for name in split.split("+"):
        if name not in _SPLITS:
            raise OcsegError(f"unknown Cityscapes split '{name}'; use one of {sorted(_SPLITS)} "
                             "(joined with '+')")
        parts += [p for p in _SPLITS[name] if p not in parts]
    return parts


def cityscapes_samples(root: str | Path, split: str, with_instances: bool = False) -> list[Sample]:
    """All samples of ``split`` under ``root``, sorted by name; errors name the missing file."""
    root = Path(root)
    parts = _parts(split)
    if not root.is_dir():
        raise OcsegError(
            f"Cityscapes root '{root}' not found; set dataset.root=<folder containing leftImg8bit/ "
            "and gtFine/>"
        )
    samples: list[Sample] = []
    for folder, gt in parts:
        image_dir = root / "leftImg8bit" / folder
        if not image_dir.is_dir():
            raise OcsegError(
                f"Cityscapes split folder '{image_dir}' not found; dataset.root must contain "
                f"leftImg8bit/{folder}/<city>/*{_IMAGE_SUFFIX}"
            )
        images = sorted(image_dir.glob(f"*/*{_IMAGE_SUFFIX}"))
        if not images:
            raise OcsegError(
                f"no '*{_IMAGE_SUFFIX}' images under '{image_dir}/<city>/'; check the file names "
                "(Cityscapes layout: leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png)"
            )
        for image in images:
            stem = image.name[: -len(_IMAGE_SUFFIX)]
            label = instance = None
            if gt is not None:
                label = root / gt / folder / image.parent.name / f"{stem}_{gt}_labelIds.png"
                if not label.is_file():
                    raise OcsegError(
                        f"label '{label}' for image '{image}' not found; every image needs its "
                        f"{gt} labelIds file"
                    )
                if with_instances:
                    instance = label.with_name(f"{stem}_{gt}_instanceIds.png")
                    if not instance.is_file():
                        raise OcsegError(f"instance label '{instance}' for image '{image}' not found")
            samples.append(Sample(image=image, label=label, name=stem, instance=instance))
    return samples


class Cityscapes(SegmentationDataset):
    """The Cityscapes dataset (also what ``dataset=synthetic_city`` reads).

    ``with_instances`` also records each sample's ``*_instanceIds.png`` (``Sample.instance``),
    read with :func:`ocseg.io.image_io.read_label` (uint16: ``class·1000 + k`` for object
    instances, the plain labelId elsewhere) for SegFix's instance ground truth.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        normalize: Normalize | None = None,
        transform: Callable[..., dict] | None = None,
        target_transform: Callable[[np.ndarray], dict] | None = None,
        train_id_to_original: list[int] | None = None,
        ignore_index: int = 255,
        label_map: LabelMap | None = None,
        with_instances: bool = False,
        on_bad_file: str = "error",
    ) -> None:
        label_map = label_map or cityscapes_label_map(train_id_to_original, ignore_index)
        super().__init__(cityscapes_samples(root, split, with_instances), label_map, normalize,
                         transform, target_transform, on_bad_file)
        self.root = Path(root)
        self.split = split
