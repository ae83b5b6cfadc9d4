"""The dataset class every ocseg dataset is: a list of (image, label) files plus the pipeline.

A concrete dataset (Cityscapes, ADE20K, a user's folder, ...) only finds its files and returns
:class:`Sample` records; reading, id mapping, augmentation, normalisation and optional extra
targets (SegFix distance/direction) are shared here, in that order. A target transform marked
``full_label`` (SegFix's, by default) is computed from the full-resolution label (and instance
map) *before* the augmentation, as the original's offline files were, and its maps ride through
the augmentation (:class:`~ocseg.data.boundary_maps.BoundaryMaps`); otherwise it runs on the
augmented label, and a sample's instance-id map (Cityscapes ``*_instanceIds.png``) rides through
the augmentation as an extra mask to reach it as ``instance=``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from ocseg.data.augment import moves_boundary_maps, pad_with_normalized_zero, pads_image_last
from ocseg.data.bad_files import BAD_FILE_POLICIES, BadFileLog
from ocseg.data.label_map import LabelMap
from ocseg.data.normalize import ImagePad, Normalize
from ocseg.data.transforms import reseed
from ocseg.errors import OcsegError
from ocseg.io.image_io import CorruptFileError, check_same_size, read_image, read_label

__all__ = ["Sample", "SegmentationDataset"]

# how many following samples a corrupt one may be replaced by before giving up
_MAX_SKIPS = 1000


@dataclass(frozen=True)
class Sample:
    """One example: its image, its label map (None for unlabeled splits), a unique name and
    optionally its instance-id map."""

    image: Path
    label: Path | None
    name: str
    instance: Path | None = None


class SegmentationDataset(Dataset):
    """Reads ``samples`` and returns dicts ``{"image", "label", "name", ...}``.

    Args:
        samples: the files, in a fixed order.
        label_map: original ids → train ids.
        normalize: image → network input tensor (the model's; also sets the pad fill of the
            augmentation's :class:`~ocseg.data.augment.PadToSize`, and writes the image padding
            when that is the last step). None for datasets whose labels only are read (scoring
            refined predictions).
        transform: albumentations-style callable ``transform(image=, mask=) -> dict`` applied to
            the BGR uint8 image and the train-id label (None: no augmentation).
        target_transform: optional callable ``label (H×W uint8 train ids) -> dict of tensors``
            run after augmentation, e.g. SegFix distance/direction targets; samples with an
            instance map call it as ``target_transform(label, instance=<augmented ids>)``. With
            a true ``full_label`` attribute it is used as ``maps(label, instance=)`` on the
            unaugmented sample, and ``tensors(maps)`` once the maps went through ``transform``.
        on_bad_file: ``"error"`` stops at a corrupt file; ``"skip"`` replaces it by the next
            readable sample and counts it (:attr:`skipped`).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        label_map: LabelMap,
        normalize: Normalize | None = None,
        transform: Callable[..., dict] | None = None,
        target_transform: Callable[[np.ndarray], dict] | None = None,
        on_bad_file: str = "error",
    ) -> None:
        if on_bad_file not in BAD_FILE_POLICIES:
            raise OcsegError(f"data.on_bad_file must be one of {BAD_FILE_POLICIES}, got '{on_bad_file}'")
        self.samples = list(samples)
        self.label_map = label_map
        self.normalize = normalize
        self.transform = transform
        if transform is not None and normalize is not None:
            pad_with_normalized_zero(transform, normalize)
        # a final PadToSize leaves the image padding to the normalisation (one write, exact 0)
        self._pad_in_normalize = (transform is not None and isinstance(normalize, Normalize)
                                  and pads_image_last(transform))
        self.target_transform = target_transform
        self._full_label = bool(getattr(target_transform, "full_label", False))
        if self._full_label and transform is not None and moves_boundary_maps(transform):
            raise OcsegError(
                f"the augmentation steps {moves_boundary_maps(transform)} move pixels but not the "
                "SegFix ground truth computed from the full label; use ocseg.data.augment steps, "
                "or task.targets.full_label=false (targets from the augmented label)")
        self.on_bad_file = on_bad_file
        self.bad_files = BadFileLog() if on_bad_file == "skip" else None
        self._worker_seed: tuple[int, int] | None = None

    @property
    def has_labels(self) -> bool:
        return bool(self.samples) and all(s.label is not None for s in self.samples)

    @property
    def skipped(self) -> int:
        """Corrupt files skipped so far (all DataLoader workers together)."""
        return self.bad_files.count if self.bad_files is not None else 0

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Image (BGR uint8) and train-id label (uint8, or None) of one sample, unaugmented."""
        sample = self.samples[index]
        image = read_image(sample.image)
        if sample.label is None:
            return image, None
        raw = read_label(sample.label)
        check_same_size(image, raw, sample.image, sample.label)
        return image, self.label_map.to_train(raw, source=str(sample.label))

    def load_instance(self, index: int, image: np.ndarray) -> np.ndarray | None:
        """The sample's instance-id map as stored (uint16 for Cityscapes), or None."""
        sample = self.samples[index]
        if sample.instance is None:
            return None
        instance = read_label(sample.instance)
        check_same_size(image, instance, sample.image, sample.instance)
        return instance

    def __getitem__(self, index: int) -> dict[str, Any]:
        self._seed_worker()
        if self.bad_files is None:
            return self._item(index)
        for step in range(min(len(self), _MAX_SKIPS)):
            try:
                return self._item((index + step) % len(self))
            except CorruptFileError as exc:
                self.bad_files.record(exc.path)
        raise OcsegError(
            f"{min(len(self), _MAX_SKIPS)} consecutive samples from '{self.samples[index].image}' "
            "on are corrupt; check the dataset files"
        )

    def _item(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        image, label = self.load(index)
        instance = self.load_instance(index, image) if label is not None else None
        height, width = image.shape[:2]
        pad = None
        maps = None  # the target transform's maps of the full label, moved with it
        if self._full_label and label is not None:
            extra = {"instance": instance} if instance is not None else {}
            maps = self.target_transform.maps(label, **extra)
            instance = None  # used up: it need not ride through the augmentation
        if self.transform is not None:
            mask = label if label is not None else np.zeros((height, width), np.uint8)
            extra = {"masks": [instance]} if instance is not None else {}
            if maps is not None:
                extra["boundary_maps"] = maps
            if self._pad_in_normalize:
                extra["image_pad"] = ImagePad()
            out = self.transform(image=image, mask=mask, **extra)
            image = out["image"]
            pad = out.get("image_pad")
            label = out["mask"] if label is not None else None
            if instance is not None:
                instance = out["masks"][0]
            if maps is not None:
                maps = out["boundary_maps"]
        if self.normalize is None:
            raise ValueError("this dataset was built without an input normalisation (normalize=)")
        item: dict[str, Any] = {
            "image": self.normalize(image) if pad is None else self.normalize(image, pad),
            "name": sample.name,
            "image_path": str(sample.image),
            "orig_size": torch.tensor([height, width]),
        }
        if label is not None:
            label = np.ascontiguousarray(label)
            item["label"] = torch.from_numpy(label.astype(np.int64))
            if maps is not None:
                item.update(self.target_transform.tensors(maps))
            elif self.target_transform is not None:
                extra = {"instance": np.ascontiguousarray(instance)} if instance is not None else {}
                item.update(self.target_transform(label, **extra))
        return item

    def _seed_worker(self) -> None:
        """In a DataLoader worker, reseed the augmentation from the worker's torch seed.

        Without this every worker (and every epoch's new workers) would repeat the stream of
        the pipeline's config seed. The worker seed is derived by PyTorch from the main
        process's generator, so runs stay repeatable under ``seed_everything``.
        """
        info = get_worker_info()
        if info is None or not hasattr(self.transform, "set_random_state"):
            return
        token = (os.getpid(), int(info.seed))
        if token != self._worker_seed:
            reseed(self.transform, int(info.seed) % 2**32)
            self._worker_seed = token
