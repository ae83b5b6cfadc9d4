"""The LightningModule that predicts SegFix offsets for a list of images and writes their files.

Run under ``trainer.test`` like evaluation (:class:`~ocseg.evaluation.EvaluationModule`):
Lightning provides the devices, DDP, the precision setting (autocast) and the progress bar; the
module's own dataloader shards the images over processes without duplicates, so every file is
written by exactly one process. Each image is predicted at its own size (batches of one) by an
:class:`~ocseg.segfix.offsets.prediction.OffsetPredictor`; the moved-pixel counts are summed
across processes for the summary, with the number of images each process predicted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ocseg.evaluation.sampler import ShardSampler
from ocseg.io.image_io import read_image
from ocseg.segfix.offsets.files import SparseOffsets, write_offsets
from ocseg.segfix.offsets.prediction import OffsetPredictor
from ocseg.segfix.offsets.preview import write_offset_preview

__all__ = ["OffsetImages", "OffsetPredictionModule"]


class OffsetImages(Dataset):
    """Normalised images ``{"image": 3×H×W, "name"}`` of a list of files (no labels)."""

    def __init__(self, paths: Sequence[Path], names: Sequence[str],
                 normalize: Callable[[np.ndarray], torch.Tensor]) -> None:
        self.paths = list(paths)
        self.names = list(names)
        self.normalize = normalize

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"image": self.normalize(read_image(self.paths[index])), "name": self.names[index]}


def _single(items: list[dict[str, Any]]) -> dict[str, Any]:
    return items[0]


class OffsetPredictionModule(LightningModule):
    """Args:
        net: a SegFix network (``images -> {"mask", "direction"}``), in eval mode.
        predictor: the test procedure (sliding windows or whole image).
        images: the images still to predict.
        output_dir: where ``<name><suffix>`` (and ``preview/<name>.png``) go.
        suffixes: ``.mat`` and / or ``.npz``.
        mat_dtype: integer type of ``.mat`` arrays.
        save_preview: also write the colour preview.
        num_workers: image-reading processes per DataLoader.
    """

    def __init__(self, net: nn.Module, predictor: OffsetPredictor, images: OffsetImages,
                 output_dir: str | Path, suffixes: Sequence[str], mat_dtype: str | None = None,
                 save_preview: bool = False, num_workers: int = 0) -> None:
        super().__init__()
        self.net = net
        self.predictor = predictor
        self.images = images
        self.output_dir = Path(output_dir)
        self.suffixes = tuple(suffixes)
        self.mat_dtype = mat_dtype
        self.save_preview = bool(save_preview)
        self.num_workers = int(num_workers)
        self.moved = self.pixels = self.predicted = 0

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(images)

    def test_dataloader(self) -> DataLoader:
        trainer = self._trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        return DataLoader(self.images, batch_size=1, collate_fn=_single,
                          sampler=ShardSampler(len(self.images), world, rank),
                          num_workers=self.num_workers)

    def on_test_start(self) -> None:
        self.moved = self.pixels = self.predicted = 0

    def test_step(self, item: dict[str, Any], batch_idx: int) -> None:
        offsets = self.predictor(self.net, item["image"].unsqueeze(0))[0].cpu().numpy()
        sparse = SparseOffsets.from_dense(offsets)
        for suffix in self.suffixes:
            write_offsets(self.output_dir / f"{item['name']}{suffix}", sparse,
                          mat_dtype=self.mat_dtype)
        if self.save_preview:
            write_offset_preview(self.output_dir / "preview" / f"{item['name']}.png", offsets)
        self.moved += int(sparse.index.size)
        self.pixels += int(offsets.shape[0] * offsets.shape[1])
        self.predicted += 1

    def on_test_epoch_end(self) -> None:
        counts = torch.tensor([self.moved, self.pixels, self.predicted], dtype=torch.float64,
                              device=self.device)
        moved, pixels, predicted = self.trainer.strategy.reduce(counts, reduce_op="sum").tolist()
        # logged, so that trainer.test returns them to the launching process (ddp_spawn too)
        self.log("moved_fraction", moved / pixels if pixels else 0.0)
        self.log("predicted", predicted)
