"""One factory for the tiny ocseg checkpoints the tests evaluate, predict offsets with, refine
with and feed bad input to: a random network (seed 0) saved with the run config a real training
run stores."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from helpers.config import TINY, compose

#: the tiny SegFix network (the zoo's SegFix model class on the 4-branch test HRNet)
SEGFIX_TINY = ["model=segfix_hrnet2x20", "backbone=hrnet_tiny"]


def varied(net):
    """Small BatchNorm variances, so a random network's predictions vary over the image."""
    import torch

    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.fill_(0.05)
    return net


def make_checkpoint(path: Path, kind: str = "segmentation", overrides: Sequence[str] = (),
                    model_name: str | None = None, num_classes: int | None = None) -> Path:
    """Save a tiny network of ``kind`` at ``path``:

    * ``"segmentation"``: a ``tiny_fcn`` on the synthetic Cityscapes-layout dataset;
    * ``"segfix"``: the tiny SegFix network, its boundary logit the negative of the background
      logit so that p(boundary) crosses 0.5 somewhere.

    ``overrides`` go to the train config (``dataset=folder``, ``dataset.num_classes=5`` …);
    ``model_name``/``num_classes`` rewrite what the stored config says after the fact (a checkpoint
    that claims another model or class count than its weights).
    """
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from ocseg.checkpoints import save_network

    # another dataset= has no synthetic generator to shrink
    tiny = [o for o in TINY if not (o.startswith("dataset.generator.") and
                                    any(x.startswith("dataset=") for x in overrides))]
    if kind == "segmentation":
        cfg = compose("train", [*tiny, "model=tiny_fcn", *overrides])
    elif kind == "segfix":
        cfg = compose("train", [*tiny, *SEGFIX_TINY, "loss=segfix", *overrides])
    else:
        raise ValueError(f"kind={kind!r}: 'segmentation' or 'segfix'")
    torch.manual_seed(0)
    net = varied(instantiate(cfg.net))
    if kind == "segfix":
        with torch.no_grad():
            net.head.mask[-1].weight[1] = -net.head.mask[-1].weight[0]
    config = OmegaConf.to_container(cfg, resolve=True)
    if model_name:
        config["model"]["name"] = model_name
    if num_classes:
        config["dataset"]["num_classes"] = num_classes
    return save_network(net, config, path)
