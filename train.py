"""Train a segmentation or SegFix model: ``python train.py [group=option ...] [key=value ...]``."""

import hydra
from omegaconf import DictConfig

from ocseg.cli import run_task
from ocseg.tasks.train import train


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_task(train, cfg)


if __name__ == "__main__":
    main()
