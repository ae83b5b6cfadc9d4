"""The one LightningModule that trains, validates and tests every model × loss × dataset.

Everything task-specific is injected: the network (backbone + head), the loss (a
:class:`~ocseg.losses.base.SegLoss`), the metric factory (segmentation mIoU or SegFix boundary
scores) and the optimizer/schedule, both as partials completed here (``schedule.optimizer``,
``schedule.scheduler``). Training is iteration based: the LR scheduler (poly by default) is
stepped every optimizer step.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from torchmetrics import Metric

from ocseg.checkpoints.ocseg import CONFIG_KEY
from ocseg.errors import OcsegError
from ocseg.inference.predictor import SegmentationPredictor
from ocseg.lightning.hyperparameters import log_hyperparameters
from ocseg.lightning.numerics import NumericsGuard
from ocseg.lightning.protocol_validation import predict_by_protocol
from ocseg.losses.base import SegLoss
from ocseg.models.layers.norm_act import BATCH_NORMS
from ocseg.optim.param_groups import backbone_head_groups

__all__ = ["SegmentationModule"]

_FREEZE_BN = {False: None, "false": None, "none": None, True: "stats", "true": "stats",
              "stats": "stats", "all": "all"}


def _freeze_bn_mode(value: bool | str | None) -> str | None:
    """``model.freeze_bn`` → None (off), ``"stats"`` or ``"all"``; one clear error otherwise."""
    key = value.lower() if isinstance(value, str) else bool(value) if value is not None else False
    if key not in _FREEZE_BN:
        raise OcsegError(f"model.freeze_bn={value!r}: use false, true (= stats: BatchNorm "
                         "statistics frozen, weight and bias trained) or all (weight and bias "
                         "frozen too)")
    return _FREEZE_BN[key]


class SegmentationModule(LightningModule):
    """Args:
        net: module mapping N×3×H×W images to an output dict.
        loss: the training loss; also reported on validation batches.
        metric: zero-argument factory of a torchmetrics ``Metric`` whose ``update(outputs, batch)``
            accumulates and ``compute()`` returns a dict of scalars; its ``primary`` attribute
            names the score tracked as ``val/<primary>_best`` (``mIoU``).
        optimizer: partial optimizer taking the parameter groups (``torch.optim.SGD`` …).
        scheduler: partial LR scheduler taking the optimizer, stepped every optimizer step
            (``LambdaLR`` with ``PolyWithWarmup`` by default, ``conf/schedule/poly.yaml``).
        lr: base learning rate of the backbone group; other parameters get ``lr × head_lr_mult``.
        freeze_bn: ``true`` / ``"stats"``: freeze the BatchNorm statistics while training
            (fine-tuning stages): every BatchNorm in eval mode, its running statistics neither
            used from the batch nor updated, its weight and bias still trained (MODEL_ZOO.md's
            "freezing the BN statistics"); ``"all"``: also no gradient for the weight and bias,
            which are left out of the optimizer (no weight decay either); ``false``: off.
        skip_nonfinite: skip a batch whose loss is NaN/Inf instead of stopping with an error
            (:class:`~ocseg.lightning.numerics.NumericsGuard`, added by ``configure_callbacks``).
        val_predictor: validate (and test) by this test procedure on full-resolution batches,
            eval.py's path (:mod:`~ocseg.lightning.protocol_validation`); None: score the
            network's outputs on the batches as they come (SegFix).
        run_config: the resolved run configuration, stored in checkpoints so eval can rebuild the
            model, and given to every logger as hyperparameters when fitting starts.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: SegLoss,
        metric: Callable[[], Metric],
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[[torch.optim.Optimizer], LRScheduler],
        lr: float,
        head_lr_mult: float = 1.0,
        freeze_bn: bool | str = False,
        skip_nonfinite: bool = False,
        run_config: dict | None = None,
        val_predictor: SegmentationPredictor | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.loss = loss
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.lr = float(lr)
        self.head_lr_mult = float(head_lr_mult)
        mode = _freeze_bn_mode(freeze_bn)
        self.freeze_bn = mode is not None
        self.freeze_bn_affine = mode == "all"
        if self.freeze_bn_affine:
            for module in self._norm_layers():
                for param in module.parameters(recurse=False):
                    param.requires_grad_(False)
        self.skip_nonfinite = bool(skip_nonfinite)
        self.val_predictor = val_predictor
        self.loss_terms: dict[str, torch.Tensor] = {}  # of the last training batch, for messages
        self.validated_at_step: int | None = None   # global step of the last validation
        self.run_config = run_config
        self.val_metric = metric()
        self.test_metric = metric()
        self.primary = getattr(self.val_metric, "primary", "mIoU")
        self.register_buffer("best_score", torch.tensor(-math.inf), persistent=True)
        # optimizer steps these weights have seen; travels with the weights (also out of
        # ddp_spawn workers, whose trainer state does not come back to the main process)
        self.register_buffer("trained_steps", torch.tensor(0, dtype=torch.long), persistent=True)

    # -- forward / train ---------------------------------------------------------------
    def on_fit_start(self) -> None:
        # here, not before fit: under DDP this runs in every process once ranks are known
        if self.run_config is not None:
            log_hyperparameters(self.loggers, self.run_config)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(images)

    def _norm_layers(self) -> list[nn.Module]:
        # also the SyncBatchNorm layers Lightning swaps in under trainer.sync_batchnorm (they
        # keep the same Parameter objects, so the frozen flags carry over)
        return [m for m in self.net.modules() if isinstance(m, BATCH_NORMS)]

    def train(self, mode: bool = True) -> "SegmentationModule":
        super().train(mode)
        if mode and self.freeze_bn:
            for module in self._norm_layers():
                module.eval()
        return self

    def on_train_start(self) -> None:
        # Lightning's fit never calls train(): the network keeps the modes it was built with
        # (all training) and its loops only save and restore each submodule's flag around
        # validation; so the frozen BatchNorms are put in eval mode here, once the strategy has
        # set the network up (SyncBatchNorm included)
        self.train()

    def _loss_terms(self, outputs: dict, batch: dict) -> dict[str, torch.Tensor]:
        return self.loss.terms(outputs, self.loss.target_from_batch(batch))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        outputs = self.net(batch["image"])
        terms = self._loss_terms(outputs, batch)
        total = torch.stack(list(terms.values())).sum()
        self.loss_terms = {name: value.detach() for name, value in terms.items()}
        size = batch["image"].shape[0]
        self.log("train/loss", total, prog_bar=True, batch_size=size)
        if len(terms) > 1:
            for name, value in terms.items():
                self.log(f"train/loss_{name}", value, batch_size=size)
        return total

    def on_train_batch_end(self, outputs: Any, batch: dict, batch_idx: int) -> None:
        self.trained_steps.fill_(self.trainer.global_step)

    # -- validation / test ---------------------------------------------------------------
    def _eval_step(self, batch: dict, metric: Metric, stage: str) -> dict | None:
        if self.val_predictor is not None:
            return self._protocol_step(batch, metric, stage)
        outputs = self.net(batch["image"])
        if "label" in batch:
            total = self.loss(outputs, self.loss.target_from_batch(batch))
            self.log(f"{stage}/loss", total, sync_dist=True, batch_size=batch["image"].shape[0])
        metric.update(outputs, batch)

    def _protocol_step(self, batch: dict, metric: Metric, stage: str) -> dict:
        """Scores the protocol's predictions; returns them (train ids at the labels' size, and
        the class count) for callbacks that draw them."""
        labels = list(batch["label"])
        step = predict_by_protocol(self.net, self.val_predictor, list(batch["image"]), labels,
                                   ignore_index=metric.ignore_index)
        if step.outputs is not None:
            self.log(f"{stage}/loss", self.loss(step.outputs, step.target), sync_dist=True,
                     batch_size=len(labels))
        for logits, label in zip(step.logits, labels):
            metric.update({"out": logits[None]}, {"label": label[None]})
        return {"predictions": [logits.argmax(0) for logits in step.logits],
                "num_classes": int(step.logits[0].shape[0])}

    # Fresh metric states per run: under ddp_spawn the pickled module's tensors arrive in shared
    # memory, so every process would otherwise add into the same confusion matrix.
    def on_validation_epoch_start(self) -> None:
        self.val_metric.reset()

    def on_test_epoch_start(self) -> None:
        self.test_metric.reset()

    def validation_step(self, batch: dict, batch_idx: int) -> dict | None:
        return self._eval_step(batch, self.val_metric, "val")

    def test_step(self, batch: dict, batch_idx: int) -> dict | None:
        return self._eval_step(batch, self.test_metric, "test")

    def _log_scores(self, metric: Metric, stage: str) -> dict[str, torch.Tensor]:
        scores = metric.compute()
        metric.reset()
        for name, value in scores.items():
            # values are already synced by the metric; sync_dist only keeps Lightning quiet;
            # float64, so that the logged scores are eval.py's to the last digit
            self.log(f"{stage}/{name}", value.double(), sync_dist=True,
                     prog_bar=(name == self.primary))
        return scores

    def on_validation_epoch_end(self) -> None:
        scores = self._log_scores(self.val_metric, "val")
        if not self.trainer.sanity_checking:  # the final scores need no second validation
            self.validated_at_step = int(self.trainer.global_step)
        primary = scores.get(self.primary)
        if primary is not None and not self.trainer.sanity_checking and torch.isfinite(primary):
            self.best_score = torch.maximum(self.best_score, primary.to(self.best_score))
        if torch.isfinite(self.best_score):
            self.log(f"val/{self.primary}_best", self.best_score.float(), sync_dist=True)

    def on_test_epoch_end(self) -> None:
        self._log_scores(self.test_metric, "test")

    def configure_callbacks(self) -> list:
        return [NumericsGuard(skip_nonfinite=self.skip_nonfinite)]

    # -- optimisation ------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        groups = backbone_head_groups(self.net, self.lr, self.head_lr_mult)
        optimizer = self.optimizer_factory(groups)
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1}}

    # -- checkpoints -------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.run_config is not None:
            checkpoint[CONFIG_KEY] = self.run_config
