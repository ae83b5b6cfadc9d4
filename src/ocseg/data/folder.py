"""Datasets stored as ``images/<split>/`` + ``labels/<split>/`` folders.

This is the layout ``ocseg-prepare`` writes for ADE20K, PASCAL-Context, LIP,
COCO-Stuff and Mapillary, and the layout of a user's own data (``dataset=folder``)::

    <root>/images/<split>/<name>.jpg      (any of .jpg .jpeg .png .bmp .tif .tiff .webp;
    <root>/labels/<split>/<name>.png       sub-folders allowed, matched by relative path)

An image's label has the same relative path with ``.png``. A split without a ``labels/`` folder
is unlabeled (prediction only). With ``split`` empty the folders are ``images/`` and ``labels/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ocseg.data.dataset import Sample, SegmentationDataset
from ocseg.data.label_map import LabelMap
from ocseg.data.normalize import Normalize
from ocseg.errors import OcsegError
from ocseg.io.image_io import IMAGE_EXTENSIONS, list_images

__all__ = ["FolderDataset", "folder_samples"]


def _split_dir(root: Path, kind: str, split: str | None) -> Path:
    return root / kind / split if split else root / kind


def folder_samples(root: str | Path, split: str | None, require_labels: bool = True,
                   label_suffix: str = ".png") -> list[Sample]:
    """The samples of ``split`` sorted by name; every problem is one error naming the path."""
    root = Path(root)
    if not root.is_dir():
        raise OcsegError(f"dataset root '{root}' not found; set dataset.root=<folder with images/ "
                         "and labels/> (prepare a downloaded dataset with ocseg-prepare)")
    image_dir = _split_dir(root, "images", split)
    label_dir = _split_dir(root, "labels", split)
    if not image_dir.is_dir():
        raise OcsegError(f"split folder '{image_dir}' not found; dataset.root must contain "
                         f"images/{split + '/' if split else ''}<name>.jpg")
    labeled = label_dir.is_dir()
    if require_labels and not labeled:
        raise OcsegError(f"label folder '{label_dir}' not found; split '{split}' needs a label "
                         f"<name>{label_suffix} for every image")
    images = list_images(image_dir)
    if not images:
        raise OcsegError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under '{image_dir}'")
    samples, seen = [], {}
    for image in images:
        name = image.relative_to(image_dir).with_suffix("").as_posix()
        if name in seen:
            raise OcsegError(f"images '{seen[name]}' and '{image}' have the same name; keep one")
        seen[name] = image
        label = None
        if labeled:
            label = label_dir / f"{name}{label_suffix}"
            if not label.is_file():
                raise OcsegError(f"image '{image}' has no label: '{label}' not found; add it or "
                                 "remove the image")
        samples.append(Sample(image=image, label=label, name=name))
    return samples


class FolderDataset(SegmentationDataset):
    """A split of an ``images/`` + ``labels/`` tree with a given label map.

    Args:
        root: the dataset folder.
        split: sub-folder of ``images/`` and ``labels/`` (``train``, ``val``, ...; empty: none).
        label_map: label-file values → train ids.
        require_labels: an absent ``labels/<split>/`` is an error (training/validation) rather
            than an unlabeled split (prediction).
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None,
        label_map: LabelMap,
        normalize: Normalize | None = None,
        transform: Callable[..., dict] | None = None,
        target_transform: Callable[[np.ndarray], dict] | None = None,
        require_labels: bool = True,
        on_bad_file: str = "error",
    ) -> None:
        super().__init__(folder_samples(root, split, require_labels), label_map, normalize,
                         transform, target_transform, on_bad_file)
        self.root = Path(root)
        self.split = split
