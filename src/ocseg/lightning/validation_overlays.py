"""Validation overlays for Weights & Biases: at every validation, the first few validation images
blended with the predicted colours and with the ground-truth colours, side by side, logged as
images (``val/overlays``) to the run's :class:`~lightning.pytorch.loggers.WandbLogger`.

Cheap by design: only rank 0 draws, only the first ``num_images`` images of the validation set
(the same ones every time, so the panels show training progress), drawing the predictions the
validation step returns (the row's test protocol) or, where it returns none (SegFix), with one
extra forward pass of those images; without a W&B logger (``logger=csv``, ``logger=none``) or for SegFix models (no
segmentation output) it does nothing, unless the training report (``keep_last``, set by
:class:`~ocseg.lightning.training_report.TrainingReport`) wants the panels: then it draws them
and keeps the last validation's as ``last``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from ocseg.data.palette import resolve_palette
from ocseg.data.resize import upsample_to

__all__ = ["WandbValidationOverlays", "image_of_input"]


def image_of_input(tensor: torch.Tensor, normalize) -> np.ndarray:
    """The RGB uint8 image (H×W×3) that ``normalize`` turned into ``tensor`` (3×H×W): the fed
    channels un-normalised, put back in the image's channel order, BGR → RGB."""
    fed = tensor.detach().float().cpu().numpy().transpose(1, 2, 0)
    values = (fed * normalize.std.reshape(-1) + normalize.mean.reshape(-1)) * normalize.div
    bgr = np.empty_like(values)
    bgr[..., list(normalize.channels)] = values
    return np.clip(np.rint(bgr[..., ::-1]), 0, 255).astype(np.uint8)


class WandbValidationOverlays(Callback):
    """Args:
        num_images: how many validation images to show (0 turns it off).
        alpha: weight of the class colours in the blend.
        palette: the dataset's RGB colour per train id (None: generated colours).
        ignore_index: ground-truth pixels without a class (left as the image).
        key: the W&B panel.
    """

    def __init__(self, num_images: int = 4, alpha: float = 0.5,
                 palette: Sequence[Sequence[int]] | None = None, ignore_index: int = 255,
                 key: str = "val/overlays") -> None:
        self.num_images = int(num_images)
        self.alpha = float(alpha)
        self.palette = None if palette is None else [list(c) for c in palette]
        self.ignore_index = int(ignore_index)
        self.key = key
        self._panels: list[np.ndarray] = []
        self._captions: list[str] = []
        self.keep_last = False
        self.last: list[tuple[str, np.ndarray]] = []    # (caption, panel) of the last validation

    @staticmethod
    def _wandb(trainer: Trainer):
        from lightning.pytorch.loggers import WandbLogger

        return next((lg for lg in trainer.loggers if isinstance(lg, WandbLogger)), None)

    def _active(self, trainer: Trainer) -> bool:
        return (self.num_images > 0 and trainer.is_global_zero and not trainer.sanity_checking
                and (self.keep_last or self._wandb(trainer) is not None))

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._panels, self._captions = [], []

    def _blend(self, image: np.ndarray, train_ids: np.ndarray, colours: np.ndarray) -> np.ndarray:
        coloured = colours[np.clip(train_ids, 0, len(colours) - 1)]
        blend = (1 - self.alpha) * image + self.alpha * coloured
        out = np.where((train_ids == self.ignore_index)[..., None], image, blend)
        return np.rint(out).astype(np.uint8)

    @torch.no_grad()
    def on_validation_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any,
                                batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        wanted = self.num_images - len(self._panels)
        if wanted <= 0 or "label" not in batch or not self._active(trainer):
            return
        normalize = getattr(trainer.datamodule, "normalize", None) if trainer.datamodule else None
        if normalize is None:
            return
        images = batch["image"][:wanted]
        labels = batch["label"][:wanted]
        if isinstance(outputs, dict) and "predictions" in outputs:
            # the validation's own predictions (the row's test protocol): no extra forward pass
            pred = torch.stack(outputs["predictions"][:wanted]).cpu().numpy()
            classes = outputs["num_classes"]
        else:
            logits = pl_module.net(images).get("out")
            if logits is None:                      # a SegFix model: no classes to draw
                self.num_images = 0
                return
            pred = upsample_to(logits.float(), tuple(labels.shape[-2:])).argmax(1).cpu().numpy()
            classes = logits.shape[1]
        colours = np.asarray(resolve_palette(self.palette, classes), np.float32)
        names = batch.get("name") or [str(batch_idx)] * len(images)
        for i, tensor in enumerate(images):
            image = image_of_input(tensor, normalize)[: labels.shape[-2], : labels.shape[-1]]
            truth = labels[i].cpu().numpy()
            self._panels.append(np.concatenate([self._blend(image, pred[i], colours),
                                                self._blend(image, truth, colours)], axis=1))
            self._captions.append(f"{names[i]}: prediction | ground truth")

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._panels and self._active(trainer):
            if self._wandb(trainer) is not None:
                self._wandb(trainer).log_image(key=self.key, images=self._panels,
                                               caption=self._captions, step=trainer.global_step)
            if self.keep_last:
                self.last = list(zip(self._captions, self._panels))
        self._panels, self._captions = [], []
