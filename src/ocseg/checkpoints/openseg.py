"""Loading original openseg.pytorch checkpoints (both eras) into an ocseg network.

1. The state dict is taken from ``state_dict``/``model`` (or the bare dict) and ``module.`` stripped.
2. The original network is recognised by its top-level module names (the models' cards list
   the layouts, :func:`~ocseg.models.cards.original_layouts`).
3. The era is recognised from the keys: pytorch-1.7 (BN+act sites ``<site>.0.*``, BatchNorm with
   ``num_batches_tracked``) or master/InPlace-ABN (``<site>.*``, no ``num_batches_tracked``).
4. Every key of our network gets its original name; missing / unexpected / shape-mismatched
   keys are one error (unless ``strict=False``, which loads what matches).
5. InPlace-ABN era: InPlace-ABN computes ``(x−μ)/√(σ²+ε)·(|w|+ε)+b``, so each BN weight becomes
   ``|w| + 1e-5`` (exact for plain BN), and the BN+act sites switch to LeakyReLU(0.01) — which no
   weight change can express, so the network itself changes (and records it, see ``SegmentationNet``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch
from torch import nn

from ocseg.checkpoints.files import report_key_mismatch
from ocseg.errors import OcsegError
from ocseg.models.cards import models_with_layout, original_layouts
from ocseg.models.layers.norm_act import BATCH_NORMS, NormAct, set_norm_act_slope
from ocseg.models.layouts import BACKBONE_RENAMES, Layout

__all__ = ["load_openseg_state", "original_key_names", "detect_layout", "detect_era", "layout_models",
           "state_dict_of", "OpensegLoad", "ABN_EPS", "ABN_SLOPE"]

log = logging.getLogger(__name__)

ABN_EPS = 1e-5
ABN_SLOPE = 0.01
_TRACKED = "num_batches_tracked"
_EXTRA = "_extra_state"


@dataclass
class OpensegLoad:
    """What was loaded: the original network whose naming the file uses (OCR-B files read as
    ``hrnet_w48_ocr``: same names), the era (``"bn"`` or ``"inplace_abn"``) and tensor counts."""

    original: str | None
    era: str
    loaded: int
    total: int


def state_dict_of(obj: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The weights of an original checkpoint object, without the ``module.`` prefix."""
    state = obj
    for key in ("state_dict", "model"):
        if isinstance(obj.get(key), Mapping):
            state = obj[key]
            break
    state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if state and next(iter(state)).startswith("module."):
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    return state


@lru_cache(maxsize=None)
def _compile(pattern: str) -> re.Pattern:
    return re.compile("^" + re.escape(pattern).replace(r"\*", r"(\d+)") + r"(?=\.|$)")


def _rename(path: str, renames: Iterable[tuple[str, str]]) -> str:
    """Apply the longest matching rename to a module path (``*`` carries one index over)."""
    best = None
    for ours, orig in renames:
        m = _compile(ours).match(path)
        if m and (best is None or m.end() > best[0].end()):
            best = (m, orig)
    if best is None:
        return path
    m, orig = best
    for index in m.groups():
        orig = orig.replace("*", index, 1)
    return orig + path[m.end():]


def original_key_names(net: nn.Module, layout: Layout | None, era: str) -> dict[str, str]:
    """``{our key: original key}`` for every weight/buffer of ``net`` in the given era."""
    sites = {name for name, m in net.named_modules() if isinstance(m, NormAct)}
    renames = BACKBONE_RENAMES + (layout.renames if layout else ())
    names = {}
    for key in net.state_dict():
        if key.endswith(_EXTRA):
            continue
        module, _, leaf = key.rpartition(".")
        if era == "inplace_abn":
            if leaf == _TRACKED:
                continue
            if module.endswith(".0") and module[:-2] in sites:   # the BN inside a NormAct
                module = module[:-2]
        names[key] = f"{_rename(module, renames)}.{leaf}"
    return names


def detect_layout(state: Mapping[str, torch.Tensor]) -> Layout | None:
    """The original network whose head modules are exactly the checkpoint's, else ``None``."""
    top = frozenset(k.split(".")[0] for k in state) - {"backbone"}
    return next((layout for layout in original_layouts() if layout.top_level == top), None)


def detect_era(net: nn.Module, layout: Layout | None, state: Mapping[str, torch.Tensor]) -> str:
    """``"bn"`` or ``"inplace_abn"``: whichever naming of our keys covers more of the file."""
    found = {era: len(set(original_key_names(net, layout, era).values()) & set(state))
             for era in ("bn", "inplace_abn")}
    if found["bn"] != found["inplace_abn"]:
        return max(found, key=found.get)
    return "bn" if any(k.endswith(_TRACKED) for k in state) else "inplace_abn"


def layout_models(layout: Layout) -> str:
    """``model=a`` or ``model=a or b``: the models that read ``layout``'s files."""
    return "model=" + " or ".join(models_with_layout(layout))


def _describe(layout: Layout | None) -> str:
    return f"an original '{layout.original}' checkpoint ({layout_models(layout)})" if layout else \
        "an original checkpoint of a network ocseg does not know"


def load_openseg_state(net: nn.Module, obj: Mapping[str, Any], path: str | Path,
                       strict: bool = True) -> OpensegLoad:
    """Load an original openseg checkpoint object into ``net`` (see the module docstring)."""
    state = state_dict_of(obj)
    if not state:
        raise OcsegError(f"checkpoint '{path}' holds no weights (expected a 'state_dict' of tensors)")
    layout = detect_layout(state)
    head = type(getattr(net, "head", None)).__name__
    if strict and layout is None:
        top = sorted({k.split(".")[0] for k in state} - {"backbone"})
        known = ", ".join(f"{lay.original}→{'/'.join(models_with_layout(lay))}" for lay in original_layouts())
        raise OcsegError(f"checkpoint '{path}' is {_describe(None)} (head modules {top}); "
                         f"known: {known}. Pass strict=False (ckpt_strict=false) to load what matches")
    if strict and layout.head != head:
        raise OcsegError(f"checkpoint '{path}' is {_describe(layout)} but the network has a {head}; "
                         f"use {layout_models(layout)}")
    era = detect_era(net, layout, state)
    names = original_key_names(net, layout, era)
    own = net.state_dict()
    expected = {orig: ours for ours, orig in names.items()}
    missing = [o for o in expected if o not in state and not o.endswith(_TRACKED)]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{o} {tuple(state[o].shape)} vs {tuple(own[q].shape)}" for o, q in expected.items()
                  if o in state and tuple(state[o].shape) != tuple(own[q].shape)]
    if strict:
        report_key_mismatch(path, missing, unexpected, mismatched,
                            hint=f"it is {_describe(layout)}; check model=, backbone= and the dataset's class "
                                 "count, or pass strict=False (ckpt_strict=false)")
    weights = {q: state[o] for o, q in expected.items()
               if o in state and tuple(state[o].shape) == tuple(own[q].shape)}
    if era == "inplace_abn":
        for name, module in net.named_modules():
            if isinstance(module, BATCH_NORMS) and f"{name}.weight" in weights:
                weights[f"{name}.weight"] = weights[f"{name}.weight"].abs() + ABN_EPS
    net.load_state_dict(weights, strict=False)
    set_norm_act_slope(net, ABN_SLOPE if era == "inplace_abn" else 0.0)
    result = OpensegLoad(layout.original if layout else None, era,
                         sum(1 for q in weights if not q.endswith(_TRACKED)),
                         sum(1 for q in names if not q.endswith(_TRACKED)))
    log.info("loaded %s (%s era): %d/%d tensors", path, era, result.loaded, result.total)
    return result
