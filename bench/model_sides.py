"""The contenders of ``bench/models.py --compare``: one callable per side and workload.

Workloads: ``fwd`` (eval mode, no autograd) and ``fwd_bwd`` (train mode, forward, the sum of the
outputs' means, backward, gradients cleared). Segmentation outputs are upsampled to the input size
where the original's ``forward`` does it (``HRNet_W48_OCR``, ``SpatialOCRNet``: both logits);
SegFix's maps stay at stride 2 on every side (``SegFix_HRNet.forward`` returns them so).

Sides:
- ``original`` / ``mmseg``: their own code (``openseg_nets.py``, ``mmseg_nets.py``);
- ``plain``: ocseg's network run the way the original runs: eager, float32, contiguous (NCHW),
  ``torch.no_grad``, unfused, both logits upsampled;
- ``ocseg``: ocseg's own paths. Forward = what ``eval.py`` / ``predict_offsets.py`` run:
  ``fuse_for_inference()`` (BN folded), ``torch.inference_mode``, only ``out`` upsampled (the
  predictor's ``keys=["out"]``). Forward+backward = the training step, which is ``plain``'s;
- variants (``--variants``), each one change against ``plain``: ``inference_mode``,
  ``channels_last``, ``fused``, ``bf16`` (CPU autocast), ``compile`` (``torch.compile``; for the
  forward with Inductor's ``freezing``; compile time reported apart).
"""

from __future__ import annotations

import contextlib
import time
from typing import Callable

import torch
from torch import nn

from ocseg.data.resize import upsample_to

__all__ = ["VARIANTS", "ocseg_sides", "outputs_of", "loss_of", "fwd_fn", "fwd_bwd_fn"]

VARIANTS = {
    "fwd": ("inference_mode", "channels_last", "fused", "bf16", "compile"),
    "fwd_bwd": ("channels_last", "bf16", "compile"),
}


def outputs_of(out, size: tuple[int, int], upsample: bool, keys=None) -> list[torch.Tensor]:
    """The tensors a side returns, as a list (dict values in ``keys`` order, or a tuple)."""
    values = [out[k] for k in (keys or out)] if isinstance(out, dict) else list(out)
    return [upsample_to(v, size) for v in values] if upsample else values


def loss_of(outputs: list[torch.Tensor]) -> torch.Tensor:
    return sum(o.float().mean() for o in outputs)


def _clear(net: nn.Module) -> None:
    net.zero_grad(set_to_none=True)


def fwd_fn(net: nn.Module, x: torch.Tensor, upsample: bool, keys=None,
           grad_mode=torch.no_grad, autocast: bool = False) -> Callable[[], list[torch.Tensor]]:
    size = tuple(x.shape[-2:])

    def run():
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
        with grad_mode(), ctx:
            return outputs_of(net(x), size, upsample, keys)
    return run


def fwd_bwd_fn(net: nn.Module, x: torch.Tensor, upsample: bool, autocast: bool = False,
               forward: Callable | None = None) -> Callable[[], None]:
    size = tuple(x.shape[-2:])

    def run():
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
        with ctx:
            outs = forward(x) if forward else outputs_of(net(x), size, upsample)
            loss = loss_of(outs)
        loss.backward()
        _clear(net)
    return run


def _channels_last(net: nn.Module, x: torch.Tensor) -> tuple[nn.Module, torch.Tensor]:
    return net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)


def ocseg_sides(net: nn.Module, x: torch.Tensor, workload: str, segmentation: bool,
                variants: tuple[str, ...], make_copy: Callable[[], nn.Module]) -> tuple[dict, dict]:
    """``({side: callable}, {side: seconds to prepare})`` for ``plain``, ``ocseg`` and variants.

    ``make_copy()`` returns a fresh network with the same weights (variants that change the
    network — channels_last, compile — get their own copy)."""
    prep: dict[str, float] = {}
    sides: dict[str, Callable] = {}
    if workload == "fwd":
        net.eval()
        keys = ["out"] if segmentation else None
        sides["plain"] = fwd_fn(net, x, segmentation)
        fused = net.fuse_for_inference()
        sides["ocseg"] = fwd_fn(fused, x, segmentation, keys, torch.inference_mode)
        for v in variants:
            if v == "inference_mode":
                sides[v] = fwd_fn(net, x, segmentation, grad_mode=torch.inference_mode)
            elif v == "fused":
                sides[v] = fwd_fn(fused, x, segmentation)
            elif v == "channels_last":
                sides[v] = fwd_fn(*_channels_last(make_copy().eval(), x), segmentation)
            elif v == "bf16":
                sides[v] = fwd_fn(net, x, segmentation, autocast=True)
            elif v == "compile":
                # inference compile with freezing: weights become constants (prepacked, BN folded)
                compiled = torch.compile(make_copy().eval())
                sides[v] = fwd_fn(compiled, x, segmentation)
                start = time.perf_counter()
                import torch._inductor.config as inductor_config

                with inductor_config.patch(freezing=True):
                    sides[v]()
                prep[v] = time.perf_counter() - start
        return sides, prep
    net.train()
    sides["plain"] = fwd_bwd_fn(net, x, segmentation)
    for v in variants:
        if v == "channels_last":
            copy, xc = _channels_last(make_copy().train(), x)
            sides[v] = fwd_bwd_fn(copy, xc, segmentation)
        elif v == "bf16":
            sides[v] = fwd_bwd_fn(net, x, segmentation, autocast=True)
        elif v == "compile":
            copy = make_copy().train()
            compiled = torch.compile(copy)
            size = tuple(x.shape[-2:])
            sides[v] = fwd_bwd_fn(copy, x, segmentation,
                                  forward=lambda t, c=compiled, s=size: outputs_of(c(t), s, segmentation))
            start = time.perf_counter()
            sides[v]()
            prep[v] = time.perf_counter() - start
    return sides, prep
