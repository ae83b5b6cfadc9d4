"""Where ocseg's Hydra configuration lives, and composing it from Python.

The tree is the repository's top-level ``conf/``; the package reaches it as ``ocseg/conf`` (a
link in a source checkout, package data in an installed wheel), so every entry point, the
console scripts and :func:`ocseg.build_model` find it the same way from any working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig

from ocseg.errors import OcsegError

__all__ = ["config_dir", "compose", "options"]


def config_dir() -> Path:
    """The folder holding ``train.yaml``, ``eval.yaml``, … and the config groups."""
    path = Path(__file__).resolve().parent / "conf"
    if not (path / "train.yaml").is_file():
        raise OcsegError(f"ocseg's configuration was not found at '{path}'; reinstall ocseg "
                         "(pip install ocseg, or pip install -e . in a checkout)")
    return path


def options(group: str) -> list[str]:
    """The options of a config group (``model`` → ``["hrnet48", "hrnet48_ocr", …]``)."""
    folder = config_dir() / group
    return sorted(p.stem for p in folder.glob("*.yaml"))


def compose(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``<config_name>.yaml`` with ``overrides`` as the command line would, without
    running an app. Works inside a running Hydra app too (its global state is put back)."""
    from ocseg.compat import compose_apart

    return compose_apart(str(config_dir()), config_name, overrides)
