"""What the evaluation loop iterates over: the dataset's samples, minus the work already done.

A sample whose ``label/<name>.png`` exists (and ``overwrite`` is off) is not predicted again:
its item carries the saved prediction (read back into train ids) and the ground truth, but no
image, so an interrupted run resumes where it stopped and still scores every image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch.utils.data import Dataset

from ocseg.data.dataset import SegmentationDataset
from ocseg.errors import OcsegError
from ocseg.evaluation.outputs import PredictionWriter
from ocseg.io.image_io import read_label

__all__ = ["output_names", "EvaluationItems", "collate_items"]


def output_names(dataset: SegmentationDataset) -> list[str]:
    """The output file name (without extension) of every sample: its image file's stem.

    For Cityscapes that is ``<city>_<seq>_<frame>_leftImg8bit``, the name the original wrote and
    the pattern the official evaluator matches (``<city>_<seq>_<frame>*.png``).
    """
    names = [Path(sample.image).stem for sample in dataset.samples]
    seen: dict[str, Path] = {}
    for name, sample in zip(names, dataset.samples):
        if name in seen:
            raise OcsegError(
                f"images '{seen[name]}' and '{sample.image}' would both be written as "
                f"'label/{name}.png'; give the images distinct file names"
            )
        seen[name] = Path(sample.image)
    return names


class EvaluationItems(Dataset):
    """Items ``{"index", "name", "image_path", "image"?, "predict"?, "label"?, "prediction"?}``.

    ``predict`` marks items whose ``image`` must be predicted; done items carry the saved
    ``prediction`` instead (or nothing, in prediction-only runs).

    Args:
        dataset: the evaluated split, without augmentation.
        writer: where predictions go (and are read back from).
        names: output names of the samples (:func:`output_names`).
        resume: skip samples whose label file exists (``overwrite=false``).
        with_labels: load the ground truth (scoring); False for prediction-only runs.
    """

    def __init__(self, dataset: SegmentationDataset, writer: PredictionWriter, names: Sequence[str],
                 resume: bool = True, with_labels: bool = True) -> None:
        self.dataset = dataset
        self.writer = writer
        self.names = list(names)
        self.with_labels = bool(with_labels)
        self.done = [resume and writer.label_path(n).is_file() for n in self.names]

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def pending(self) -> int:
        return len(self.names) - sum(self.done)

    def _ground_truth(self, index: int) -> torch.Tensor:
        sample = self.dataset.samples[index]
        if sample.label is None:
            raise OcsegError(f"no ground-truth label for image '{sample.image}'")
        raw = read_label(sample.label)
        return torch.from_numpy(self.dataset.label_map.to_train(raw, source=str(sample.label))
                                .astype("int64"))

    def __getitem__(self, index: int) -> dict[str, Any]:
        name = self.names[index]
        sample = self.dataset.samples[index]
        item: dict[str, Any] = {"index": index, "name": name, "image_path": str(sample.image)}
        if self.done[index]:
            if not self.with_labels:
                return item  # nothing to predict, nothing to score
            label = self._ground_truth(index)
            saved = self.writer.read(name, size=tuple(label.shape))
            if saved is not None:
                item.update(label=label, prediction=torch.from_numpy(saved.astype("int64")))
                return item
        data = self.dataset[index]
        item.update(image=data["image"], predict=True)
        if self.with_labels:
            if "label" not in data:
                raise OcsegError(f"no ground-truth label for image '{sample.image}'")
            item["label"] = data["label"]
        return item


def collate_items(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Images of any sizes stay a list (the predictor pads them); the rest stays per item."""
    return {"images": [item.pop("image") for item in items if "image" in item], "items": items}
