"""BatchNorm + activation sites (the original's ``BNReLU``) and the conv → norm → act unit.

The original builds every "BN followed by an activation" in its heads as one unit: in the
pytorch-1.7 era ``Sequential(BatchNorm2d, ReLU)``, in the master era one InPlace-ABN module whose
activation is LeakyReLU(0.01). :class:`NormAct` keeps the BN and the activation as children
``[0]`` and ``[1]`` (the 1.7 key layout), so an InPlace-ABN checkpoint only needs the activation
swapped (:func:`set_norm_act_slope`) — the BN weights themselves are converted on load.
"""

from __future__ import annotations

from torch import nn

__all__ = ["BATCH_NORMS", "NormAct", "conv_norm_act", "set_norm_act_slope", "norm_act_slope"]

#: Every BatchNorm layer class, by its public name (``nn.SyncBatchNorm`` is what Lightning swaps in
#: under ``trainer.sync_batchnorm``; a lazy BatchNorm becomes one of these on its first call).
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def _activation(negative_slope: float) -> nn.Module:
    # ReLU in place is safe here: BatchNorm's backward needs its input, not its output.
    if negative_slope == 0.0:
        return nn.ReLU(inplace=True)
    return nn.LeakyReLU(negative_slope, inplace=True)


class NormAct(nn.Sequential):
    """``BatchNorm2d(channels)`` then ReLU (``negative_slope=0``) or LeakyReLU(negative_slope)."""

    def __init__(self, channels: int, negative_slope: float = 0.0) -> None:
        super().__init__(nn.BatchNorm2d(channels), _activation(negative_slope))
        self.negative_slope = float(negative_slope)

    def set_negative_slope(self, negative_slope: float) -> None:
        self.negative_slope = float(negative_slope)
        self[1] = _activation(self.negative_slope)


def conv_norm_act(in_channels: int, out_channels: int, kernel_size: int = 1, *, bias: bool = True,
                  dilation: int = 1) -> nn.Sequential:
    """``Sequential(Conv2d, NormAct)`` with "same" padding — the original's ``[conv, BNReLU]`` pair."""
    padding = dilation * (kernel_size // 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=bias),
        NormAct(out_channels),
    )


def set_norm_act_slope(module: nn.Module, negative_slope: float) -> int:
    """Switch every :class:`NormAct` under ``module`` to the given activation; returns how many."""
    sites = [m for m in module.modules() if isinstance(m, NormAct)]
    for site in sites:
        site.set_negative_slope(negative_slope)
    return len(sites)


def norm_act_slope(module: nn.Module) -> float:
    """The activation slope of the NormAct sites under ``module`` (0.0 when there are none)."""
    slopes = {m.negative_slope for m in module.modules() if isinstance(m, NormAct)}
    if len(slopes) > 1:
        raise ValueError(f"NormAct sites disagree on the activation: {sorted(slopes)}")
    return slopes.pop() if slopes else 0.0
