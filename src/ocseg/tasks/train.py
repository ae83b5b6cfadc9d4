"""``train.py``: fit a model, validate the final weights, log the table, write ``metrics.json``.

``ckpt_path=`` either resumes an ocseg (Lightning) checkpoint at its saved step, or — for an
original openseg ``.pth`` — initialises the network from it (strictly) and trains from step 0;
``ckpt_path=last`` resumes the newest valid checkpoint of this run or of an earlier run of the same
command (:mod:`ocseg.lightning.resume`). A SIGTERM saves ``last.ckpt`` and exits with code 143.
``init_from=`` starts a new stage from a previous stage's checkpoint (either kind): every tensor
that fits is copied, the rest (a classifier of another class count) keeps its initialisation.
"""

from __future__ import annotations

import signal
from pathlib import Path

import lightning.pytorch as pl
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationToMissingValueError, MissingMandatoryValue

from ocseg.checkpoints import checkpoint_kind, load_checkpoint
from ocseg.checkpoints.stage_init import init_from_checkpoint
from ocseg.errors import OcsegError
from ocseg.io.atomic import write_json
from ocseg.io.safe_load import trusted_files
from ocseg.io.status import status_logger
from ocseg.lightning.quiet import lightning_info_silenced
from ocseg.lightning.resume import Resume, resolve_ckpt_path
from ocseg.lightning.training_report import TrainingReport
from ocseg.metrics.scores import Scores, metrics_from_logged
from ocseg.metrics.table import scores_text

__all__ = ["train", "train_and_score", "build_module", "build_trainer", "start_warnings"]

log = status_logger(__name__)


def _embedded(choices) -> bool:
    """True when the dataset brought its CPU schedule (conf/embedded/<dataset>.yaml). Hydra records
    the `optional embedded: ${dataset}` choice whether or not that file exists."""
    from ocseg.config import options

    return choices.get("embedded") in options("embedded")


def _recipe_notice(cfg: DictConfig) -> str | None:
    """When a run has no recipe: no experiment= and no embedded CPU schedule."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    choices = HydraConfig.get().runtime.choices
    if choices.get("experiment") is not None or _embedded(choices):
        return None
    return (f"no experiment= given: dataset={cfg.dataset.name} trains with the generic defaults "
            f"(schedule.lr={cfg.schedule.lr}, schedule.max_steps={cfg.schedule.max_steps}, "
            f"data.global_batch_size={cfg.data.global_batch_size}, loss={choices.get('loss')} without "
            "class weights); the model-zoo recipes are experiment=<dataset>_<model>… (docs/zoo.md)")


def _init_from(cfg: DictConfig) -> str | None:
    """``cfg.init_from``; a stage recipe that continues a previous stage leaves it missing
    (``previous_stage: ???``) until the user names that stage's checkpoint."""
    try:
        return cfg.get("init_from")
    except (MissingMandatoryValue, InterpolationToMissingValueError):
        raise OcsegError("this recipe continues a previous training stage: pass init_from=<that "
                         "stage's checkpoints/last.ckpt> (docs/zoo.md, Stage chaining)") from None


def _scratch_warning(cfg: DictConfig) -> str | None:
    """When a dataset of real images trains from random weights without being asked to: no
    ImageNet file (backbone.pretrained), no checkpoint, and backbone.pretrained=null not given on
    the command line. The embedded generated dataset (an `embedded` schedule) trains from scratch
    by design."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or cfg.get("backbone") is None:
        return None
    hydra_cfg = HydraConfig.get()
    if _embedded(hydra_cfg.runtime.choices):
        return None
    if cfg.backbone.get("pretrained") or _init_from(cfg) or cfg.get("ckpt_path"):
        return None
    if any(o.lstrip("+~").startswith("backbone.pretrained=") for o in hydra_cfg.overrides.task):
        return None
    return (f"dataset={cfg.dataset.name} trains model={cfg.model.name} from random weights: "
            "backbone.pretrained is null. The model-zoo recipes load the original's ImageNet file "
            "from paths.pretrained_dir (docs/zoo.md); pass backbone.pretrained=null to train "
            "from scratch on purpose")


def start_warnings(cfg: DictConfig) -> list[str]:
    """What :func:`train` warns about once before it starts (empty: nothing to say): a run
    without a recipe, a dataset of real images trained from random weights by accident."""
    return [m for m in (_recipe_notice(cfg), _scratch_warning(cfg)) if m]


def _resume(cfg: DictConfig) -> Resume | None:
    """The checkpoint ``cfg.ckpt_path`` names (``last``: found among this command's runs)."""
    from hydra.core.hydra_config import HydraConfig

    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return resolve_ckpt_path(cfg.get("ckpt_path"), cfg.paths.output_dir,
                             Path(cfg.paths.log_dir) / cfg.task_name / "runs", overrides,
                             trust=cfg.get("trust_checkpoint", False))


def _initialise(cfg: DictConfig, module, resume: Resume | None) -> str | None:
    """Apply ``ckpt_path`` / ``init_from`` to the module's network; returns the Lightning
    checkpoint to resume from (None: a fresh start at step 0)."""
    init_from = _init_from(cfg)
    if resume is not None:
        if checkpoint_kind(resume.checkpoint) == "lightning":
            if init_from:
                log.info("resuming %s: init_from=%s is not applied (the resumed weights replace it)",
                         resume.path, init_from)
            return str(resume.path)
        if init_from:
            raise OcsegError(f"ckpt_path={resume.path} (an original .pth) and init_from={init_from} both "
                             "initialise the network; give only one (init_from= loads non-strictly)")
        load_checkpoint(module.net, resume.path, strict=cfg.get("ckpt_strict", True),
                        obj=resume.checkpoint)
    elif init_from:
        init_from_checkpoint(module.net, init_from, trust=cfg.get("trust_checkpoint", False))
    return None


def build_module(cfg: DictConfig):
    """The LightningModule of ``cfg`` (network, loss, metric, optimizer all from config)."""
    module = instantiate(cfg.module, _convert_="object")
    # stored in checkpoints (plain data) so eval can rebuild the model; set after instantiate,
    # which would otherwise build every `_target_` inside it
    module.run_config = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    return module


def build_trainer(cfg: DictConfig, final_validation: bool = False) -> pl.Trainer:
    """The trainer of ``cfg``; ``final_validation`` gives a plain one (no loggers, no
    checkpointing, the same progress bar, Lightning's greeting not repeated) for scoring the
    final weights without touching the training logs."""
    if final_validation:
        bar = (cfg.get("callbacks") or {}).get("progress_bar")
        with lightning_info_silenced():
            return instantiate(cfg.trainer, callbacks=[instantiate(bar)] if bar else [],
                               logger=False, enable_checkpointing=False)
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c is not None]
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    if not loggers:  # the LR monitor writes to loggers and refuses to run without one
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def _model_line(cfg: DictConfig, module) -> None:
    """One line about the network (Lightning's model summary is off: its FLOPs column needs an
    example input and was all zeros)."""
    params = list(module.net.parameters())
    total = sum(p.numel() for p in params)
    trained = sum(p.numel() for p in params if p.requires_grad)
    log.info("model=%s: %.2f M parameters (%.2f M trained)", cfg.model.get("name", "?"),
             total / 1e6, trained / 1e6)


