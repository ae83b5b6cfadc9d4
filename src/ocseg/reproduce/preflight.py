"""Check, before a pipeline starts, every input file its pending stages will read.

A leaderboard reproduction runs for days; a missing ImageNet file or dataset folder should stop
it at the start with one short message, not when stage 4 begins. Each pending training stage's
configuration is composed as ``train.py`` would compose it (no torch needed) to read its
``backbone.pretrained``, ``init_from`` and ``dataset.root``; the other tools' file arguments
(``ckpt_path=``, ``offsets=``, …) are checked directly. Files inside the pipeline's own runs
folder are made by earlier stages and are not checked. :func:`missing_inputs` lists what is
missing per stage (the dry run prints it under each stage); :func:`check_inputs` stops a real run
with one line naming the first few paths (the dry run lists them all).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ocseg.errors import OcsegError
from ocseg.reproduce.stages import Step

__all__ = ["MissingInput", "missing_inputs", "check_inputs", "FIX"]

_FILE_ARGS = ("ckpt_path", "init_from", "offsets", "input")
#: what sets the pipeline's inputs (the Makefile's variables)
FIX = ("set DATA= (the folder holding cityscapes/ and mapillary/), PRETRAINED= (the ImageNet "
       "files' folder) or the file variables")
_SHOWN = 3   # paths named in the error line


@dataclass(frozen=True)
class MissingInput:
    """An input of ``stage`` that does not exist: ``what`` it is (the key that sets it) and its
    ``path``."""

    stage: str
    what: str
    path: str

    def __str__(self) -> str:
        return f"{self.what}: '{self.path}'"


def _made_here(path: Path, runs: Path) -> bool:
    try:
        path.resolve().relative_to(runs.resolve())
        return True
    except ValueError:
        return False


def _values(args: Sequence[str]) -> dict[str, str]:
    return dict(a.split("=", 1) for a in args if "=" in a and not a.startswith(("~", "+")))


def missing_inputs(steps: Sequence[Step], runs: str | Path) -> list[MissingInput]:
    """Every input of the pending ``steps`` that does not exist, in stage order."""
    from ocseg.config import compose

    runs = Path(runs)
    missing: list[MissingInput] = []

    def need(stage: str, path, what: str) -> None:
        if path and not _made_here(Path(path), runs) and not Path(path).exists():
            missing.append(MissingInput(stage, what, str(path)))

    for step in steps:
        if step.state == "done":
            continue
        name = step.stage.name
        values = _values(step.args)
        for key in _FILE_ARGS:
            if key in values and step.stage.tool != "train":
                need(name, values[key], key)
        if step.stage.tool == "submission":
            need(name, values.get("--images"), "test images")
        if step.stage.tool != "train":
            continue
        cfg = compose("train", [a for a in step.args if not a.startswith("hydra.")])
        need(name, cfg.backbone.get("pretrained"), "ImageNet file (backbone.pretrained; docs/zoo.md)")
        need(name, cfg.get("init_from"), "init_from")
        need(name, cfg.dataset.get("root"), f"dataset.root (dataset={cfg.dataset.name})")
    return missing


def check_inputs(steps: Sequence[Step], runs: str | Path) -> None:
    """Raise one short :class:`OcsegError` when inputs of the pending ``steps`` are missing: how
    many, the first distinct paths, and where the full list is (the dry run)."""
    missing = missing_inputs(steps, runs)
    if not missing:
        return
    paths = list(dict.fromkeys(m.path for m in missing))
    named = ", ".join(f"'{p}'" for p in paths[:_SHOWN])
    more = f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else ""
    raise OcsegError(f"the pipeline cannot start: {len(paths)} input(s) are missing ({named}{more}); "
                     f"DRY_RUN=1 lists them by stage. {FIX[0].upper()}{FIX[1:]}")
