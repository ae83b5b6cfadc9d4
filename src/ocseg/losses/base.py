"""The loss contract the LightningModule relies on.

A loss is an ``nn.Module`` called as ``loss(outputs, target) -> scalar``. ``outputs`` is the
network's dict; ``target`` is the label tensor (N×H×W, ignore 255) or, when the loss lists more
``target_keys``, a dict of those batch entries. :meth:`terms` returns the weighted parts
(main/aux, BCE/RMI, mask/direction) that are summed into the total and logged separately.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ocseg.errors import OcsegError

__all__ = ["SegLoss"]


class SegLoss(nn.Module):
    """Base class: subclasses implement :meth:`terms`; ``forward`` returns their sum."""

    #: batch keys the loss needs; ``("label",)`` means ``target`` is the label tensor itself.
    target_keys: tuple[str, ...] = ("label",)

    def terms(self, outputs: dict[str, torch.Tensor], target: Any) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def forward(self, outputs: dict[str, torch.Tensor], target: Any) -> torch.Tensor:
        return torch.stack(list(self.terms(outputs, target).values())).sum()

    def target_from_batch(self, batch: dict[str, Any]) -> Any:
        """What :meth:`terms` takes as ``target``, picked from a datamodule batch."""
        if self.target_keys == ("label",):
            return batch["label"]
        missing = [k for k in self.target_keys if k not in batch]
        if missing:
            raise OcsegError(
                f"loss {type(self).__name__} needs batch entries {missing} that the dataset does not "
                "produce; use a model whose task provides them (e.g. model=segfix_hrnet2x20 with loss=segfix)"
            )
        return {k: batch[k] for k in self.target_keys}
