"""Validation during training by the row's own test protocol, so that ``val/mIoU`` is eval.py's.

The validation batches are the val split as ``eval.py`` reads it (full resolution, no
augmentation); :class:`~ocseg.inference.SegmentationPredictor` built from ``conf/test/ss.yaml``
(the dataset's single-scale protocol: short-side or fixed-size resize, ``fit_stride`` padding,
flip with the left/right channel swap) turns every image into logits at its own size — cropped
to the image border and resized back bicubically — and these are scored against the unresized
label. That is the path of :class:`~ocseg.evaluation.EvaluationModule`, so the last validation
of a run equals ``python eval.py experiment=<row> ckpt_path=<its last.ckpt>``; it is also how the
original scored its training validation (``segmentor/tools/evaluator/standard.py`` lines 94-97:
``cv2.resize(…, ori_img_size, INTER_CUBIC)`` of the border crop; ``tasks.py`` lines 42-44: scored
against ``ori_target``, the label read before ``aug_transform``,
``lib/datasets/loader/default_loader.py`` lines 54-55; LIP's mirror with channels 14↔15, 16↔17,
18↔19 swapped, ``segmentor/trainer.py`` master lines 252-275, pytorch-1.7 lines 316-349).

The validation loss is the training loss of the network's outputs on the unmirrored input
against the label laid out like that input (nearest resize, ignore padding): what the original's
validation loss saw (its ``val_trans`` resized the label with the image, its collate padded it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import torch

from ocseg.inference.predictor import SegmentationPredictor

__all__ = ["ProtocolOutputs", "predict_by_protocol"]


@dataclass
class ProtocolOutputs:
    """One validation batch through the protocol.

    ``logits``: C×H×W per image at the label's size; ``outputs``: the network's output dict on
    the unmirrored input and ``target`` the labels laid out like that input (N×H'×W'), or both
    None when the first forward pass was not on that input (a multi-scale or sliding protocol).
    """

    logits: list[torch.Tensor]
    outputs: Mapping[str, torch.Tensor] | None
    target: torch.Tensor | None


def predict_by_protocol(net: Callable[[torch.Tensor], Mapping[str, torch.Tensor]],
                        predictor: SegmentationPredictor, images: Sequence[torch.Tensor],
                        labels: Sequence[torch.Tensor], ignore_index: int) -> ProtocolOutputs:
    """Logits of C×H×W normalised ``images`` by ``predictor`` and the loss inputs (see above)."""
    first: list[tuple[torch.Size, Mapping[str, torch.Tensor]]] = []

    def forward(x: torch.Tensor) -> Mapping[str, torch.Tensor]:
        outputs = net(x)
        if not first:  # multi_scale predicts the unmirrored view of its first scale first
            first.append((x.shape, outputs))
        return outputs

    logits = predictor(forward, images)
    target = predictor.input_labels(labels, fill=ignore_index)
    shape, outputs = first[0]
    if (shape[0], *shape[2:]) != tuple(target.shape):
        return ProtocolOutputs(logits, None, None)
    return ProtocolOutputs(logits, outputs, target)
