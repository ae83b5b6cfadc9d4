"""The run's configuration as hyperparameters for every logger: the CSV logger's
``hparams.yaml``, the W&B run's config. The resolved config is flattened to ``group/key``
names (``schedule/lr``, ``model/name``), the form loggers compare runs by.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

__all__ = ["flat_config", "log_hyperparameters"]


def flat_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"schedule": {"lr": 0.01}}`` → ``{"schedule/lr": 0.01}``; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flat_config(value, f"{name}/"))
        else:
            out[name] = value
    return out


def log_hyperparameters(loggers: Iterable[Any], config: Mapping[str, Any]) -> None:
    """Give every Lightning logger the flattened ``config`` (loggers speak on rank zero only)."""
    params = flat_config(config)
    for logger in loggers:
        logger.log_hyperparams(params)
