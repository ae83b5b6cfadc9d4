"""Check, before a pipeline starts, every input file its pending stages will read.

A leaderboard reproduction runs for days; a missing ImageNet file or dataset folder should stop
it at the start with one message, not when stage 4 begins. Each pending training stage's
configuration is composed as ``train.py`` would compose it (no torch needed) to read its
``backbone.pretrained``, ``init_from`` and ``dataset.root``; the other tools' file arguments
(``ckpt_path=``, ``offsets=``, …) are checked directly. Files inside the pipeline's own runs
folder are made by earlier stages and are not checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ocseg.errors import OcsegError
from ocseg.reproduce.stages import Step

__all__ = ["check_inputs"]

_FILE_ARGS = ("ckpt_path", "init_from", "offsets", "input")


def _made_here(path: Path, runs: Path) -> bool:
    try:
        path.resolve().relative_to(runs.resolve())
        return True
    except ValueError:
        return False


def _values(args: Sequence[str]) -> dict[str, str]:
    return dict(a.split("=", 1) for a in args if "=" in a and not a.startswith(("~", "+")))


def check_inputs(steps: Sequence[Step], runs: str | Path) -> None:
    """Raise one :class:`OcsegError` listing every missing input of the pending ``steps``."""
    from ocseg.config import compose

    runs = Path(runs)
    missing: list[str] = []

    def need(path, what: str) -> None:
        if path and not _made_here(Path(path), runs) and not Path(path).exists():
            missing.append(f"{what}: '{path}'")

    for step in steps:
        if step.state == "done":
            continue
        name = step.stage.name
        values = _values(step.args)
        for key in _FILE_ARGS:
            if key in values and step.stage.tool != "train":
                need(values[key], f"{name} {key}")
        if step.stage.tool == "submission":
            need(values.get("--images"), f"{name} test images")
        if step.stage.tool != "train":
            continue
        cfg = compose("train", [a for a in step.args if not a.startswith("hydra.")])
        need(cfg.backbone.get("pretrained"), f"{name} ImageNet file (backbone.pretrained; "
                                             "docs/zoo.md, ImageNet weights)")
        need(cfg.get("init_from"), f"{name} init_from")
        need(cfg.dataset.get("root"), f"{name} dataset.root (dataset={cfg.dataset.name})")
    if missing:
        raise OcsegError("the pipeline cannot start, these inputs are missing: " + "; ".join(missing)
                         + ". Set DATA= (the folder holding cityscapes/ and mapillary/), "
                           "PRETRAINED= (paths.pretrained_dir), or the file variables")
