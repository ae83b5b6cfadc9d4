"""mmsegmentation's OCRNet, imported at run time from a separate install (never copied).

    python -m venv /tmp/mmseg-venv          # a throwaway venv; reuse ocseg's torch through a .pth:
    echo <ocseg venv site-packages> > /tmp/mmseg-venv/lib/python3.11/site-packages/torch-from-ocseg.pth
    /tmp/mmseg-venv/bin/pip install --no-deps mmsegmentation==1.2.2 mmengine==0.10.7 mmcv-lite==2.1.0 \
        addict yapf termcolor ftfy regex wcwidth prettytable
    python bench/models.py --compare --mmseg /tmp/mmseg-venv

Models come from mmseg's own configs (``configs/ocrnet/ocrnet_hr48_4xb2-40k_cityscapes-512x1024.py``
and ``ocrnet_r101-d8_8xb2-40k_cityscapes-512x1024.py``) with ``SyncBN`` swapped for ``BN`` (one
process). Their architecture is lighter than the original's: the HRNet-W48 auxiliary head is a 1×1
conv (70.37 M parameters against 74.52 M), the ResNet-101 one a 3×3 conv to 256 channels. The
forward is mmseg's ``CascadeEncoderDecoder.encode_decode``
(``mmseg/models/segmentors/cascade_encoder_decoder.py``): backbone, FCN head, OCR head, and the OCR
logits resized to the input; forward+backward resizes both heads' logits, as its training loss does.

mmcv-lite has no compiled ops; mmseg imports ``mmcv.ops`` for heads these models do not use, so a
stand-in module that fails only when one of its functions is called is registered for that import.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MMSEG_CONFIGS", "build_mmseg", "mmseg_forward"]

MMSEG_CONFIGS = {
    "hrnet48_ocr": "ocrnet/ocrnet_hr48_4xb2-40k_cityscapes-512x1024.py",
    "r101_ocr": "ocrnet/ocrnet_r101-d8_8xb2-40k_cityscapes-512x1024.py",
}


def _site_packages(path: Path) -> Path:
    if (path / "mmseg").is_dir():
        return path
    found = sorted(path.glob("lib/python3*/site-packages"))
    if not found or not (found[0] / "mmseg").is_dir():
        raise SystemExit(f"error: --mmseg {path}: no mmseg installed there (a venv or site-packages "
                         "folder); see bench/mmseg_nets.py for the install")
    return found[0]


def _stub_mmcv_ops() -> None:
    try:
        import mmcv.ops  # noqa: F401  (full mmcv: nothing to do)
    except Exception:  # noqa: BLE001 - mmcv-lite: no compiled extension
        ops = types.ModuleType("mmcv.ops")

        def missing(name: str):
            if name.startswith("__"):
                raise AttributeError(name)

            def fail(*args, **kwargs):
                raise RuntimeError(f"mmcv.ops.{name} needs the compiled mmcv")
            return fail
        ops.__getattr__ = missing
        sys.modules["mmcv.ops"] = ops


def build_mmseg(name: str, install: str | Path) -> nn.Module:
    """mmseg's OCRNet counterpart of ocseg model ``name`` (random init, BN instead of SyncBN)."""
    site = _site_packages(Path(install).resolve())
    if str(site) not in sys.path:
        sys.path.append(str(site))  # after ocseg's own packages: torch stays the same
    _stub_mmcv_ops()
    import mmseg
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(str(Path(mmseg.__file__).parent / ".mim" / "configs" / MMSEG_CONFIGS[name]))
    model = cfg.model
    model.pop("data_preprocessor", None)
    model.pop("pretrained", None)
    model.backbone.pop("init_cfg", None)
    bn = dict(type="BN", requires_grad=True)
    model.backbone.norm_cfg = bn
    for head in model.decode_head:
        head.norm_cfg = bn
    return MODELS.build(model)


def mmseg_forward(net: nn.Module, x: torch.Tensor, training: bool) -> list[torch.Tensor]:
    """Inference: ``encode_decode`` (OCR logits at input size); training: both heads' logits
    resized to the input, as ``CascadeEncoderDecoder.loss`` feeds them to the losses."""
    if not training:
        return [net.encode_decode(x, [dict(img_shape=tuple(x.shape[-2:]))])]
    feats = net.extract_feat(x)
    aux = net.decode_head[0].forward(feats)
    out = net.decode_head[1].forward(feats, aux)
    size = tuple(x.shape[-2:])
    return [F.interpolate(o, size=size, mode="bilinear", align_corners=False) for o in (aux, out)]
