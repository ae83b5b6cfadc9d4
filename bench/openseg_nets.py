"""The original's networks, imported at run time from a checkout of openseg.pytorch (never copied).

    git clone -b pytorch-1.7 <openseg.pytorch> /tmp/openseg
    python bench/models.py --compare --original-repo /tmp/openseg

Branch ``pytorch-1.7`` (plain/Sync BN: ``bn_type torchbn``, as its Cityscapes configs). What each
benchmarked model imports there, and what its ``forward`` does:

- ``hrnet48_ocr``: ``lib/models/nets/hrnet.py`` ``HRNet_W48_OCR`` (class l.122, ``forward``
  l.165: backbone, concat of the 4 upsampled branches, aux head, OCR, both logits upsampled to the
  input size); backbone ``lib/models/backbones/hrnet/hrnet_backbone.py`` ``HRNetBackbone``
  (l.887; ``hrnet48`` l.917 builds ``HighResolutionNet`` with ``nn.SyncBatchNorm``, which runs as
  plain BN in one process), residual sum ``out = out + residual`` (l.69).
- ``r101_ocr``: ``lib/models/nets/ocrnet.py`` ``SpatialOCRNet`` (l.19, ``forward`` l.69, both
  logits upsampled to the input size); backbone ``lib/models/backbones/resnet/resnet_backbone.py``
  ``deepbase_resnet101_dilated8`` (l.229), blocks ``lib/models/backbones/resnet/resnet_models.py``
  (``out = out + residual``, l.103).
- ``segfix_hrnet2x20``: ``lib/models/nets/segfix.py`` ``SegFix_HRNet`` (l.25, ``forward`` l.80:
  mask and direction maps at the backbone's stride 2, not upsampled); backbone
  ``HighResolutionNext`` (``hrnet_backbone.py`` l.703, ``hrnet2x20`` l.939).

The original reads its settings from a ``configer``; :class:`_Configer` answers the few keys these
constructors ask for. ``hrnet_config.py`` imports ``yacs`` only for a dict with attribute access;
when yacs is not installed a stand-in module is registered for the import.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import torch
from torch import nn

__all__ = ["ORIGINAL_NETS", "build_original", "copy_weights_from_original", "randomise_batchnorm"]

# ocseg model → (module, class, backbone, model_name) of the original
ORIGINAL_NETS = {
    "hrnet48_ocr": ("lib.models.nets.hrnet", "HRNet_W48_OCR", "hrnet48", "hrnet_w48_ocr"),
    "r101_ocr": ("lib.models.nets.ocrnet", "SpatialOCRNet", "deepbase_resnet101_dilated8", "spatial_ocrnet"),
    "segfix_hrnet2x20": ("lib.models.nets.segfix", "SegFix_HRNet", "hrnet2x20", "segfix_hrnet"),
}


class _Configer:
    def __init__(self, values: dict) -> None:
        self.values = values

    def get(self, *keys):
        value = self.values
        for key in keys:
            value = value[key]
        return value

    def exists(self, *keys) -> bool:
        try:
            self.get(*keys)
        except KeyError:
            return False
        return True


class _AttrDict(dict):
    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__


def _ensure_yacs() -> None:
    try:
        importlib.import_module("yacs.config")
    except ImportError:
        yacs, config = types.ModuleType("yacs"), types.ModuleType("yacs.config")
        config.CfgNode = _AttrDict
        yacs.config = config
        sys.modules.update({"yacs": yacs, "yacs.config": config})


def build_original(name: str, repo: str | Path, num_classes: int = 19) -> nn.Module:
    """The original network of ocseg model ``name`` from the checkout at ``repo`` (random init)."""
    repo = Path(repo).resolve()
    if not (repo / "lib" / "models" / "nets").is_dir():
        raise SystemExit(f"error: --original-repo {repo} is not an openseg.pytorch checkout "
                         "(no lib/models/nets); clone branch pytorch-1.7 there")
    if name not in ORIGINAL_NETS:
        raise SystemExit(f"error: no original network mapped for {name}; one of {sorted(ORIGINAL_NETS)}")
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    _ensure_yacs()
    module, cls, backbone, model_name = ORIGINAL_NETS[name]
    configer = _Configer({"data": {"num_classes": num_classes},
                          "network": {"backbone": backbone, "bn_type": "torchbn", "pretrained": None,
                                      "model_name": model_name}})
    return getattr(importlib.import_module(module), cls)(configer)


def copy_weights_from_original(ours: nn.Module, original: nn.Module) -> None:
    """Give ``ours`` the original's weights, through ocseg's loader of original checkpoints."""
    from ocseg.checkpoints.openseg import load_openseg_state

    load_openseg_state(ours, {"state_dict": original.state_dict()}, "<original network>")


def randomise_batchnorm(net: nn.Module, seed: int = 0) -> None:
    """BN statistics away from (0, 1), so outputs compared after folding mean something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
