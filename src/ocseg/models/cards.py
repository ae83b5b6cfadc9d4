"""One card per ocseg model: everything about ``model=<name>`` except its architecture.

A model is data plus its module: ``conf/model/<name>.yaml`` composes the architecture (backbone
+ head) and picks the input normalisation and the task; the card says what the model is in the
original (network name, backbone, checkpoint key layout), lists the weights the original released
with their published scores, and marks test fixtures, which user-facing lists leave out. What the
YAML already says the card reads from it instead of repeating it (:attr:`ModelCard.normalize`,
:attr:`~ModelCard.task`, :attr:`~ModelCard.outputs`, :attr:`~ModelCard.test_backbone`), so a new
model is one YAML file and one card entry, and the model tests pick it up unchanged. The model
list, the original-layout table, the model tables of docs/models.md and README
(``bench/models.py --docs``), the ``zoo:<experiment>`` names
(:mod:`ocseg.checkpoints.zoo`) and the model tests are views of :data:`CARDS`.

Released files and scores: the original's ``MODEL_ZOO.md`` (branch ``master``; line numbers in
the comments). Released files are InPlace-ABN-era checkpoints, which
:func:`ocseg.checkpoints.load_checkpoint` adapts the network to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf

from ocseg import config
from ocseg.errors import ArgumentError, ArgumentTypeError, OcsegError
from ocseg.models import layouts
from ocseg.models.layouts import Layout

__all__ = ["Score", "Weights", "ModelCard", "CARDS", "TASK_OUTPUTS", "TEST_BACKBONES", "card",
           "model_choices", "model_names", "original_layouts", "models_with_layout"]

_RELEASES = "https://github.com/hsfzxjy/models.storage/releases/download"
_CITYSCAPES = f"{_RELEASES}/openseg.pytorch.cityscapes"
_SEGFIX = f"{_RELEASES}/segfix.pretrained"


@dataclass(frozen=True)
class Score:
    """A published mIoU (%) on ``dataset``'s ``split``, with the original's test protocol."""

    miou: float
    dataset: str                  # ocseg ``dataset=``
    split: str                    # val | test
    test: str | None = "ss"       # ss | flip | ms+flip; None: not stated
    segfix: bool = False          # after SegFix refinement


@dataclass(frozen=True)
class Weights:
    """A training result of the original: its released file (None: not released), its scores
    and the ``conf/experiment/`` recipe that reproduces it (``zoo:<experiment>`` names the file)."""

    file: str | None
    url: str | None
    dataset: str                  # trained on (ocseg ``dataset=``)
    split: str = "train"          # trained on this split
    scores: tuple[Score, ...] = ()
    note: str = ""
    experiment: str | None = None

    @property
    def downloadable(self) -> bool:
        """A file with a direct link (not a Google Drive page)."""
        return bool(self.file and self.url and self.url.endswith("/" + self.file))


#: The outputs a network of each task returns; ``aux`` only when the head has an auxiliary
#: branch (its ``aux`` node is not null).
TASK_OUTPUTS: dict[str, tuple[str, ...]] = {
    "segmentation": ("out", "aux"), "segfix": ("mask", "direction"), "segfix_instance": ("mask", "direction")}

#: The small backbone of each backbone family (its ``_target_``) that tests run a head on.
TEST_BACKBONES: dict[str, str] = {
    "ocseg.models.backbones.hrnet.HRNet": "hrnet_tiny",
    "ocseg.models.backbones.resnet.DeepBaseResNet": "r18",
}


def _load(group: str, option: str) -> Any:
    path = config.config_dir() / group / f"{option}.yaml"
    if not path.is_file():
        raise OcsegError(f"conf/{group}/{option}.yaml not found; a model card needs its config file")
    return OmegaConf.load(path)


def model_choices(name: str) -> dict[str, str]:
    """The config-group options ``conf/model/<name>.yaml`` picks in its defaults list
    (``{"backbone": "hrnet48", "normalize": "imagenet_bgr", "head": "ocr", "task": "segmentation"}``)."""
    choices = {}
    for entry in _load("model", name).get("defaults") or []:
        if not isinstance(entry, str):
            (key, value), = entry.items()
            choices[str(key).split("@")[0].strip("/")] = str(value)
    return choices


@dataclass(frozen=True)
class ModelCard:
    """What ``model=<name>`` is beyond its architecture. The properties read
    ``conf/model/<name>.yaml`` (and the files it picks), so they never disagree with it."""

    name: str                     # ``model=`` (the file name of conf/model/<name>.yaml)
    description: str
    original: str | None = None   # the original's ``network.model_name``; None: ocseg's own
    backbone: str | None = None   # the original's backbone name
    layout: Layout | None = None  # how the original names the weights
    weights: tuple[Weights, ...] = ()
    test_only: bool = False       # a test fixture: left out of user-facing lists

    @property
    def released(self) -> tuple[Weights, ...]:
        """The weights with a file to download."""
        return tuple(w for w in self.weights if w.url)

    @property
    def normalize(self) -> str:
        """The ``conf/normalize/`` option the model's YAML picks."""
        return model_choices(self.name)["normalize"]

    @property
    def task(self) -> str:
        """The ``conf/task/`` option the model's YAML picks: segmentation | segfix."""
        return model_choices(self.name)["task"]

    @property
    def outputs(self) -> tuple[str, ...]:
        """The keys of the network's output dict (:data:`TASK_OUTPUTS`; ``aux`` only when the
        head, as the model's YAML patches it, has an auxiliary branch)."""
        head = _load("head", model_choices(self.name)["head"])
        head = OmegaConf.merge(head, _load("model", self.name).get("head") or {})
        return tuple(k for k in TASK_OUTPUTS[self.task] if k != "aux" or head.get("aux") is not None)

    @property
    def test_backbone(self) -> str:
        """The ``backbone=`` option tests run this model's head on: the small one of its
        backbone's family (:data:`TEST_BACKBONES`)."""
        family = str(_load("backbone", model_choices(self.name)["backbone"])["_target_"])
        if family not in TEST_BACKBONES:
            raise OcsegError(f"model {self.name}: backbone family {family} has no small test backbone; "
                             "add one to ocseg.models.cards.TEST_BACKBONES")
        return TEST_BACKBONES[family]


