"""``build_model(name, num_classes, **overrides)``: a zoo network from ``conf/model/<name>.yaml``.

Composes ``conf/network.yaml`` (a model and a class count, nothing of a run) through
:func:`ocseg.config.compose`, so it works from an installed wheel, from a notebook and inside a
running Hydra app, and instantiates the network exactly as the tools do
(the ``net`` node of ``conf/network.yaml``).
"""

from __future__ import annotations

import json
from typing import Any

from torch import nn

from ocseg.config import compose
from ocseg.errors import ArgumentError, OcsegError, require_int
from ocseg.io.safe_load import trusted_files
from ocseg.models.cards import card, model_names

__all__ = ["build_model", "available_models", "hydra_override"]


def available_models(include_test_only: bool = False) -> list[str]:
    """Names accepted by :func:`build_model` (test fixtures such as ``tiny_fcn`` only with
    ``include_test_only``; :func:`build_model` accepts them either way)."""
    return model_names(include_test_only)


def hydra_override(key: str, value: Any) -> str:
    """``key=value`` in Hydra's override grammar (lists/bools/None via JSON spelling)."""
    if isinstance(value, str):
        return f"{key}={value}"
    return f"{key}={json.dumps(value)}"


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def build_model(name: str, num_classes: int, *, trust_checkpoint: bool = False, **overrides: Any) -> nn.Module:
    """The network of ``conf/model/<name>.yaml`` for ``num_classes`` classes, in train mode.

    ``overrides`` are Hydra keys: ``backbone="hrnet18"`` swaps a config group,
    ``**{"head.mid_channels": 256}`` sets a value. Returns a :class:`~ocseg.models.SegmentationNet`.
    ``trust_checkpoint`` unpickles anything an ImageNet file (``**{"backbone.pretrained": path}``)
    holds, as ``train.py trust_checkpoint=true`` does (only for files you trust).

    Raises :class:`~ocseg.errors.ArgumentTypeError` (a ``TypeError``) or
    :class:`~ocseg.errors.ArgumentError` (a ``ValueError``) for an unknown ``name``, a class count
    that is not an integer ≥ 1, or overrides that do not compose or build.
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    card(name)  # an unknown name is one error listing the models
    num_classes = require_int(num_classes, "num_classes", minimum=1)
    args = [f"model={name}", f"+dataset.num_classes={num_classes}"]
    args += [hydra_override(k, v) for k, v in overrides.items()]
    try:
        cfg = compose("network", args)
    except Exception as exc:  # noqa: BLE001 - Hydra's message names the bad override
        raise ArgumentError(f"cannot compose model '{name}' with overrides {args[2:]}: "
                            f"{_first_line(exc)}") from None
    try:
        with trusted_files(trust_checkpoint):
            return instantiate(cfg.net)
    except InstantiationException as exc:  # surface our own one-line errors unwrapped
        if isinstance(exc.__cause__, OcsegError):
            raise exc.__cause__ from None
        raise ArgumentError(f"cannot build model '{name}' with overrides {args[2:]}: "
                            f"{_first_line(exc.__cause__ or exc)}") from None
