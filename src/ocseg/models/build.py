"""``build_model(name, num_classes, **overrides)``: a zoo network from ``conf/model/<name>.yaml``.

Composes the repository's Hydra tree exactly as ``train.py model=<name> key=value …`` would, then
instantiates only the network. Works from a notebook and inside a running Hydra app (whose
global state is put back afterwards).
"""

from __future__ import annotations

import json
from typing import Any

from torch import nn

from ocseg.config import compose, options
from ocseg.errors import OcsegError

__all__ = ["build_model", "available_models"]


def available_models() -> list[str]:
    """Names accepted by :func:`build_model` (the files of ``conf/model/``)."""
    return options("model")


def _override(key: str, value: Any) -> str:
    """``key=value`` in Hydra's override grammar (lists/bools/None via JSON spelling)."""
    if isinstance(value, str):
        return f"{key}={value}"
    return f"{key}={json.dumps(value)}"


def build_model(name: str, num_classes: int, **overrides: Any) -> nn.Module:
    """The network of ``conf/model/<name>.yaml`` for ``num_classes`` classes.

    ``overrides`` are Hydra keys: ``backbone="hrnet18"`` swaps a config group,
    ``**{"head.mid_channels": 256}`` sets a value. Returns a :class:`~ocseg.models.Segmentor`.
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from ocseg.models.segmentor import compose_network

    names = available_models()
    if name not in names:
        raise OcsegError(f"unknown model '{name}'; available: {', '.join(names)}")
    args = [f"model={name}"] + [_override(k, v) for k, v in overrides.items()]
    try:
        cfg = compose("train", args)
    except Exception as exc:  # noqa: BLE001 - Hydra's message names the bad override
        raise OcsegError(f"cannot compose model '{name}' with overrides {args[1:]}: {exc}") from None
    try:
        backbone = instantiate(cfg.backbone, _convert_="object")
        head = instantiate(cfg.head, _convert_="object")
    except InstantiationException as exc:  # surface our own one-line errors unwrapped
        if isinstance(exc.__cause__, OcsegError):
            raise exc.__cause__ from None
        raise
    return compose_network(backbone, head, num_classes)
