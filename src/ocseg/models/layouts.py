"""How each original openseg network names its weights, relative to ours (data, per network).

A :class:`Layout` lists ``(our module path, original module path)`` renames; ``*`` stands for one
index and is carried over. Anything no rename covers keeps its name — the backbones use the
original names (HRNet's, and torchvision's for ResNet), except the deep-base ResNet stem, which
the original calls ``resinit`` and we call ``stem``. Paths are written in the pytorch-1.7 layout
(a BN+act site is ``Sequential(BN, act)``, so its BN is ``<site>.0``); the InPlace-ABN layout
(``<site>.*`` directly) is derived from it by :mod:`ocseg.checkpoints.openseg`. Which ocseg
model uses which layout is said by its card (:mod:`ocseg.models.cards`).

How the renames were derived: from the key lists the original saves (``*.keys.json``, for
hrnet_w48_ocr/_b, spatial_ocrnet, spatial_asp_ocrnet, base_ocnet, isanet, segfix_hrnet) and,
for the four networks without one (hrnet_w48, hrnet_w48_asp_ocr, fcnet, asp_ocnet), from the
module tree their constructors build in the original ``lib/models/nets/*.py`` and
``lib/models/modules/*.py`` (registration order, ``nn.Sequential`` indices, ``ModuleHelper.BNReLU``
sites); the tests build those key lists from the same rules and load them strictly.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Layout", "BACKBONE_RENAMES", "HRNET_W48", "FCNET", "HRNET_W48_OCR", "SPATIAL_OCRNET",
           "HRNET_W48_ASP_OCR", "SPATIAL_ASP_OCRNET", "BASE_OCNET", "ASP_OCNET", "ISANET", "SEGFIX_HRNET"]

BACKBONE_RENAMES: tuple[tuple[str, str], ...] = (("backbone.stem", "backbone.resinit"),)


@dataclass(frozen=True)
class Layout:
    original: str                      # the original network (``network.model_name``) keyed this way
    head: str                          # our head class it maps onto
    renames: tuple[tuple[str, str], ...]

    @property
    def top_level(self) -> frozenset[str]:
        """The original's top-level module names (besides ``backbone``) that carry weights."""
        return frozenset(orig.split(".")[0] for _, orig in self.renames)


def _fcn_branch(ours: str, orig: str, with_dropout: bool) -> list[tuple[str, str]]:
    """FCN branch ``[conv, BN+act, (Dropout,) conv]``: the classifier index moves with the dropout."""
    return [(f"{ours}.conv", f"{orig}.0"), (f"{ours}.norm_act", f"{orig}.1"),
            (f"{ours}.cls", f"{orig}.{3 if with_dropout else 2}")]


def _object_attention(ours: str, orig: str) -> list[tuple[str, str]]:
    names = (("query", "f_pixel"), ("key", "f_object"), ("value", "f_down"), ("out_proj", "f_up"))
    return [(f"{ours}.{a}", f"{orig}.object_context_block.{b}") for a, b in names]


def _self_attention(ours: str, orig: str) -> list[tuple[str, str]]:
    names = (("query", "f_query"), ("key", "f_key"), ("value", "f_value"), ("out_proj", "W"))
    return [(f"{ours}.{a}", f"{orig}.{b}") for a, b in names]


def _aspp(ours: str, orig: str) -> list[tuple[str, str]]:
    return [(f"{ours}.pointwise", f"{orig}.conv2")] + [
        (f"{ours}.dilated.{i}", f"{orig}.conv{i + 3}") for i in range(3)]


def _ocr(aux: str, aux_dropout: bool, bottleneck: str, ocr: str, cls: str) -> tuple[tuple[str, str], ...]:
    return tuple(_fcn_branch("head.aux", aux, aux_dropout) + [("head.bottleneck", bottleneck)]
                 + _object_attention("head.ocr.attention", ocr) + [("head.ocr.fuse", f"{ocr}.conv_bn_dropout"),
                                                                   ("head.cls", cls)])


def _asp_ocr(aux: str, aux_dropout: bool, cls: str) -> tuple[tuple[str, str], ...]:
    return tuple(_fcn_branch("head.aux", aux, aux_dropout)
                 + [("head.context_conv", "asp_ocr_head.context")]
                 + _object_attention("head.context", "asp_ocr_head.context.2")
                 + _aspp("head.aspp", "asp_ocr_head")
                 + [("head.fuse", "asp_ocr_head.conv_bn_dropout"), ("head.cls", cls)])


_ISA_ATTENTION = [
    (f"head.blocks.*.{ours}.{a}", f"isa_head.2.stages.*.{orig}.{b}")
    for ours, orig in (("long_range", "long_range_sa"), ("short_range", "short_range_sa"))
    for a, b in (("query", "f_query"), ("key", "f_key"), ("value", "f_value"), ("out_proj", "W"))
]

# OCR-B (``hrnet_w48_ocr_b``) names its weights exactly as OCR, so its files read with HRNET_W48_OCR.
HRNET_W48 = Layout("hrnet_w48", "FCNHead", tuple(_fcn_branch("head.main", "cls_head", True)))
FCNET = Layout("fcnet", "FCNHead",
               tuple(_fcn_branch("head.main", "cls_head", True) + _fcn_branch("head.aux", "dsn_head", True)))
HRNET_W48_OCR = Layout("hrnet_w48_ocr", "OCRHead", _ocr("aux_head", False, "conv3x3", "ocr_distri_head", "cls_head"))
SPATIAL_OCRNET = Layout("spatial_ocrnet", "OCRHead", _ocr("dsn_head", True, "conv_3x3", "spatial_ocr_head", "head"))
HRNET_W48_ASP_OCR = Layout("hrnet_w48_asp_ocr", "ASPOCRHead", _asp_ocr("aux_head", False, "cls_head"))
SPATIAL_ASP_OCRNET = Layout("spatial_asp_ocrnet", "ASPOCRHead", _asp_ocr("dsn_head", True, "head"))
BASE_OCNET = Layout("base_ocnet", "BaseOCHead", tuple(
    _fcn_branch("head.aux", "dsn", False) + [("head.bottleneck", "oc_module_pre")]
    + _self_attention("head.context", "oc_module.stages.0")
    + [("head.fuse", "oc_module.conv_bn_dropout"), ("head.cls", "cls")]))
ASP_OCNET = Layout("asp_ocnet", "ASPOCHead", tuple(
    _fcn_branch("head.aux", "dsn", False) + [("head.bottleneck", "context"),
                                             ("head.context_conv", "context.2.context")]
    + _self_attention("head.context", "context.2.context.2.stages.0")
    + [("head.context_norm", "context.2.context.2.conv_bn_dropout.0")]
    + _aspp("head.aspp", "context.2")
    + [("head.fuse", "context.2.conv_bn_dropout"), ("head.cls", "cls")]))
ISANET = Layout("isanet", "ISAHead", tuple(
    _fcn_branch("head.aux", "dsn_head", True) + [("head.bottleneck", "isa_head")] + _ISA_ATTENTION
    + [("head.up_conv", "isa_head.2.up_conv"), ("head.fuse", "isa_head.2.conv_bn"), ("head.cls", "cls_head")]))
SEGFIX_HRNET = Layout("segfix_hrnet", "SegFixHead", (("head.mask", "mask_head"), ("head.direction", "dir_head")))
