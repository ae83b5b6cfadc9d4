"""The LightningModule that evaluates a network: predict, write the files, accumulate scores.

Lightning provides devices, mixed precision, DDP and the progress bar; the module's own
dataloader shards the images over processes without duplicates, and the scores (confusion
matrix, boundary F) are summed across processes before rank 0 writes ``metrics.json``. With a
``refine`` function (chained SegFix) it scores the unrefined predictions too. With a ``report``
function it also keeps per-image counts (:class:`ImageRecords`) and rank 0 hands them, with the
scores, to that function at the end (the run's ``report.html``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.utils.data import DataLoader

from ocseg.evaluation.image_records import ImageRecords
from ocseg.evaluation.items import EvaluationItems, collate_items
from ocseg.evaluation.sampler import ShardSampler
from ocseg.inference.predictor import SegmentationPredictor
from ocseg.io.atomic import write_json
from ocseg.metrics.accumulators import BoundaryFScore, LabelConfusion
from ocseg.metrics.scores import Scores

__all__ = ["EvaluationModule", "Refiner", "Reporter"]

# (H×W train-id prediction, item) -> refined H×W train ids; chained SegFix.
Refiner = Callable[[torch.Tensor, dict], torch.Tensor]
# (metrics or None, summed confusion matrix or None, ImageRecords.gathered()) -> None; rank 0
Reporter = Callable[[dict | None, "np.ndarray | None", tuple], None]


class _LabelScores(nn.Module):
    """The confusion matrix and (optionally) boundary F of one stream of predictions."""

    def __init__(self, class_names: Sequence[str], ignore_index: int,
                 boundary: BoundaryFScore | None) -> None:
        super().__init__()
        self.confusion = LabelConfusion(len(class_names), ignore_index, class_names)
        self.boundary = boundary

    def reset(self) -> None:
        self.confusion.reset()
        if self.boundary is not None:
            self.boundary.reset()

    def update(self, pred: torch.Tensor, label: torch.Tensor) -> None:
        self.confusion.update(pred, label)
        if self.boundary is not None:
            self.boundary.update(pred[None], label[None])

    def scores(self) -> Scores:
        summed = self.confusion.compute()
        return Scores.from_confusion(
            summed["confmat"], self.confusion.class_names,
            None if self.boundary is None else self.boundary.per_class(),
            num_images=int(summed["images"]))


class EvaluationModule(LightningModule):
    """Args:
        net: ``images -> {"out": logits, ...}``.
        predictor: the test procedure (``conf/test/``).
        items: the samples still to predict / to score (:class:`EvaluationItems`).
        class_names: train-id order, for ``per_class_iou``.
        ignore_index: ground-truth id that is not scored.
        batch_size, num_workers: the DataLoader per process.
        boundary: optional :class:`~ocseg.metrics.accumulators.BoundaryFScore`.
        metrics_path: where rank 0 writes ``metrics.json`` (None: scores are not computed).
        metrics_extra: entries added to ``metrics.json`` (split, checkpoint, config, …).
        refine: optional function applied to every new prediction before it is written and
            scored (chained SegFix); the unrefined predictions are scored as well and written
            under ``segfix.unrefined`` (with ``metrics_extra["segfix"]``, e.g. the offsets used).
        report: optional function rank 0 calls at the end with the metrics, the summed
            confusion matrix and the per-image records (``ocseg.report``); ``report_keep``: how
            many unrefined predictions the records keep for it (chained SegFix).
    """

    def __init__(
        self,
        net: nn.Module,
        predictor: SegmentationPredictor,
        items: EvaluationItems,
        class_names: Sequence[str],
        ignore_index: int = 255,
        batch_size: int = 1,
        num_workers: int = 0,
        boundary: BoundaryFScore | None = None,
        metrics_path: str | Path | None = None,
        metrics_extra: dict | None = None,
        refine: Refiner | None = None,
        report: Reporter | None = None,
        report_keep: int = 8,
    ) -> None:
        super().__init__()
        self.net = net
        self.predictor = predictor
        self.items = items
        self.class_names = list(class_names)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.scores = _LabelScores(self.class_names, ignore_index, boundary)
        self.unrefined = None
        if refine is not None:
            self.unrefined = _LabelScores(self.class_names, ignore_index,
                                          None if boundary is None else boundary.clone())
        self.metrics_path = None if metrics_path is None else Path(metrics_path)
        self.metrics_extra = dict(metrics_extra or {})
        self.refine = refine
        self.report = report
        self.records = None if report is None else ImageRecords(len(self.class_names), ignore_index,
                                                                 keep=report_keep)
        self.metrics: dict | None = None

    @property
    def scoring(self) -> bool:
        return self.metrics_path is not None

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(images)

    def test_dataloader(self) -> DataLoader:
        trainer = self._trainer
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        return DataLoader(self.items, batch_size=self.batch_size,
                          sampler=ShardSampler(len(self.items), world, rank),
                          num_workers=self.num_workers, collate_fn=collate_items)

    def on_test_start(self) -> None:
        # Fresh metric states in every process: under ddp_spawn on CPU the module's tensors
        # arrive in shared memory, and updating them in place would mix the processes' counts.
        for scores in (self.scores, self.unrefined, self.records):
            if scores is not None:
                scores.reset()

    def test_step(self, batch: dict, batch_idx: int) -> None:
        images = batch["images"]
        predictions = iter(self.predictor.predict(self.net, images) if images else [])
        for item in batch["items"]:
            label = item["label"] if self.scoring else None
            unrefined = None
            if item.get("predict"):
                pred = unrefined = next(predictions)
                if self.refine is not None:
                    if label is not None:
                        self.unrefined.update(pred, label.to(pred.device))
                    pred = self.refine(pred, item)
                self.items.writer.write(item["name"], pred.cpu().numpy(), item["image_path"])
            else:
                pred = item.get("prediction")
            if label is not None and pred is not None:
                self.scores.update(pred, label.to(pred.device))
            if self.records is not None:
                self.records.add(item["index"], pred, None if label is None else label.to(pred.device),
                                 unrefined if self.refine is not None else None)

    def on_test_epoch_end(self) -> None:
        records = None if self.records is None else self.records.gathered()  # every process
        if self.scoring:
            self._write_metrics()
        if records is not None and self.trainer.is_global_zero:
            confmat = self.scores.confusion.compute()["confmat"].cpu().numpy() if self.scoring else None
            self.report(self.metrics, confmat, records)

    def _write_metrics(self) -> None:
        metrics = self.scores.scores().to_json()
        extra = dict(self.metrics_extra)
        if self.unrefined is not None:
            segfix = dict(extra.pop("segfix", {}))
            unrefined = self.unrefined.scores()
            if unrefined.num_images:
                segfix["unrefined"] = unrefined.to_json()
            metrics["segfix"] = segfix
        metrics.update(extra)
        self.metrics = metrics
        if self.trainer.is_global_zero:
            write_json(self.metrics_path, metrics)
