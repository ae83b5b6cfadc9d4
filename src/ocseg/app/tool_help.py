"""``--help`` of the command-line tools, written without Hydra's help machinery.

Hydra builds its help's group list by composing a fresh copy of the config repository for every
group and sub-group (about 2 s for ocseg's ~30 groups on the build machine, more than importing
torch). The text is the same here: the template of ``conf/hydra/default.yaml`` filled with the
tool's ``hydra.help`` header and footer and the groups and options found in ``conf/`` (every folder
that holds ``.yaml`` files, Hydra's own ``hydra/`` groups left out, sorted as Hydra sorts them).
``tests/test_package.py`` checks that it equals Hydra's ``--help`` for every tool.
"""

from __future__ import annotations

import string
from pathlib import Path

from omegaconf import OmegaConf

from ocseg.config import config_dir

__all__ = ["config_groups", "help_text"]


def config_groups(root: Path) -> str:
    """``group: option, option`` lines for every config group under ``root`` (Hydra's format)."""
    lines = []
    for folder in (p for p in root.rglob("*") if p.is_dir()):
        group = folder.relative_to(root).as_posix()
        if group == "hydra" or group.startswith("hydra/"):
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if options:
            lines.append((group, f"{group}: {', '.join(options)}\n"))
    return "".join(line for _, line in sorted(lines))


def help_text(config_name: str) -> str:
    """What ``ocseg-<tool> --help`` prints for the primary config ``conf/<config_name>.yaml``."""
    root = config_dir()
    primary = OmegaConf.load(root / f"{config_name}.yaml")
    help_cfg = OmegaConf.merge(OmegaConf.load(root / "hydra" / "default.yaml").help,
                               OmegaConf.select(primary, "hydra.help", default={}))
    help_cfg.app_name = OmegaConf.select(primary, "hydra.help.app_name", default=config_name)
    resolved = OmegaConf.to_container(OmegaConf.create({"hydra": {"help": help_cfg}}), resolve=True)
    template = string.Template(resolved["hydra"]["help"]["template"])
    return template.safe_substitute(APP_CONFIG_GROUPS=config_groups(root))
