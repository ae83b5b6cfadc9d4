"""``train.py``: fit a model, validate the final weights, print the table, write ``metrics.json``.

``ckpt_path=`` either resumes an ocseg (Lightning) checkpoint at its saved step, or — for an
original openseg ``.pth`` — initialises the network from it and trains from step 0.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ocseg.checkpoints import checkpoint_kind, load_checkpoint, read_checkpoint
from ocseg.report import print_scores, scores_to_metrics, write_metrics

__all__ = ["train", "build_module", "build_trainer"]


def build_module(cfg: DictConfig):
    """The LightningModule of ``cfg`` (network, loss, metric, optimizer all from config)."""
    config = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    return instantiate(cfg.module, run_config=config, _convert_="object")


def build_trainer(cfg: DictConfig) -> pl.Trainer:
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def train(cfg: DictConfig) -> dict:
    """Train ``cfg`` and return the final validation metrics (also written to metrics.json)."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    module = build_module(cfg)
    resume = None
    if cfg.get("ckpt_path"):
        ckpt = read_checkpoint(cfg.ckpt_path)
        if checkpoint_kind(ckpt) == "lightning":
            resume = str(cfg.ckpt_path)
        else:
            load_checkpoint(module.net, cfg.ckpt_path, strict=cfg.get("ckpt_strict", True))
    trainer = build_trainer(cfg)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    results = trainer.validate(module, datamodule=datamodule, verbose=False)
    metrics = {}
    if trainer.is_global_zero and results:
        metrics = scores_to_metrics(results[0], list(cfg.dataset.class_names), prefix="val/") \
            if "val/mIoU" in results[0] else {k.split("/", 1)[-1]: v for k, v in results[0].items()}
        metrics["step"] = int(trainer.global_step)
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") if trainer.checkpoint_callback else ""
        metrics["best_checkpoint"] = best or None
        out = Path(cfg.paths.output_dir)
        write_metrics(out / "metrics.json", metrics)
        if "per_class_iou" in metrics:
            print_scores(metrics, title=f"val scores after {trainer.global_step} steps")
        print(f"metrics written to {out / 'metrics.json'}", flush=True)
    return metrics
