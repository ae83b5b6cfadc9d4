"""Reference key lists of the original openseg networks, for tests (no original code is run).

For the eight networks with a saved key list (``tests/fixtures/openseg/<net>.keys.json.gz``) the
lists are read from it. For the four without one (hrnet_w48, hrnet_w48_asp_ocr, fcnet, asp_ocnet)
they are *derived by hand from the original constructors* (``lib/models/nets/*.py``,
``lib/models/modules/*.py``): each ``nn.Conv2d`` gives ``weight`` (+ ``bias`` unless
``bias=False``), each ``ModuleHelper.BNReLU`` in the pytorch-1.7 era is ``Sequential(BatchNorm2d,
ReLU)`` (``<site>.0.*``), submodules are listed in registration order, and the backbone part is
the one the same backbone has in a saved list. The same derivation reproduces the saved lists
of spatial_ocrnet / spatial_asp_ocrnet / base_ocnet (checked in the tests), which is what makes
it trustworthy for the other four. The InPlace-ABN variant follows the README rule: drop every
``num_batches_tracked`` and the ``.0`` of BN+act sites.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

#: facts collected from the original (key lists, worked examples, the seeded-weights rule)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openseg"

#: ocseg model → (original model_name, keys.json stem or None, backbone donor stem)
ORIGINALS = {
    "hrnet48": ("hrnet_w48", None, "hrnet_w48_ocr"),
    "hrnet48_ocr": ("hrnet_w48_ocr", "hrnet_w48_ocr", None),
    "hrnet48_ocr_b": ("hrnet_w48_ocr_b", "hrnet_w48_ocr_b", None),
    "hrnet48_asp_ocr": ("hrnet_w48_asp_ocr", None, "hrnet_w48_ocr"),
    "r101_fcn": ("fcnet", None, "spatial_ocrnet"),
    "r101_ocr": ("spatial_ocrnet", "spatial_ocrnet", None),
    "r101_asp_ocr": ("spatial_asp_ocrnet", "spatial_asp_ocrnet", None),
    "r101_base_oc": ("base_ocnet", "base_ocnet", None),
    "r101_asp_oc": ("asp_ocnet", None, "spatial_ocrnet"),
    "r101_isa": ("isanet", "isanet", None),
    "segfix_hrnet48": ("segfix_hrnet", "segfix_hrnet48", None),
    "segfix_hrnet2x20": ("segfix_hrnet", "segfix_hrnet2x20", None),
}

NUM_CLASSES = 19
BN_KINDS = ("bn_weight", "bn_bias", "bn_running_mean", "bn_running_var")


class _Keys:
    """Collects ``(key, shape, kind)`` in registration order, like ``state_dict()`` would."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, tuple[int, ...], str]] = []

    def conv(self, name: str, cout: int, cin: int, k: int = 1, bias: bool = True) -> None:
        self.entries.append((f"{name}.weight", (cout, cin, k, k), "weight"))
        if bias:
            self.entries.append((f"{name}.bias", (cout,), "bias"))

    def bn_relu(self, name: str, c: int) -> None:  # ModuleHelper.BNReLU(c, bn_type='torchbn')
        for leaf, kind in zip(("weight", "bias", "running_mean", "running_var"), BN_KINDS):
            self.entries.append((f"{name}.0.{leaf}", (c,), kind))
        self.entries.append((f"{name}.0.num_batches_tracked", (), "bn_num_batches_tracked"))

    def conv_bn_relu(self, name: str, cout: int, cin: int, k: int = 1, bias: bool = True) -> None:
        self.conv(f"{name}.0", cout, cin, k, bias)
        self.bn_relu(f"{name}.1", cout)

    def projection(self, name: str, key: int, c: int) -> None:  # conv-BNReLU-conv-BNReLU
        self.conv_bn_relu(name, key, c)
        self.conv(f"{name}.2", key, key)
        self.bn_relu(f"{name}.3", key)

    def object_attention(self, name: str, c: int, key: int) -> None:  # _ObjectAttentionBlock
        for branch in ("f_pixel", "f_object"):
            self.projection(f"{name}.{branch}", key, c)
        self.conv_bn_relu(f"{name}.f_down", key, c)
        self.conv_bn_relu(f"{name}.f_up", c, key)


def _hrnet_w48(k: _Keys) -> None:
    k.conv("cls_head.0", 720, 720, 3)
    k.bn_relu("cls_head.1", 720)
    k.conv("cls_head.3", NUM_CLASSES, 720, 1, bias=False)


def _fcnet(k: _Keys) -> None:
    for name, cin in (("cls_head", 2048), ("dsn_head", 1024)):
        k.conv(f"{name}.0", 512, cin, 3)
        k.bn_relu(f"{name}.1", 512)
        k.conv(f"{name}.3", NUM_CLASSES, 512, 1, bias=False)


def _asp_ocr_module(k: _Keys, name: str, features: int) -> None:  # SpatialOCR_ASP_Module(256, 256)
    k.conv_bn_relu(f"{name}.context", 256, features, 3)
    k.object_attention(f"{name}.context.2.object_context_block", 256, 128)
    k.conv_bn_relu(f"{name}.conv2", 256, features, 1)
    for i in (3, 4, 5):
        k.conv_bn_relu(f"{name}.conv{i}", 256, features, 3)
    k.conv_bn_relu(f"{name}.conv_bn_dropout", 256, 5 * 256, 1)


