"""Rebuilding the evaluated network from the config and loading a checkpoint into it, refusing
checkpoints of another model or class count with one message that names both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from ocseg.checkpoints import checkpoint_kind, load_checkpoint, read_checkpoint
from ocseg.errors import OcsegError

__all__ = ["checkpoint_identity", "check_checkpoint_matches", "load_network"]


def checkpoint_identity(obj: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint says it is: ``model``, ``dataset``, ``num_classes`` (None when unknown).

    ocseg checkpoints store the run config under ``ocseg_config``; original openseg files store
    theirs under ``config_dict`` (``network.model_name``, ``data.num_classes``, ``dataset``).
    """
    if checkpoint_kind(obj) == "lightning":
        cfg = obj.get("ocseg_config") or {}
        model, dataset = cfg.get("model") or {}, cfg.get("dataset") or {}
        return {"model": model.get("name"), "dataset": dataset.get("name"),
                "num_classes": dataset.get("num_classes"), "kind": "ocseg"}
    cfg = obj.get("config_dict") or {}
    network, data = cfg.get("network") or {}, cfg.get("data") or {}
    return {"model": network.get("model_name"), "dataset": cfg.get("dataset"),
            "num_classes": data.get("num_classes"), "kind": "openseg"}


def check_checkpoint_matches(obj: dict[str, Any], path: str | Path, model: str, dataset: str,
                             num_classes: int) -> None:
    """Raise :class:`OcsegError` when the checkpoint's model (ocseg files) or class count differ."""
    ident = checkpoint_identity(obj)
    wrong_model = ident["kind"] == "ocseg" and ident["model"] is not None and ident["model"] != model
    wrong_classes = ident["num_classes"] is not None and int(ident["num_classes"]) != int(num_classes)
    if wrong_model or wrong_classes:
        saved = f"model {ident['model'] or '?'} with {ident['num_classes'] or '?'} classes"
        if ident["dataset"]:
            saved += f" (dataset {ident['dataset']})"
        raise OcsegError(
            f"checkpoint '{path}' holds {saved}, but this run asks for model={model} with "
            f"{num_classes} classes (dataset={dataset}); pass the checkpoint's model= and dataset=, "
            "or a checkpoint of this model"
        )


def load_network(cfg: DictConfig, ckpt_path: str | Path, strict: bool = True) -> nn.Module:
    """``instantiate(cfg.net)`` with the weights of ``ckpt_path`` (ocseg ``.ckpt`` or openseg ``.pth``)."""
    path = Path(ckpt_path)
    obj = read_checkpoint(path)
    check_checkpoint_matches(obj, path, str(cfg.model.name), str(cfg.dataset.name),
                             int(cfg.dataset.num_classes))
    del obj
    net = instantiate(cfg.net)
    load_checkpoint(net, path, strict=strict)
    return net.fuse_for_inference()  # eval mode, BN folded into the convs (inference only)