def _cityscapes(file: str, miou: float, segfix: float, experiment: str) -> Weights:
    return Weights(file, f"{_CITYSCAPES}/{file}", "cityscapes", scores=(
        Score(miou, "cityscapes", "val"), Score(segfix, "cityscapes", "val", segfix=True)),
        experiment=experiment)


_R101 = "deepbase_resnet101_dilated8"
_HRNET_W48_OCR_WEIGHTS = (
    _cityscapes("hrnet_w48_ocr_1_latest.pth", 81.09, 81.73, "cityscapes_hrnet48_ocr"),  # :17
    Weights("hrnet_w48_ocr_hrnet48_2_latest.pth",                                     # :43
            f"{_RELEASES}/openseg.pytorch.pascal_context/hrnet_w48_ocr_hrnet48_2_latest.pth",
            "pascal_context", scores=(Score(55.11, "pascal_context", "val"),),
            experiment="pascal_context_hrnet48_ocr"),
    Weights("hrnet_w48_ocr_1_latest.pth",                                             # :53
            f"{_RELEASES}/opeseg.pytorch.lip/hrnet_w48_ocr_1_latest.pth",            # sic: "opeseg"
            "lip", scores=(Score(56.72, "lip", "val", test="flip"),), experiment="lip_hrnet48_ocr"),
    Weights("hrnet_w48_ocr_hrnet48_ohem_2_latest.pth",                                # :63-64
            f"{_RELEASES}/openseg.pytorch.coco_stuff/hrnet_w48_ocr_hrnet48_ohem_2_latest.pth",
            "coco_stuff", scores=(Score(39.61, "coco_stuff", "val"),
                                  Score(40.20, "coco_stuff", "val", test="ms+flip")),
            experiment="coco_stuff_hrnet48_ocr"),
    Weights("hrnet_w48_ocr_hrnet48_ohem_1_latest.pth",                                # :74-75
            f"{_RELEASES}/openseg.pytorch.ade20k/hrnet_w48_ocr_hrnet48_ohem_1_latest.pth",
            "ade20k", scores=(Score(44.62, "ade20k", "val"), Score(46.19, "ade20k", "val", test="ms+flip")),
            experiment="ade20k_hrnet48_ocr"),
)
_OCR_B_MAPILLARY = "hrnet_w48_ocr_b_mapillary_bs16_500000_1024x1024_lr0.01_1_latest.pth"
_OCR_B_CITYSCAPES = ("hrnet_w48_ocr_b_hrnet48_8_20000_trainval_coarse_trainval_mapillary_pretrain_"
                     "freeze_bn_1_latest.pth")

