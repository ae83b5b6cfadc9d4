"""``ocseg-prepare``: run the ``dataset.preparer`` of ``conf/prepare.yaml`` on a download folder."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ocseg.errors import OcsegError, require_output_dir

__all__ = ["prepare"]


def prepare(cfg: DictConfig):
    """Convert ``cfg.raw_dir`` (the official downloads) into ``cfg.out_dir`` for ``cfg.dataset``."""
    from hydra.utils import instantiate

    from ocseg.config import options

    if cfg.get("dataset") is None:
        raise OcsegError(f"dataset=<name> is required; one of {', '.join(options('dataset'))}")
    if OmegaConf.is_missing(cfg, "raw_dir"):
        raise OcsegError("raw_dir=<folder with the downloads> is required, e.g. "
                         "ocseg-prepare dataset=cityscapes raw_dir=~/downloads/cityscapes")
    preparer = cfg.dataset.get("preparer")
    if preparer is None:
        raise OcsegError(f"dataset '{cfg.dataset.name}' needs no preparation; point "
                         "dataset.root at its folder")
    raw_dir, out_dir = Path(cfg.raw_dir).expanduser(), Path(cfg.out_dir).expanduser()
    if raw_dir.is_dir():  # (a missing one: the preparer names what it should hold)
        require_output_dir(out_dir, "out_dir=")  # before converting thousands of files
    return instantiate(preparer)(raw_dir=raw_dir, out_dir=out_dir, link=cfg.link)