def _hrnet_w48_asp_ocr(k: _Keys) -> None:
    _asp_ocr_module(k, "asp_ocr_head", 720)
    k.conv("cls_head", NUM_CLASSES, 256, 1, bias=False)
    k.conv_bn_relu("aux_head", 512, 720, 3)
    k.conv("aux_head.2", NUM_CLASSES, 512, 1, bias=False)


def _spatial_asp_ocrnet(k: _Keys) -> None:  # only used to validate the derivation
    _asp_ocr_module(k, "asp_ocr_head", 2048)
    k.conv("head", NUM_CLASSES, 256)
    k.conv_bn_relu("dsn_head", 512, 1024, 3)
    k.conv("dsn_head.3", NUM_CLASSES, 512)


def _spatial_ocrnet(k: _Keys) -> None:  # only used to validate the derivation
    k.conv_bn_relu("conv_3x3", 512, 2048, 3)
    k.object_attention("spatial_ocr_head.object_context_block", 512, 256)
    k.conv_bn_relu("spatial_ocr_head.conv_bn_dropout", 512, 1024)
    k.conv("head", NUM_CLASSES, 512)
    k.conv_bn_relu("dsn_head", 512, 1024, 3)
    k.conv("dsn_head.3", NUM_CLASSES, 512)


def _self_attention(k: _Keys, name: str, c: int, key: int, value: int) -> None:  # base_oc_block
    for branch in ("f_key", "f_query"):
        k.projection(f"{name}.{branch}", key, c)
    k.conv(f"{name}.f_value", value, c)
    k.conv(f"{name}.W", c, value)


def _base_ocnet(k: _Keys) -> None:  # only used to validate the derivation
    k.conv_bn_relu("oc_module_pre", 512, 2048, 3)
    _self_attention(k, "oc_module.stages.0", 512, 256, 256)
    k.conv_bn_relu("oc_module.conv_bn_dropout", 512, 1024)
    k.conv("cls", NUM_CLASSES, 512)
    k.conv_bn_relu("dsn", 512, 1024, 3)
    k.conv("dsn.2", NUM_CLASSES, 512)


def _asp_ocnet(k: _Keys) -> None:
    k.conv_bn_relu("context", 512, 2048, 3)
    asp = "context.2"                              # ASP_OC_Module(512, 256)
    k.conv_bn_relu(f"{asp}.context", 256, 512, 3)
    _self_attention(k, f"{asp}.context.2.stages.0", 256, 128, 128)   # BaseOC_Context_Module
    k.bn_relu(f"{asp}.context.2.conv_bn_dropout.0", 256)
    k.conv_bn_relu(f"{asp}.conv2", 256, 512, 1, bias=False)
    for i in (3, 4, 5):
        k.conv_bn_relu(f"{asp}.conv{i}", 256, 512, 3, bias=False)
    k.conv_bn_relu(f"{asp}.conv_bn_dropout", 512, 1280, 1, bias=False)
    k.conv("cls", NUM_CLASSES, 512)
    k.conv_bn_relu("dsn", 512, 1024, 3)
    k.conv("dsn.2", NUM_CLASSES, 512)


DERIVED_HEADS = {"hrnet_w48": _hrnet_w48, "fcnet": _fcnet, "hrnet_w48_asp_ocr": _hrnet_w48_asp_ocr,
                 "asp_ocnet": _asp_ocnet, "spatial_ocrnet": _spatial_ocrnet,
                 "spatial_asp_ocrnet": _spatial_asp_ocrnet, "base_ocnet": _base_ocnet}


def saved_entries(stem: str, abn: bool = False) -> list[tuple[str, tuple[int, ...], str]]:
    """A saved key list (``module.`` stripped)."""
    path = FIXTURES / f"{stem}{'.inplace_abn' if abn else ''}.keys.json.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [(k[len("module."):], tuple(s), kind) for k, s, kind in json.load(fh)]


def derived_entries(original: str, backbone_donor: str) -> list[tuple[str, tuple[int, ...], str]]:
    """A derived 1.7-era key list: the donor's backbone keys + the hand-derived head keys."""
    keys = _Keys()
    DERIVED_HEADS[original](keys)
    backbone = [e for e in saved_entries(backbone_donor) if e[0].startswith("backbone.")]
    return backbone + keys.entries


def to_inplace_abn(entries):
    """The README rule: drop ``num_batches_tracked`` and the ``.0`` of BN+act sites. A BN+act
    site is recognised by its BN at index 0 (``<site>.0.num_batches_tracked``), which no plain BN
    of these networks has."""
    bnrelu = {k[: -len(".0.num_batches_tracked")] for k, _, _ in entries
              if k.endswith(".0.num_batches_tracked")}
    out = []
    for key, shape, kind in entries:
        if key.endswith("num_batches_tracked"):
            continue
        module, _, leaf = key.rpartition(".")
        if module.endswith(".0") and module[:-2] in bnrelu and kind in BN_KINDS:
            key = f"{module[:-2]}.{leaf}"
        out.append((key, shape, kind))
    return out


def reference_entries(model: str, abn: bool = False):
    """The original's key list for an ocseg zoo model, in either era."""
    original, saved, donor = ORIGINALS[model]
    if saved is not None:
        return saved_entries(saved, abn)
    entries = derived_entries(original, donor)
    return to_inplace_abn(entries) if abn else entries
