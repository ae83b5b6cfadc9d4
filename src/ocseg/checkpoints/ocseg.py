"""The ocseg checkpoint format, defined once: what Lightning writes, plus the run's config.

A training run's ``.ckpt`` is Lightning's: ``state_dict`` (the network's weights under ``net.``,
the LightningModule's attribute), ``pytorch-lightning_version``, ``global_step`` and the loop /
optimizer state for resuming. ocseg adds ``ocseg_config``, the resolved run config as plain data,
so the file describes itself: the network (``net``), its input normalisation (``normalize``),
the task and the dataset's classes, palette, label ids and test facts are rebuilt from it
(:func:`ocseg.checkpoints.load_network`). :func:`save_network` writes the same format for a
network alone (no optimizer state: such a file initialises training, it does not resume it).
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any, Mapping

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ocseg.checkpoints.files import report_key_mismatch
from ocseg.io.atomic import atomic_path

__all__ = ["CONFIG_KEY", "NET_PREFIX", "save_network", "stored_config", "load_ocseg_state"]

CONFIG_KEY = "ocseg_config"
NET_PREFIX = "net."


def save_network(net: nn.Module, config: DictConfig | Mapping[str, Any], path: str | Path,
                 global_step: int = 0) -> Path:
    """Write ``net`` and the run ``config`` it was built from (``net``, ``normalize``, ``task``,
    ``model``, ``dataset`` …; resolved here) as an ocseg checkpoint at ``path``, atomically."""
    if isinstance(config, DictConfig):
        config = OmegaConf.to_container(config, resolve=True, throw_on_missing=False)
    content = {
        "pytorch-lightning_version": version("lightning"),
        "epoch": 0,
        "global_step": int(global_step),
        "state_dict": {f"{NET_PREFIX}{k}": v for k, v in net.state_dict().items()},
        CONFIG_KEY: dict(config),
    }
    with atomic_path(path) as tmp:
        torch.save(content, tmp)
    return Path(path)


def stored_config(obj: Mapping[str, Any]) -> DictConfig | None:
    """The run config an ocseg checkpoint carries (None for files without one)."""
    config = obj.get(CONFIG_KEY)
    return OmegaConf.create(config) if isinstance(config, Mapping) and config else None


def load_ocseg_state(net: nn.Module, obj: Mapping[str, Any], path: str | Path, strict: bool = True) -> None:
    """Put the ``net.*`` weights of an ocseg checkpoint into ``net`` (one error for keys that
    do not fit unless ``strict=False``, which loads what matches)."""
    state = obj.get("state_dict", {})
    weights = {k[len(NET_PREFIX):]: v for k, v in state.items() if k.startswith(NET_PREFIX)}
    own = net.state_dict()
    # ``_extra_state`` entries (e.g. the network's BN+act activation) are not tensors
    mismatched = [k for k, v in weights.items() if k in own and isinstance(v, torch.Tensor)
                  and tuple(own[k].shape) != tuple(v.shape)]
    if strict:
        missing = [k for k in own if k not in weights]
        unexpected = [k for k in weights if k not in own]
        model_name = ((obj.get(CONFIG_KEY) or {}).get("model") or {}).get("name", "?")
        report_key_mismatch(path, missing, unexpected, mismatched,
                            hint=f"it was trained as model={model_name}; use that model and its class count")
    weights = {k: v for k, v in weights.items() if k in own and k not in mismatched}
    net.load_state_dict(weights, strict=False)
