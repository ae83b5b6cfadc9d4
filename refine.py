"""Refine any model's label maps with SegFix offsets:
``python refine.py input=<label dir> offsets=<offset dir or .zip> output=<dir> [mode=instance]``."""

import hydra
from omegaconf import DictConfig

from ocseg.cli import run_task
from ocseg.tasks.refine import refine


@hydra.main(config_path="conf", config_name="refine", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_task(refine, cfg)


if __name__ == "__main__":
    main()
