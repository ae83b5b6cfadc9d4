"""Evaluate or predict with a checkpoint: ``python eval.py ckpt_path=<file> [dataset=…] [test=ss|ms|sliding] …``."""

import hydra
from omegaconf import DictConfig

from ocseg.cli import run_task
from ocseg.tasks.evaluate import evaluate


@hydra.main(config_path="conf", config_name="eval", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_task(evaluate, cfg)


if __name__ == "__main__":
    main()
