"""``eval.py``: turn a checkpoint into label files (original ids), colour images and scores.

Rebuilds the checkpoint's network (:func:`~ocseg.checkpoints.load_network`: an ocseg checkpoint
from its own config, which ``model=`` / ``dataset=`` must agree with; an original ``.pth`` from
``model=``), builds the split's dataset without augmentation, normalised as the network
expects, and the test procedure of ``test=ss|ms|sliding``, then runs :class:`EvaluationModule`
under a Lightning trainer (devices, DDP, progress bar). Labelled splits get ``metrics.json`` and a
per-class table; unlabelled ones (``split=test``, a folder of images) get predictions only.
With ``segfix.offsets=<dir>`` every prediction is SegFix-refined before it is written and scored
(:class:`~ocseg.segfix.refinement.chained.ChainedRefinement`); the unrefined scores are kept
for comparison under ``segfix.unrefined`` (docs/evaluation.md, "metrics.json").
"""

from __future__ import annotations

import json
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from ocseg.checkpoints import load_network
from ocseg.checkpoints.identity import ReadCheckpoint
from ocseg.data.dataset import SegmentationDataset
from ocseg.data.palette import resolve_palette
from ocseg.data.preflight import check_inputs
from ocseg.errors import OcsegError, require_output_dir
from ocseg.evaluation import EvaluationItems, EvaluationModule, PredictionWriter, output_names
from ocseg.io.status import status_logger
from ocseg.metrics.scores import Scores
from ocseg.metrics.table import scores_text
from ocseg.report.evaluation import EvaluationReport
from ocseg.segfix.refinement.chained import ChainedRefinement
from ocseg.segfix.refinement.gather import SEMANTIC_SCALE

__all__ = ["evaluate", "build_eval_dataset"]

log = status_logger(__name__)


def build_eval_dataset(cfg: DictConfig, split: str,
                       normalize: DictConfig | None = None) -> SegmentationDataset:
    """The dataset of ``split`` at full resolution: its ``<split>_set`` factory, no augmentation,
    images normalised by ``normalize`` (default: ``cfg.normalize``)."""
    factory_cfg = cfg.dataset.get(f"{split}_set")
    if factory_cfg is None:
        sets = sorted(k[:-4] for k in cfg.dataset if str(k).endswith("_set") and cfg.dataset[k])
        raise OcsegError(f"dataset={cfg.dataset.name} has no '{split}' split; use split= one of {sets}")
    if cfg.dataset.get("prepare") is not None:
        instantiate(cfg.dataset.prepare)()
    normalize = cfg.get("normalize") if normalize is None else normalize
    return instantiate(factory_cfg)(transform=None, target_transform=None,
                                    normalize=None if normalize is None else instantiate(normalize))


def _labelled(dataset: SegmentationDataset) -> bool:
    """True when every sample has ground truth, False when none has; a mix is an error."""
    missing = [s for s in dataset.samples if s.label is None]
    if missing and len(missing) < len(dataset.samples):
        raise OcsegError(
            f"{len(missing)} of {len(dataset.samples)} images have no ground-truth label (first: "
            f"'{missing[0].image}'); add the missing label files, or evaluate an unlabelled split"
        )
    return not missing and len(dataset.samples) > 0


