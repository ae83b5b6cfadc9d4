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
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    backup = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=list(overrides))
    finally:
        restore_gh_from_backup(backup)
