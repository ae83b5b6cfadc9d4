"""Command line of the dataset preparation (see :mod:`ocseg.data.prepare`).

``python -m ocseg.data.prepare ade20k raw_dir=~/downloads/ade out_dir=data/ade20k`` composes
``conf/prepare.yaml`` with ``dataset=ade20k`` and the given overrides, then calls the dataset's
``preparer``. ``out_dir`` defaults to ``dataset.root`` (``${paths.data_dir}/<name>``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig

from ocseg.errors import OcsegError

USAGE = ("usage: python -m ocseg.data.prepare <dataset> raw_dir=<download dir> "
         "[out_dir=<data dir>] [link=hardlink|copy|symlink] [key=value ...]")

CONF_DIR = Path(__file__).resolve().parents[4] / "conf"


def available_datasets() -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml"))


def compose_config(dataset: str, overrides: list[str]) -> DictConfig:
    """``conf/prepare.yaml`` with ``dataset=<dataset>`` and ``overrides``."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    if dataset not in available_datasets():
        raise OcsegError(f"unknown dataset '{dataset}'; use one of {available_datasets()}")
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose("prepare", overrides=[f"dataset={dataset}", *overrides])
    except HydraException as exc:
        raise OcsegError(f"bad arguments: {str(exc).splitlines()[0]}; {USAGE}") from None


def run(cfg: DictConfig):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    if OmegaConf.is_missing(cfg, "raw_dir"):
        raise OcsegError(f"raw_dir=<folder with the downloads> is required; {USAGE}")
    preparer = cfg.dataset.get("preparer")
    if preparer is None:
        raise OcsegError(f"dataset '{cfg.dataset.name}' needs no preparation; point "
                         "dataset.root at its folder")
    return instantiate(preparer)(raw_dir=Path(cfg.raw_dir).expanduser(),
                                 out_dir=Path(cfg.out_dir).expanduser(), link=cfg.link)


def main(argv: list[str] | None = None) -> None:
    from ocseg.cli import run_task

    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help") or "=" in args[0]:
        print(USAGE + f"\ndatasets: {', '.join(available_datasets())}")
        sys.exit(0 if args and args[0] in ("-h", "--help") else 2)

    def task(_: None):
        return run(compose_config(args[0], args[1:]))

    run_task(task, None)


if __name__ == "__main__":
    main()
