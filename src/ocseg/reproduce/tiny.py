"""``REPRO_TINY=1``: the reproduction pipelines end to end in about a minute on a CPU.

The real pipelines need Cityscapes (fine, coarse, test) and Mapillary Vistas. The tiny run
builds both from the embedded generator's street scenes (:mod:`ocseg.data.synthetic_city`), in
the real layouts, so the very same commands read them:

- ``<data>/cityscapes/``: the generated train and val scenes, the val images again as an
  unlabelled ``test`` split, and the train scenes as ``train_extra`` with ``gtCoarse`` labels;
- ``<data>/mapillary/``: the same train and val scenes in the ``images/`` + ``labels/`` layout
  with their labels in Mapillary's 66 ids (65 classes + unlabelled), so stage 1 → 2 changes the
  class count as the real pipeline does.

and shrinks every stage the same way (:func:`tiny_overrides`): the smallest HRNet of the recipe's
own class, no ImageNet file, 32×32 crops, 2 images per step, 2 steps.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ocseg.errors import OcsegError
from ocseg.io.atomic import write_text

__all__ = ["SCENES", "SHRINK", "build_tiny_data", "tiny_overrides", "MAPILLARY_OF_CITYSCAPES"]

SCENES = dict(num_train=4, num_val=2, height=64, width=128, seed=0)
_MARKER = "ocseg_tiny_reproduction.json"

# Cityscapes labelId → Mapillary Vistas v1.2 id for the classes the generator paints
# (conf/dataset/mapillary.yaml `mapillary_names`); everything else is Mapillary's 65, unlabelled
MAPILLARY_OF_CITYSCAPES = {
    1: 64,    # ego vehicle → Ego Vehicle
    7: 13,    # road → Road
    8: 15,    # sidewalk → Sidewalk
    11: 17,   # building → Building
    17: 45,   # pole → Pole
    20: 50,   # traffic sign → Traffic Sign (Front)
    21: 30,   # vegetation → Vegetation
    22: 29,   # terrain → Terrain
    23: 27,   # sky → Sky
    24: 19,   # person → Person
    26: 55,   # car → Car
}
_UNLABELLED = 65


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _cityscapes(scenes: Path, out: Path) -> None:
    for split in ("train", "val"):
        for kind in ("leftImg8bit", "gtFine"):
            shutil.copytree(scenes / kind / split, out / kind / split)
    for image in (scenes / "leftImg8bit" / "val").rglob("*_leftImg8bit.png"):
        _copy(image, out / "leftImg8bit" / "test" / image.parent.name / image.name)
    for image in (scenes / "leftImg8bit" / "train").rglob("*_leftImg8bit.png"):
        city, stem = image.parent.name, image.name[: -len("_leftImg8bit.png")]
        _copy(image, out / "leftImg8bit" / "train_extra" / city / image.name)
        _copy(scenes / "gtFine" / "train" / city / f"{stem}_gtFine_labelIds.png",
              out / "gtCoarse" / "train_extra" / city / f"{stem}_gtCoarse_labelIds.png")


def _mapillary(scenes: Path, out: Path) -> None:
    import cv2

    table = np.full(256, _UNLABELLED, np.uint8)
    for cityscapes_id, mapillary_id in MAPILLARY_OF_CITYSCAPES.items():
        table[cityscapes_id] = mapillary_id
    for split in ("train", "val"):
        for image in sorted((scenes / "leftImg8bit" / split).rglob("*_leftImg8bit.png")):
            stem = image.name[: -len("_leftImg8bit.png")]
            _copy(image, out / "images" / split / f"{stem}.png")
            label = cv2.imread(str(scenes / "gtFine" / split / image.parent.name /
                                   f"{stem}_gtFine_labelIds.png"), cv2.IMREAD_UNCHANGED)
            (out / "labels" / split).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out / "labels" / split / f"{stem}.png"), table[label])


def build_tiny_data(data_dir: str | Path) -> Path:
    """Write ``<data_dir>/cityscapes`` and ``<data_dir>/mapillary`` (once; a second call with
    the tiny trees in place does nothing); returns ``data_dir``."""
    from ocseg.data.synthetic_city import ensure_generated

    data_dir = Path(data_dir)
    marker = data_dir / _MARKER
    if marker.is_file() and json.loads(marker.read_text()) == SCENES:
        return data_dir
    real = [data_dir / n for n in ("cityscapes", "mapillary") if (data_dir / n).exists()]
    if real and not marker.is_file():
        raise OcsegError(f"'{real[0]}' exists and was not made by REPRO_TINY; the tiny data is "
                         "written under <runs>/data unless DATA= names another folder: choose an "
                         "empty one")
    partial = data_dir / "tiny.partial"
    shutil.rmtree(partial, ignore_errors=True)
    scenes = ensure_generated(partial / "scenes", **SCENES)
    _cityscapes(scenes, partial / "cityscapes")
    _mapillary(scenes, partial / "mapillary")
    for name in ("cityscapes", "mapillary"):
        shutil.rmtree(data_dir / name, ignore_errors=True)
        (partial / name).rename(data_dir / name)
    shutil.rmtree(partial)
    write_text(marker, json.dumps(SCENES) + "\n")
    return data_dir


# the same shrink for every training stage (as tests/conftest.py RECIPE_TINY): the recipe's
# dataset, loss, model class and optimiser settings stay; sizes and the ImageNet file do not
# the sizes of every tiny training stage; the tests shrink each model-zoo recipe alike
# (tests/conftest.py RECIPE_TINY)
SHRINK = (
    "dataset.crop_size=[32,32]",
    "data.batch_size=2",
    "data.num_workers=0",
    "schedule.max_steps=2",
    "schedule.val_every=2",
    "+trainer.limit_val_batches=1",
    "trainer.enable_progress_bar=false",
    "~callbacks.progress_bar",
)
_TRAIN = ("backbone.pretrained=null", "backbone.variant=hrnet_tiny", *SHRINK)


def tiny_overrides(tool: str, dataset: str = "cityscapes") -> list[str]:
    """The shrink for one stage of ``tool`` (``train``, ``eval``, ``predict_offsets``,
    ``refine``) on ``dataset``."""
    if tool == "train":
        # Mapillary resizes every image's short side to 1024 first: keep the scenes' own size
        resize = [f"dataset.base_size={SCENES['height']}"] if dataset == "mapillary" else []
        return [*_TRAIN, *resize]
    if tool == "eval":
        return ["data.num_workers=0", "trainer.enable_progress_bar=false"]
    if tool == "predict_offsets":
        return ["data.num_workers=0", "progress=false", "predictor.crop_size=[32,32]"]
    if tool == "refine":
        return ["workers=1", "progress=false"]
    return []
