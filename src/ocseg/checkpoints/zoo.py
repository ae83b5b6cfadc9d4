"""The original model zoo as data: which released ``.pth`` each ocseg model loads, and its reported score.

Scores are the original's ``MODEL_ZOO.md`` (Cityscapes val, single scale, no flip, unless noted).
Released files are InPlace-ABN-era checkpoints; :func:`ocseg.checkpoints.load_checkpoint` adapts
the network to them. ``None``: the original released no checkpoint for that network.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ZooEntry", "ZOO"]

_RELEASES = "https://github.com/hsfzxjy/models.storage/releases/download"


@dataclass(frozen=True)
class ZooEntry:
    model: str                    # ocseg ``model=``
    original: str                 # the original's ``network.model_name`` (and backbone)
    checkpoint: str | None        # released file name
    url: str | None
    miou: str                     # reported score, as the original states it


ZOO: tuple[ZooEntry, ...] = (
    ZooEntry("hrnet48", "hrnet_w48 (hrnet48)", None, None, "≈80.6 (baseline, no file released)"),
    ZooEntry("hrnet48_ocr", "hrnet_w48_ocr (hrnet48)", "hrnet_w48_ocr_1_latest.pth",
             f"{_RELEASES}/openseg.pytorch.cityscapes/hrnet_w48_ocr_1_latest.pth", "81.09 (81.73 w/ SegFix)"),
    ZooEntry("hrnet48_ocr_b", "hrnet_w48_ocr_b (hrnet48)",
             "hrnet_w48_ocr_b_hrnet48_8_20000_trainval_coarse_trainval_mapillary_pretrain_freeze_bn_1_latest.pth",
             f"{_RELEASES}/openseg.pytorch.cityscapes/hrnet_w48_ocr_b_hrnet48_8_20000_trainval_coarse_trainval_"
             "mapillary_pretrain_freeze_bn_1_latest.pth", "84.2 (test set, Mapillary + coarse)"),
    ZooEntry("hrnet48_asp_ocr", "hrnet_w48_asp_ocr (hrnet48)", None, None, "—"),
    ZooEntry("r101_fcn", "fcnet (deepbase_resnet101_dilated8)", None, None, "—"),
    ZooEntry("r101_ocr", "spatial_ocrnet (deepbase_resnet101_dilated8)",
             "spatial_ocrnet_deepbase_resnet101_dilated8_1_latest.pth",
             f"{_RELEASES}/openseg.pytorch.cityscapes/spatial_ocrnet_deepbase_resnet101_dilated8_1_latest.pth",
             "79.63 (80.68 w/ SegFix)"),
    ZooEntry("r101_asp_ocr", "spatial_asp_ocrnet (deepbase_resnet101_dilated8)",
             "spatial_asp_ocrnet_deepbase_resnet101_dilated8_1_latest.pth",
             f"{_RELEASES}/openseg.pytorch.cityscapes/spatial_asp_ocrnet_deepbase_resnet101_dilated8_1_latest.pth",
             "79.89 (80.69 w/ SegFix)"),
    ZooEntry("r101_base_oc", "base_ocnet (deepbase_resnet101_dilated8)",
             "base_ocnet_deepbase_resnet101_dilated8_1_latest.pth",
             f"{_RELEASES}/openseg.pytorch.cityscapes/base_ocnet_deepbase_resnet101_dilated8_1_latest.pth",
             "79.49 (80.55 w/ SegFix)"),
    ZooEntry("r101_asp_oc", "asp_ocnet (deepbase_resnet101_dilated8)", None, None, "—"),
    ZooEntry("r101_isa", "isanet (deepbase_resnet101_dilated8)", "ISA model (Google Drive link in MODEL_ZOO.md)",
             None, "79.55 (80.62 w/ SegFix)"),
    ZooEntry("segfix_hrnet48", "segfix_hrnet (hrnet48)", "segfix_hrnet_hrnet48_segfix_loss_iter80000_1_latest.pth",
             f"{_RELEASES}/segfix.pretrained/segfix_hrnet_hrnet48_segfix_loss_iter80000_1_latest.pth",
             "— (refinement; see the \"w/ SegFix\" scores)"),
    ZooEntry("segfix_hrnet2x20", "segfix_hrnet (hrnet2x20)", "segfix_hrnet_hrnext20_segfix_loss_1_latest.pth",
             f"{_RELEASES}/segfix.pretrained/segfix_hrnet_hrnext20_segfix_loss_1_latest.pth",
             "— (refinement; see the \"w/ SegFix\" scores)"),
)
