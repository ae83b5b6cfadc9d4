"""The LightningModule that evaluates a network: predict, write the files, accumulate scores.

Lightning provides devices, mixed precision, DDP and the progress bar; the module's own
dataloader shards the images over processes without duplicates, and the scores (confusion
matrix, boundary F) are summed across processes before rank 0 writes ``metrics.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.utils.data import DataLoader

from ocseg.evaluation.items import EvaluationItems, collate_items
from ocseg.evaluation.sampler import ShardSampler
from ocseg.evaluation.scores import LabelConfusion, metrics_from_confusion
from ocseg.inference.predictor import SegmentationPredictor
from ocseg.report import print_scores, write_metrics

__all__ = ["EvaluationModule", "Refiner"]

# (H×W train-id prediction, item) -> refined H×W train ids; the hook for chained SegFix.
Refiner = Callable[[torch.Tensor, dict], torch.Tensor]


class EvaluationModule(LightningModule):
    """Args:
        net: ``images -> {"out": logits, ...}``.
        predictor: the test procedure (``conf/test/``).
        items: the samples still to predict / to score (:class:`EvaluationItems`).
        class_names: train-id order, for ``per_class_iou``.
        ignore_index: ground-truth id that is not scored.
        batch_size, num_workers: the DataLoader per process.
        boundary: optional boundary F-score metric (``update(pred, label)``; ``compute()`` gives
            ``boundary_f`` and ``boundary_f/<class>`` in %).
        metrics_path: where rank 0 writes ``metrics.json`` (None: scores are not computed).
        metrics_extra: entries added to ``metrics.json`` (split, checkpoint, config, …).
        refine: optional hook applied to every new prediction before it is written and scored
            (chained SegFix). A hook that is an ``nn.Module`` with ``reset()`` and
            ``report(class_names) -> dict`` (:class:`~ocseg.segfix.refinement.chained.ChainedRefinement`)
            may keep scores of its own; they are reset with the others and added to the metrics.
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
        boundary: Any | None = None,
        metrics_path: str | Path | None = None,
        metrics_extra: dict | None = None,
        refine: Refiner | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.predictor = predictor
        self.items = items
        self.class_names = list(class_names)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.confusion = LabelConfusion(len(self.class_names), ignore_index)
        self.boundary = boundary
        self.metrics_path = None if metrics_path is None else Path(metrics_path)
        self.metrics_extra = dict(metrics_extra or {})
        self.refine = refine
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
        self.confusion.reset()
        if self.boundary is not None:
            self.boundary.reset()
        if hasattr(self.refine, "reset"):
            self.refine.reset()

    def test_step(self, batch: dict, batch_idx: int) -> None:
        images = batch["images"]
        predictions = iter(self.predictor.predict(self.net, images) if images else [])
        for item in batch["items"]:
            if item.get("predict"):
                pred = next(predictions)
                if self.refine is not None:
                    pred = self.refine(pred, item)
                self.items.writer.write(item["name"], pred.cpu().numpy(), item["image_path"])
            else:
                pred = item.get("prediction")
            if self.scoring and pred is not None:
                label = item["label"].to(pred.device)
                self.confusion.update(pred, label)
                if self.boundary is not None:
                    self.boundary.update(pred[None], label[None])

    def on_test_epoch_end(self) -> None:
        if not self.scoring:
            return
        summed = self.confusion.compute()
        boundary = self.boundary.compute() if self.boundary is not None else {}
        metrics = metrics_from_confusion(summed["confmat"], self.class_names)
        mean_f = boundary.get("boundary_f")
        metrics["boundary_f"] = None if mean_f is None or torch.isnan(mean_f) else round(float(mean_f), 4)
        if mean_f is not None:
            metrics["per_class_boundary_f"] = {
                name: round(float(boundary[f"boundary_f/{name}"]), 4) for name in self.class_names
                if f"boundary_f/{name}" in boundary}
        metrics["num_images"] = int(summed["images"])
        if hasattr(self.refine, "report"):
            metrics.update(self.refine.report(self.class_names))
        metrics.update(self.metrics_extra)
        self.metrics = metrics
        if self.trainer.is_global_zero:
            write_metrics(self.metrics_path, metrics)
            print_scores(metrics, title=f"{self.metrics_extra.get('split', 'eval')} scores "
                                        f"({metrics['num_images']} images)")
