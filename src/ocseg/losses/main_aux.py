"""The shared shape of the segmentation losses: a main-output loss plus a weighted
cross-entropy on the auxiliary output (the original's ``FSAux*Loss`` family), optionally computed
per chunk of images as the original computed it per GPU."""

from __future__ import annotations

from typing import Sequence

import torch

from ocseg.errors import OcsegError
from ocseg.losses.base import SegLoss
from ocseg.losses.pixelwise import (
    check_class_weights,
    check_labels,
    class_weight_tensor,
    full_precision,
    logits_at,
    weighted_cross_entropy,
)

__all__ = ["MainAuxLoss"]


class MainAuxLoss(SegLoss):
    """``terms = main_terms(out) ∪ {"aux": aux_weight·CE(aux)}``.

    Both outputs are upsampled to the label size (bilinear, align_corners=True) in float32 with
    autocast off. The aux branch is always a plain (optionally class-weighted) cross-entropy,
    as in the original, whatever the main loss is.

    Per GPU chunk: the original computed the whole loss on each GPU's share of the batch and
    averaged the per-GPU values (``DataParallelCriterion`` with ``--loss_balance y`` on master, one
    loss per rank under DDP on pytorch-1.7). ``images_per_chunk`` reproduces that on any device
    count: the local batch is split into chunks of that many images (the last may be smaller),
    each term is computed per chunk and the chunks are averaged. For OHEM this is what makes
    ``min_kept`` mean the same as in the original (it is counted per chunk); for CE and RMI the
    difference is only the mean of means. ``None``: the whole local batch is one chunk.

    Args:
        seg_weight: weight of the main-output loss (original ``loss_weights.seg_loss`` 1.0).
        aux_weight: weight of the aux cross-entropy (original ``loss_weights.aux_loss`` 0.4);
            0 disables it. Models without an ``"aux"`` output simply have no aux term.
        class_weights: per-class CE weights (``ce_weight`` of the original configs) or None.
        ignore_index: label value excluded from every term.
        images_per_chunk: compute the loss per chunk of this many images and average the chunks
            (the original's images per GPU: total batch / GPUs); ``None``: the whole batch.
    """

    def __init__(self, seg_weight: float = 1.0, aux_weight: float = 0.4,
                 class_weights: Sequence[float] | None = None, ignore_index: int = 255,
                 images_per_chunk: int | None = None) -> None:
        super().__init__()
        self.seg_weight = float(seg_weight)
        self.aux_weight = float(aux_weight)
        self.ignore_index = int(ignore_index)
        if images_per_chunk is not None and int(images_per_chunk) < 1:
            raise OcsegError(f"loss.images_per_chunk must be a positive number of images or null "
                             f"(got {images_per_chunk})")
        self.images_per_chunk = None if images_per_chunk is None else int(images_per_chunk)
        self.register_buffer("class_weights", class_weight_tensor(class_weights), persistent=False)

    def main_terms(self, logits: torch.Tensor, label: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted terms of the main output; ``logits`` are float32 N×C×H×W at label size."""
        raise NotImplementedError

    def cross_entropy(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """The (class-weighted) mean cross-entropy of float32 label-size ``logits``."""
        return weighted_cross_entropy(logits, label, self.class_weights, self.ignore_index)

    def terms(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> dict[str, torch.Tensor]:
        chunk = self.images_per_chunk
        if chunk is None or target.shape[0] <= chunk or "out" not in outputs:
            return self._batch_terms(outputs, target)
        keys = [k for k in ("out", "aux") if outputs.get(k) is not None]
        per_chunk = [self._batch_terms(dict(zip(keys, parts)), label)
                     for *parts, label in zip(*(outputs[k].split(chunk) for k in keys),
                                              target.split(chunk))]
        return {name: torch.stack([t[name] for t in per_chunk]).mean() for name in per_chunk[0]}

    def _batch_terms(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> dict[str, torch.Tensor]:
        if "out" not in outputs:
            raise OcsegError(
                f"loss {type(self).__name__} needs a segmentation model (output keys 'out'/'aux') "
                f"but got outputs {sorted(outputs)}; for a SegFix model use loss=segfix"
            )
        label = target.long()
        size = label.shape[-2:]
        with full_precision(label.device):
            logits = logits_at(outputs["out"], size)
            num_classes = logits.shape[1]
            check_labels(label, num_classes, self.ignore_index, f"loss {type(self).__name__}")
            check_class_weights(self.class_weights, num_classes)
            terms = self.main_terms(logits, label)
            if self.aux_weight and outputs.get("aux") is not None:
                aux = logits_at(outputs["aux"], size)
                terms["aux"] = self.aux_weight * self.cross_entropy(aux, label)
        return terms