def _steps_done(trainer: pl.Trainer, module) -> int:
    """The optimizer steps the weights have seen; 0 is an error (no metrics for untrained
    weights), fewer than the trainer's ``max_steps`` a warning."""
    done, wanted = int(module.trained_steps), int(trainer.max_steps)
    if done == 0:
        raise OcsegError("training stopped after 0 optimizer steps, so nothing is scored and no "
                         "metrics.json is written; check the training split and data.global_batch_size")
    if 0 < wanted and done < wanted:
        log.warning("training stopped after %d of schedule.max_steps=%d steps", done, wanted)
    return done


def _final_scores(cfg: DictConfig, trainer: pl.Trainer, module, datamodule) -> tuple[bool, dict]:
    """(rank zero?, the validation values of the final weights): those of the validation that
    ran at the last step when there was one (``schedule.val_every`` divides ``max_steps``),
    else a fresh validation."""
    logged = {k: v for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    if logged and getattr(module, "validated_at_step", None) == int(module.trained_steps):
        return trainer.is_global_zero, logged
    scorer = build_trainer(cfg, final_validation=True)
    with lightning_info_silenced():
        results = scorer.validate(module, datamodule=datamodule, verbose=False)
    return scorer.is_global_zero, (results[0] if results else {})


def train(cfg: DictConfig) -> dict:
    """Train ``cfg`` and return the final validation metrics (also written to metrics.json).

    ``trust_checkpoint`` applies to every PyTorch file the run reads: ``ckpt_path``, ``init_from``
    and the backbone's ImageNet file (``backbone.pretrained``, read while the network is built),
    through one :func:`~ocseg.io.safe_load.trusted_files` block."""
    with trusted_files(bool(cfg.get("trust_checkpoint", False))):
        return _train(cfg)


def _train(cfg: DictConfig) -> dict:
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    _init_from(cfg)   # a stage recipe without its previous stage stops here, before any work
    for message in start_warnings(cfg):
        log.warning(message)
    datamodule = instantiate(cfg.data)
    module = build_module(cfg)
    resume = _initialise(cfg, module, _resume(cfg))
    trainer = build_trainer(cfg)
    datamodule.set_world_size(trainer.world_size)
    _model_line(cfg, module)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    except SIGTERMException:  # last.ckpt is saved (LastCheckpoint); exit as killed by SIGTERM
        raise SystemExit(128 + signal.SIGTERM) from None
    _steps_done(trainer, module)
    rank_zero, results = _final_scores(cfg, trainer, module, datamodule)
    metrics = {}
    if rank_zero and results:
        metrics = metrics_from_logged(results, list(cfg.dataset.class_names), prefix="val/")
        metrics["step"] = int(module.trained_steps)
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") if trainer.checkpoint_callback else ""
        metrics["best_checkpoint"] = best or None
        out = Path(cfg.paths.output_dir)
        write_json(out / "metrics.json", metrics)
        if "per_class_iou" in metrics:
            log.info("\n%s", scores_text(Scores.from_json(metrics),
                                          f"val scores after {metrics['step']} steps"))
        log.info("metrics written to %s", out / "metrics.json")
        for callback in trainer.callbacks:
            if isinstance(callback, TrainingReport):
                callback.write(trainer, metrics)
    return metrics


def train_and_score(cfg: DictConfig) -> float | None:
    """:func:`train`, returning the task's monitored score (``val/mIoU`` → ``mIoU``) for sweepers
    that optimise it (Hydra's Optuna sweeper); the command-line tool runs this."""
    metrics = train(cfg)
    value = metrics.get(str(cfg.task.monitor).split("/", 1)[-1])
    return None if value is None else float(value)