def evaluate(cfg: DictConfig, checkpoint: ReadCheckpoint | None = None) -> dict:
    """Evaluate ``cfg.ckpt_path``; returns the metrics (empty for prediction-only runs).
    ``checkpoint``: the file as the command line's completion already read it."""
    if not cfg.get("ckpt_path"):
        raise OcsegError("eval needs a checkpoint: pass ckpt_path=<file> (an ocseg .ckpt or an "
                         "original openseg .pth)")
    require_output_dir(cfg.output_dir, "output_dir=")
    net, net_cfg, _ = load_network(cfg.ckpt_path, "segmentation", cfg,
                                   strict=cfg.get("ckpt_strict", True),
                                   trust=cfg.get("trust_checkpoint", False),
                                   content=checkpoint.content_for(cfg.ckpt_path) if checkpoint else None)
    split = str(cfg.split)
    dataset = build_eval_dataset(cfg, split, net_cfg.get("normalize"))
    if len(dataset) == 0:
        raise OcsegError(f"dataset={cfg.dataset.name} split={split} has no images")
    scoring = _labelled(dataset)
    # every image and label opens and sizes match before the first prediction is written
    check_inputs([s.image for s in dataset.samples],
                 [s.label for s in dataset.samples] if scoring else None)
    predictor = instantiate(cfg.test)
    out = Path(cfg.output_dir)
    # datasets without a colour table (ADE20K, PASCAL-Context, COCO-Stuff, LIP) get generated colours
    palette = resolve_palette(cfg.dataset.palette, int(cfg.dataset.num_classes))
    writer = PredictionWriter(out, dataset.label_map, palette,
                              save_color=cfg.save.color, save_overlay=cfg.save.overlay,
                              overlay_alpha=cfg.save.overlay_alpha)
    items = EvaluationItems(dataset, writer, output_names(dataset), resume=not cfg.overwrite,
                            with_labels=scoring)
    metrics_path = out / "metrics.json"
    metrics_path.unlink(missing_ok=True)  # never leave a previous run's scores beside new labels
    boundary = instantiate(cfg.boundary) if scoring and cfg.get("boundary") else None
    refine = _chained_segfix(cfg, items)
    extra = {
        "dataset": str(cfg.dataset.name), "split": split, "model": str(cfg.model.name),
        "checkpoint": str(cfg.ckpt_path),
        "config": OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False),
    }
    if refine is not None:
        extra["segfix"] = {"offsets": refine.location, "scale": refine.scale}
    report = None
    if cfg.get("report", True):
        report = EvaluationReport(
            out, [("checkpoint", cfg.ckpt_path), ("model", cfg.model.name), ("dataset", cfg.dataset.name),
                  ("split", split), ("test protocol", repr(predictor).partition("(")[2].rstrip(")")),
                  ("SegFix offsets", refine.location if refine else None), ("output", out)],
            list(cfg.dataset.class_names), palette, int(cfg.dataset.ignore_index), items.names,
            [str(s.image) for s in dataset.samples], [s.label and str(s.label) for s in dataset.samples],
            dataset.label_map, examples=int(cfg.get("report_images", 8)), color=bool(cfg.save.color))
    module = EvaluationModule(net, predictor, items, list(cfg.dataset.class_names),
                              ignore_index=int(cfg.dataset.ignore_index), batch_size=cfg.data.batch_size,
                              num_workers=cfg.data.num_workers, boundary=boundary,
                              metrics_path=metrics_path if scoring else None, metrics_extra=extra,
                              refine=refine, report=report,
                              report_keep=int(cfg.get("report_images", 8)))
    log.info("eval: %d images of dataset=%s split=%s with %s; %d to predict, %d already in %s "
             "(overwrite=true redoes them)%s%s", len(dataset), cfg.dataset.name, split, predictor,
             items.pending, len(dataset) - items.pending, writer.label_path("*").parent,
             "" if scoring else "; no ground truth: predictions only",
             f"; SegFix-refined with the offsets in {refine.location}" if refine else "")
    # the trainer config is shared with training; evaluation needs none of its loop settings
    trainer = instantiate(cfg.trainer, logger=False, callbacks=[], use_distributed_sampler=False,
                          enable_checkpointing=False, max_steps=-1, max_epochs=None,
                          val_check_interval=None, check_val_every_n_epoch=1)
    trainer.test(module, verbose=False)
    log.info("predictions in %s/label (original ids)%s%s%s", out,
             f", {out}/color" if cfg.save.color else "",
             f", {out}/overlay" if cfg.save.overlay else "",
             f"; scores in {metrics_path}" if scoring else "")
    metrics = module.metrics
    if metrics is None and scoring and trainer.is_global_zero and metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text())  # computed in a spawned process
    if trainer.is_global_zero and metrics:
        _log_scores(metrics, split)
    return metrics or {}


def _log_scores(metrics: dict, split: str) -> None:
    """The scores table (with SegFix: before = unrefined, after = refined)."""
    scores = Scores.from_json(metrics)
    unrefined = (metrics.get("segfix") or {}).get("unrefined")
    title = f"{split} scores ({scores.num_images} images)"
    if unrefined:
        title = f"SegFix on {unrefined['num_images']} {split} images (before: unrefined)"
    log.info("\n%s", scores_text(scores, title,
                                  before=Scores.from_json(unrefined) if unrefined else None))


def _chained_segfix(cfg: DictConfig, items: EvaluationItems) -> ChainedRefinement | None:
    """The ``segfix.offsets=`` refinement (None when not asked for); every image still to
    predict must have offsets unless ``segfix.missing=copy``."""
    segfix = cfg.get("segfix") or {}
    if not segfix.get("offsets"):
        return None
    hook = ChainedRefinement(segfix.offsets, scale=segfix.get("scale", SEMANTIC_SCALE),
                             missing=segfix.get("missing", "error"))
    hook.check_names([n for n, done in zip(items.names, items.done) if not done])
    return hook