_CARDS = (
    ModelCard("hrnet48", "HRNet-W48 + FCN", original="hrnet_w48", backbone="hrnet48",
              layout=layouts.HRNET_W48,
              weights=(Weights(None, None, "cityscapes", scores=(Score(80.6, "cityscapes", "val"),),  # :7
                               note="the baseline with the original's settings: around 80.6"),)),
    ModelCard("hrnet48_ocr", "HRNet-W48 + OCR", original="hrnet_w48_ocr",
              backbone="hrnet48", layout=layouts.HRNET_W48_OCR, weights=_HRNET_W48_OCR_WEIGHTS),
    ModelCard("hrnet48_ocr_b", "HRNet-W48 + OCR-B (256 channels)",
              original="hrnet_w48_ocr_b", backbone="hrnet48", layout=layouts.HRNET_W48_OCR,
              weights=(
                  Weights(_OCR_B_MAPILLARY, f"{_CITYSCAPES}/{_OCR_B_MAPILLARY}", "mapillary",     # :23
                          scores=(Score(50.8, "mapillary", "val", test=None),),
                          experiment="mapillary_hrnet48_ocr_b"),
                  Weights(_OCR_B_CITYSCAPES, f"{_CITYSCAPES}/{_OCR_B_CITYSCAPES}", "cityscapes",  # :27-28
                          split="trainval+coarse", scores=(Score(84.2, "cityscapes", "test", test=None),),
                          note="Mapillary pretraining, then train+val and coarse; 'around 84.2' "
                               "on the test server",
                          experiment="cityscapes_hrnet48_ocr_b_mapillary_coarse_trainval"))),
    ModelCard("hrnet48_asp_ocr", "HRNet-W48 + ASP-OCR", original="hrnet_w48_asp_ocr",
              backbone="hrnet48", layout=layouts.HRNET_W48_ASP_OCR),
    ModelCard("r101_fcn", "ResNet-101 + FCN", original="fcnet", backbone=_R101,
              layout=layouts.FCNET),
    ModelCard("r101_ocr", "ResNet-101 + OCR", original="spatial_ocrnet", backbone=_R101,
              layout=layouts.SPATIAL_OCRNET,
              weights=(_cityscapes(f"spatial_ocrnet_{_R101}_1_latest.pth", 79.63, 80.68,          # :15
                                   "cityscapes_r101_ocr"),)),
    ModelCard("r101_asp_ocr", "ResNet-101 + ASP-OCR", original="spatial_asp_ocrnet",
              backbone=_R101, layout=layouts.SPATIAL_ASP_OCRNET,
              weights=(_cityscapes(f"spatial_asp_ocrnet_{_R101}_1_latest.pth", 79.89, 80.69,      # :16
                                   "cityscapes_r101_asp_ocr"),)),
    ModelCard("r101_base_oc", "ResNet-101 + Base-OC", original="base_ocnet", backbone=_R101,
              layout=layouts.BASE_OCNET,
              weights=(_cityscapes(f"base_ocnet_{_R101}_1_latest.pth", 79.49, 80.55,              # :13
                                   "cityscapes_r101_base_oc"),)),
    ModelCard("r101_asp_oc", "ResNet-101 + ASP-OC", original="asp_ocnet", backbone=_R101,
              layout=layouts.ASP_OCNET),
    ModelCard("r101_isa", "ResNet-101 + ISA", original="isanet", backbone=_R101,
              layout=layouts.ISANET,
              weights=(Weights(None, "https://drive.google.com/open?id=1Sf9YFjo9dpirojzLev8CfHAc99U6cBwH",
                               "cityscapes", scores=(Score(79.55, "cityscapes", "val"),             # :14
                                                     Score(80.62, "cityscapes", "val", segfix=True)),
                               note="Google Drive link", experiment="cityscapes_r101_isa"),)),
    ModelCard("segfix_hrnet48", "SegFix on HRNet-W48",
              original="segfix_hrnet", backbone="hrnet48", layout=layouts.SEGFIX_HRNET,
              weights=(Weights("segfix_hrnet_hrnet48_segfix_loss_iter80000_1_latest.pth",          # :183
                               f"{_SEGFIX}/segfix_hrnet_hrnet48_segfix_loss_iter80000_1_latest.pth",
                               "cityscapes", experiment="segfix_cityscapes_hrnet48"),)),
    ModelCard("segfix_hrnet2x20", "SegFix on HRNet2x-W20",
              original="segfix_hrnet", backbone="hrnet2x20", layout=layouts.SEGFIX_HRNET,
              weights=(Weights("segfix_hrnet_hrnext20_segfix_loss_1_latest.pth",                   # :185
                               f"{_SEGFIX}/segfix_hrnet_hrnext20_segfix_loss_1_latest.pth", "cityscapes",
                               experiment="segfix_cityscapes_hrnet2x20"),
                       Weights("segfix_hrnet_hrnext20_segfix_loss_trainval_1_latest.pth",          # :186
                               f"{_SEGFIX}/segfix_hrnet_hrnext20_segfix_loss_trainval_1_latest.pth",
                               "cityscapes", split="trainval", experiment="segfix_cityscapes_hrnet2x20_trainval"),
                       Weights("segfix_hrnet_hrnext20_segfix_loss_inst_1_latest.pth",              # :217
                               f"{_SEGFIX}/segfix_hrnet_hrnext20_segfix_loss_inst_1_latest.pth",
                               "cityscapes", note="instance boundaries (task=segfix_instance)",
                               experiment="segfix_cityscapes_hrnet2x20_instance"))),
    ModelCard("hrnet18_small_ocr", "HRNet-W18-Small-v2 + a 128/64 OCR head: the embedded CPU default"),
    ModelCard("segfix_hrnet18_small", "SegFix on HRNet-W18-Small-v2: the CPU-sized SegFix of "
              "experiment=segfix_synthetic"),
    ModelCard("tiny_fcn", "hrnet_tiny + a 32-wide FCN: tests and smoke runs",
              test_only=True),
)

#: Every model, by ``model=`` name, in the docs' table order (the original zoo first).
CARDS: dict[str, ModelCard] = {c.name: c for c in _CARDS}


def model_names(include_test_only: bool = False) -> list[str]:
    """The model names users choose from (test fixtures too with ``include_test_only``)."""
    return [name for name, c in CARDS.items() if include_test_only or not c.test_only]


def card(name: str) -> ModelCard:
    """The card of ``model=<name>``; an unknown name is one error listing the models."""
    if not isinstance(name, str):
        raise ArgumentTypeError(f"model name must be a str, got {type(name).__name__} {name!r}")
    if name not in CARDS:
        raise ArgumentError(f"unknown model '{name}'; available: {', '.join(model_names())}")
    return CARDS[name]


def original_layouts() -> tuple[Layout, ...]:
    """Every original key layout ocseg reads, once each, in card order."""
    return tuple(dict.fromkeys(c.layout for c in CARDS.values() if c.layout is not None))


def models_with_layout(layout: Layout) -> list[str]:
    """The models whose checkpoints use ``layout`` (SegFix: one per backbone)."""
    return [name for name, c in CARDS.items() if c.layout == layout and not c.test_only]
