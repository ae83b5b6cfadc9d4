"""Cityscapes in its official layout: ``leftImg8bit/<split>/<city>/<name>_leftImg8bit.png`` with
``gtFine/<split>/<city>/<name>_gtFine_labelIds.png`` (coarse: ``gtCoarse/..._gtCoarse_labelIds.png``).

Splits: ``train``, ``val``, ``test`` (no labels), ``train_extra`` (coarse labels) and
``trainval`` (train + val).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ocseg.data.dataset import Sample, SegmentationDataset
from ocseg.data.label_map import LabelMap
from ocseg.data.normalize import Normalize
from ocseg.errors import OcsegError

__all__ = ["Cityscapes", "cityscapes_samples", "CITYSCAPES_TRAIN_IDS"]

# Original labelId of each of the 19 train ids (cityscapesscripts' label table).
CITYSCAPES_TRAIN_IDS = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]

_SPLITS = {
    "train": [("train", "gtFine")],
    "val": [("val", "gtFine")],
    "test": [("test", None)],
    "train_extra": [("train_extra", "gtCoarse")],
    "trainval": [("train", "gtFine"), ("val", "gtFine")],
}

_IMAGE_SUFFIX = "_leftImg8bit.png"


def cityscapes_samples(root: str | Path, split: str, with_instances: bool = False) -> list[Sample]:
    """All samples of ``split`` under ``root``, sorted by name; errors name the missing file."""
    root = Path(root)
    if split not in _SPLITS:
        raise OcsegError(f"unknown Cityscapes split '{split}'; use one of {sorted(_SPLITS)}")
    if not root.is_dir():
        raise OcsegError(
            f"Cityscapes root '{root}' not found; set dataset.root=<folder containing leftImg8bit/ "
            "and gtFine/>"
        )
    samples: list[Sample] = []
    for folder, gt in _SPLITS[split]:
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
    """The Cityscapes dataset (also what ``dataset=synthetic_city`` reads)."""

    def __init__(
        self,
        root: str | Path,
        split: str,
        normalize: Normalize,
        transform: Callable[..., dict] | None = None,
        target_transform: Callable[[np.ndarray], dict] | None = None,
        train_id_to_original: list[int] | None = None,
        ignore_index: int = 255,
    ) -> None:
        label_map = LabelMap(
            train_id_to_original or CITYSCAPES_TRAIN_IDS,
            valid_ids=range(0, 34),
            ignore_index=ignore_index,
        )
        super().__init__(cityscapes_samples(root, split), label_map, normalize, transform,
                         target_transform)
        self.root = Path(root)
        self.split = split
