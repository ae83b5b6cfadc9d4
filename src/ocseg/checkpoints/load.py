"""Loading checkpoints: weights into a network, and the one network loader of eval, offset
prediction and :func:`ocseg.load`.

:func:`load_checkpoint` puts the weights of an ocseg or an original openseg file into a network
you built. :func:`load_network` builds the network too: an ocseg checkpoint is rebuilt from its
own config (network, normalisation, task, dataset facts); an original ``.pth`` says only which
network it holds, so it is built from the run's ``cfg`` (``model=``, and the class count of
``dataset=``). A checkpoint for another task, model or class count is refused before building.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from omegaconf import DictConfig, OmegaConf
from torch import nn

from ocseg.checkpoints.files import checkpoint_kind, read_checkpoint
from ocseg.checkpoints.identity import (
    SEGFIX_TASKS,
    check_checkpoint_matches,
    check_segfix_checkpoint,
    check_task,
    segfix_models,
)
from ocseg.checkpoints.ocseg import load_ocseg_state, stored_config
from ocseg.checkpoints.openseg import load_openseg_state
from ocseg.checkpoints.zoo import resolve_checkpoint
from ocseg.errors import OcsegError

__all__ = ["EXPECT", "LoadedNetwork", "load_checkpoint", "load_network"]

#: What a loaded network must do: label pixels, or predict SegFix offsets.
EXPECT = ("segmentation", "segfix")


def load_checkpoint(net: nn.Module, path: str | Path, strict: bool = True, trust: bool | None = None,
                    obj: dict[str, Any] | None = None) -> str:
    """Load ``path`` (ocseg checkpoint or original openseg ``.pth``; ``obj``: its content when
    already read; ``zoo:<name>``: that released file, see :mod:`ocseg.checkpoints.zoo`) into
    ``net``. Returns the kind that was loaded (``"lightning"`` or ``"openseg"``)."""
    p = Path(resolve_checkpoint(path))
    obj = read_checkpoint(p, trust=trust) if obj is None else obj
    kind = checkpoint_kind(obj)
    if kind == "lightning":
        load_ocseg_state(net, obj, path=p, strict=strict)
    else:
        load_openseg_state(net, obj, path=p, strict=strict)
    return kind


class LoadedNetwork(NamedTuple):
    net: nn.Module        # in eval mode
    config: DictConfig    # what it was built from: the checkpoint's own config, or the run's
    kind: str             # "lightning" (ocseg) or "openseg"


def _check_run(obj: dict[str, Any], path: Path, expect: str, cfg: DictConfig) -> None:
    """The run's ``model=`` / ``dataset=`` against the file."""
    model = str(cfg.model.name)
    is_segfix = str(cfg.task.name) in SEGFIX_TASKS
    if expect == "segfix":
        if not is_segfix:
            raise OcsegError(f"model={model} is a {cfg.task.name} model, not SegFix; use model= one of "
                             f"{segfix_models()}")
        check_segfix_checkpoint(obj, path, model)
        return
    if is_segfix:
        raise OcsegError(f"model={model} is a SegFix model, which predicts offsets, not labels; pass "
                         "a segmentation model= (or use predict_offsets.py)")
    check_checkpoint_matches(obj, path, model, str(cfg.dataset.name), int(cfg.dataset.num_classes),
                             list(cfg.dataset.class_names) if cfg.dataset.get("class_names") else None)


def _instantiate(net_cfg: DictConfig) -> nn.Module:
    """The network of ``net_cfg`` without the backbone's ImageNet file: the checkpoint's weights
    replace it (and a training run's file need not exist where the checkpoint is used)."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    net_cfg = OmegaConf.create(OmegaConf.to_container(net_cfg, resolve=True))  # a copy, detached
    if (net_cfg.get("backbone") or {}).get("pretrained") is not None:
        net_cfg.backbone.pretrained = None
    try:
        return instantiate(net_cfg)
    except InstantiationException as exc:  # surface our own one-line errors unwrapped
        if isinstance(exc.__cause__, OcsegError):
            raise exc.__cause__ from None
        raise


def load_network(path: str | Path, expect: str = "segmentation", cfg: DictConfig | None = None, *,
                 strict: bool = True, trust: bool | None = None, fuse: bool = True,
                 content: dict[str, Any] | None = None) -> LoadedNetwork:
    """The network of checkpoint ``path`` (``zoo:<name>``: that released file, fetched on first
    use) with its weights, in eval mode.

    Args:
        expect: ``"segmentation"`` or ``"segfix"``; a checkpoint for the other task is refused.
        cfg: the run's config (``model``, ``dataset``, ``task``, ``net``). Checked against the
            file when given; needed to build an original ``.pth`` (which names no ocseg model).
        strict: every key must fit (False loads what matches).
        trust: unpickle anything the file holds (see :func:`~ocseg.checkpoints.read_checkpoint`).
        fuse: return the inference-only copy of :meth:`~ocseg.models.SegmentationNet.fuse_for_inference`
            (BatchNorm folded into the convolutions, ``channels_last``; what eval, offset
            prediction and :func:`ocseg.load` run); False keeps the trainable network.
        content: the file's content when the caller already read it (with
            :func:`~ocseg.checkpoints.read_checkpoint`), so it is not read twice.
    """
    if expect not in EXPECT:
        raise ValueError(f"expect must be one of {EXPECT}, got {expect!r}")
    p = Path(resolve_checkpoint(path))
    obj = read_checkpoint(p, trust=trust) if content is None else content
    check_task(obj, p, expect)
    if cfg is not None:
        _check_run(obj, p, expect, cfg)
    stored = stored_config(obj)
    source = stored if stored is not None and stored.get("net") is not None else cfg
    if source is None:
        raise OcsegError(f"checkpoint '{p}' does not say which network it holds (an original openseg "
                         "file, or one without ocseg_config); pass model= and dataset= (or num_classes=)")
    net = _instantiate(source.net)
    kind = load_checkpoint(net, p, strict=strict, obj=obj)
    net = net.fuse_for_inference() if fuse else net.eval()
    return LoadedNetwork(net, source, kind)
