"""Loading ImageNet weight files of the original into a backbone, with a matched/missing report.

Accepted files: a bare state dict, or a dict holding one under ``state_dict``/``model``; keys may
carry ``module.`` (DataParallel) and, for a whole segmentation checkpoint, ``backbone.``. The
deep-base ResNet files name the stem ``conv1/bn1/…`` (the original prefixes them with
``resinit.``); ours lives under ``stem.``. Classification-only tensors (``fc``, HRNet's
``incre_modules``/``downsamp_modules``/``final_layer``/``classifier``) are ignored. A file that
does not fit — a shape mismatch, or fewer than 90 % of the backbone's tensors found — is an error.

A missing file that the original links directly (:func:`~ocseg.models.backbones.imagenet_files.direct_url`)
is downloaded to the named path first, as the ``zoo:`` checkpoints are (:mod:`ocseg.io.download`:
``OCSEG_ZOO_URL``, atomic, the offline message); a download that does not fit the backbone is
deleted. ``download=False`` (``backbone.download=false``) stops with the URL instead.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ocseg.errors import MissingFileError, OcsegError
from ocseg.io.safe_load import load_torch
from ocseg.models.backbones.imagenet_files import direct_url, download_hint

__all__ = ["load_pretrained", "PretrainedReport"]

log = logging.getLogger(__name__)

_CLASSIFIER = re.compile(r"^(fc|classifier|incre_modules|downsamp_modules|final_layer|last_layer)\.")
_RESNET_STEM = re.compile(r"^(?:resinit\.)?((?:conv|bn)[123])\.")
_MIN_FOUND = 0.9


@dataclass
class PretrainedReport:
    path: str
    loaded: int
    expected: int
    missing: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"backbone weights from '{self.path}': {self.loaded}/{self.expected} tensors loaded"
        if self.missing:
            text += f"; missing {len(self.missing)}: {', '.join(self.missing[:5])}"
        if self.ignored:
            text += f"; ignored {len(self.ignored)} (e.g. {', '.join(self.ignored[:3])})"
        return text


def _state_dict_of(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise OcsegError(f"backbone.pretrained='{path}' holds no state dict of tensors")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}
    if any(k.startswith("backbone.") for k in state):
        state = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    return state


def _our_name(key: str, own: dict[str, torch.Tensor]) -> str:
    if key in own:
        return key
    stem = _RESNET_STEM.sub(r"stem.\1.", key)
    return stem if stem in own else key


def _fitting_weights(backbone: nn.Module, p: Path,
                     trust: bool | None = None) -> tuple[dict[str, torch.Tensor], PretrainedReport]:
    """The tensors of ``p`` that fit ``backbone`` and the report; raise if the file does not fit.

    The file is read as checkpoints are (:func:`ocseg.io.safe_load.load_torch`): a file that
    needs unpickling beyond tensors and numpy scalars is refused unless ``trust`` (None: as the
    enclosing :func:`~ocseg.io.safe_load.trusted_files` says, which ``train.py`` sets from
    ``trust_checkpoint``, since backbones load their file while the network is built)."""
    obj = load_torch(p, f"backbone.pretrained='{p}'", trust=trust,
                     fix="is it a complete ImageNet weight file of the original (.pth)?")
    state = _state_dict_of(obj, p)
    own = backbone.state_dict()
    weights, ignored, mismatched = {}, [], []
    for key, value in state.items():
        name = _our_name(key, own)
        if name not in own:
            ignored.append(key)
        elif tuple(own[name].shape) != tuple(value.shape):
            mismatched.append(f"{key} {tuple(value.shape)} vs {tuple(own[name].shape)}")
        else:
            weights[name] = value
    expected = [k for k in own if not k.endswith("num_batches_tracked")]
    missing = [k for k in expected if k not in weights]
    kind = type(backbone).__name__
    if mismatched:
        raise OcsegError(f"backbone.pretrained='{p}' does not fit this {kind} (shape-mismatched: "
                         f"{', '.join(mismatched[:3])}); pick the file made for this backbone variant")
    if len(expected) - len(missing) < _MIN_FOUND * len(expected):
        raise OcsegError(f"backbone.pretrained='{p}' does not fit this {kind}: only "
                         f"{len(expected) - len(missing)}/{len(expected)} of its tensors are in the file "
                         f"(first missing: {', '.join(missing[:3])}); pick the file made for this backbone")
    # classification-head tensors are expected leftovers; list the others first
    ignored.sort(key=lambda k: bool(_CLASSIFIER.match(k)))
    return weights, PretrainedReport(str(p), len(expected) - len(missing), len(expected), missing, ignored)


def load_pretrained(backbone: nn.Module, path: str | Path, download: bool = True,
                    trust: bool | None = None) -> PretrainedReport:
    """Copy the matching tensors of ``path`` into ``backbone``; raise if the file does not fit.
    A missing file with a direct link is downloaded there first unless ``download`` is False.
    ``trust``: unpickle anything the file holds (None: ``trust_checkpoint`` of the run, see
    :func:`_fitting_weights`); a downloaded file is read the same way."""
    p = Path(path)
    url = direct_url(p)
    if not p.is_file() and download and url is not None:
        from ocseg.io.download import download as fetch

        fetch(url, p, what=f"backbone.pretrained='{p}'",
              check=lambda tmp: _fitting_weights(backbone, tmp, trust))
    if not p.is_file():
        raise MissingFileError(f"backbone.pretrained='{p}' not found; {download_hint(p)} into "
                         f"'{p.parent}' (paths.pretrained_dir), or set backbone.pretrained=null to "
                         "train from scratch")
    weights, report = _fitting_weights(backbone, p, trust)
    backbone.load_state_dict(weights, strict=False)
    log.info("%s", report)
    return report
