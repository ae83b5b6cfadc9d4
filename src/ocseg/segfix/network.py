"""Loading the SegFix network for offset prediction: an ocseg checkpoint of a SegFix training run
or an original ``segfix_hrnet`` ``.pth``; anything else is one clear error before the network is
built. (The dataset's class count plays no part: SegFix predicts boundaries and directions.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from ocseg.checkpoints import checkpoint_kind, load_checkpoint, read_checkpoint
from ocseg.checkpoints.openseg import detect_layout, state_dict_of
from ocseg.errors import OcsegError

__all__ = ["SEGFIX_TASKS", "SEGFIX_MODELS", "check_segfix_checkpoint", "load_segfix_network"]

SEGFIX_TASKS = ("segfix", "segfix_instance")
SEGFIX_MODELS = "segfix_hrnet2x20, segfix_hrnet48 or segfix_hrnet18_small"
_SEGFIX_HEAD = "SegFixHead"


def check_segfix_checkpoint(obj: dict[str, Any], path: str | Path, model: str) -> None:
    """Raise :class:`OcsegError` unless ``obj`` holds a SegFix network usable as ``model=``."""
    if checkpoint_kind(obj) == "lightning":
        stored = obj.get("ocseg_config") or {}
        saved_model = (stored.get("model") or {}).get("name")
        saved_task = (stored.get("task") or {}).get("name")
        if saved_task is not None and saved_task not in SEGFIX_TASKS:
            raise OcsegError(
                f"checkpoint '{path}' holds model {saved_model or '?'} trained for {saved_task}, not "
                "a SegFix model; pass the checkpoint of a SegFix run (python train.py "
                "experiment=segfix_...) or an original segfix_hrnet .pth")
        if saved_model is not None and saved_model != model:
            raise OcsegError(f"checkpoint '{path}' holds model {saved_model}, but this run asks for "
                             f"model={model}; pass model={saved_model}")
        return
    layout = detect_layout(state_dict_of(obj))
    if layout is not None and layout.head != _SEGFIX_HEAD:
        raise OcsegError(
            f"checkpoint '{path}' is an original '{layout.original}' segmentation checkpoint, not "
            "SegFix; pass a SegFix checkpoint (e.g. segfix_hrnet_hrnext20_segfix_loss_1_latest.pth "
            "with model=segfix_hrnet2x20)")


def load_segfix_network(cfg: DictConfig, ckpt_path: str | Path, strict: bool = True) -> nn.Module:
    """``instantiate(cfg.net)`` (a SegFix model) with the weights of ``ckpt_path``, in eval mode."""
    task = str(cfg.task.name)
    if task not in SEGFIX_TASKS:
        raise OcsegError(f"model={cfg.model.name} is a {task} model, not SegFix; use model= one of "
                         f"{SEGFIX_MODELS}")
    path = Path(ckpt_path)
    obj = read_checkpoint(path)
    check_segfix_checkpoint(obj, path, str(cfg.model.name))
    del obj
    net = instantiate(cfg.net)
    load_checkpoint(net, path, strict=strict)
    return net.fuse_for_inference()  # eval mode, BN folded into the convs (inference only)
