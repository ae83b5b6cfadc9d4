"""Predict SegFix offsets for a dataset split or an image folder:
``python predict_offsets.py ckpt_path=<segfix ckpt or .pth> [dataset=<name> split=val|test | input_dir=<dir>] output_dir=<dir>``."""

import hydra
from omegaconf import DictConfig

from ocseg.cli import run_task
from ocseg.tasks.predict_offsets import predict_offsets


@hydra.main(config_path="conf", config_name="predict_offsets", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_task(predict_offsets, cfg)


if __name__ == "__main__":
    main()
