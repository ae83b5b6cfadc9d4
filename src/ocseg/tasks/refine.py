"""``refine.py``: SegFix refinement of a prediction folder, with before/after scores when the
ground truth of a dataset split is given; writes ``metrics.json``.

:func:`ground_truth_of` gives the label files of any dataset config's split. ``metrics.json``
has the layout of every tool (docs/evaluation.md, "metrics.json"): the refined labels' scores at the top,
the input's under ``segfix.unrefined``.

Refinement alone starts fast: this module and what it imports load neither torch nor Lightning
nor torchmetrics (``tests/test_refine.py`` checks it); scoring (``split=``) is numpy too, and
imports the dataset (torch) when it runs.
"""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig

from ocseg.errors import OcsegError, require_output_dir
from ocseg.io.atomic import write_json
from ocseg.io.status import status_logger
from ocseg.metrics.scores import Scores
from ocseg.metrics.table import scores_text
from ocseg.segfix.offsets.store import match_key
from ocseg.segfix.refinement.folder import Evaluation, refine_folder

__all__ = ["refine", "ground_truth_of"]

log = status_logger(__name__)

_SPLIT_SETS = {"train": "train_set", "val": "val_set", "test": "test_set"}


def ground_truth_of(cfg: DictConfig, split: str, pred_ids: str = "original",
                    bound_th: float = 0.00088) -> tuple[dict[str, Path], Evaluation]:
    """Label files of ``dataset.<split>`` by match key, and how to score against them."""
    from hydra.utils import instantiate

    if split not in _SPLIT_SETS:
        raise OcsegError(f"unknown split={split!r}; use one of {sorted(_SPLIT_SETS)}")
    if pred_ids not in ("original", "train"):
        raise OcsegError(f"unknown pred_ids={pred_ids!r}; use 'original' or 'train'")
    factory = cfg.dataset.get(_SPLIT_SETS[split])
    if factory is None:
        raise OcsegError(f"dataset {cfg.dataset.name} has no {split} split configured")
    if cfg.dataset.get("prepare") is not None:
        instantiate(cfg.dataset.prepare)()
    dataset = instantiate(factory)()
    if not dataset.has_labels:
        raise OcsegError(f"the {split} split of dataset {cfg.dataset.name} has no labels to score "
                         "against; use split=val (or drop split=)")
    labels = {match_key(s.name): s.label for s in dataset.samples}
    evaluation = Evaluation(num_classes=int(cfg.dataset.num_classes), gt_map=dataset.label_map,
                            pred_map=dataset.label_map if pred_ids == "original" else None,
                            ignore_index=int(cfg.dataset.ignore_index), bound_th=float(bound_th))
    return labels, evaluation


def _scores(stage: dict, class_names: list[str], images: int) -> Scores:
    return Scores.from_confusion(stage["confmat"], class_names, 100 * stage["boundary_f"],
                                 num_images=images)


def refine(cfg: DictConfig) -> dict:
    """Refine ``cfg.input`` with ``cfg.offsets`` into ``cfg.output``; returns the metrics."""
    if cfg.get("metrics_file"):
        require_output_dir(Path(cfg.metrics_file).parent, "metrics_file=<folder>/")
    ground_truth, evaluation = (None, None)
    if cfg.get("split"):
        if cfg.mode != "semantic":
            raise OcsegError("split= scores semantic labels only; instance masks are scored with "
                             "the Cityscapes instance evaluator (cityscapesscripts)")
        ground_truth, evaluation = ground_truth_of(cfg, cfg.split, cfg.pred_ids, cfg.bound_th)
    summary = refine_folder(cfg.input, cfg.offsets, cfg.output, mode=cfg.mode, scale=cfg.scale,
                            missing=cfg.missing, glob=cfg.glob, ground_truth=ground_truth,
                            evaluation=evaluation, workers=cfg.workers, progress=cfg.progress,
                            overwrite=cfg.get("overwrite", False))
    log.info("refined %d of %d %s inputs into %s (%.2f%% of pixels moved%s%s)", summary["refined"],
             summary["files"], cfg.mode, summary["output"], 100 * summary["moved_fraction"],
             f", {summary['copied']} copied without offsets" if summary["copied"] else "",
             f", {summary['kept']} kept from an earlier run (overwrite=true redoes them)"
             if summary["kept"] else "")
    facts = {k: summary[k] for k in ("files", "refined", "copied", "moved_fraction", "output")}
    segfix = {"offsets": str(cfg.offsets), "scale": summary["scale"]}
    metrics: dict = {"segfix": segfix, **facts}
    scores = summary.get("scores")
    if evaluation is not None:
        if not scores:
            raise OcsegError(f"no input matched a ground-truth label of the {cfg.split} split; the "
                             "prediction file names must contain the image names")
        names = list(cfg.dataset.class_names)
        before = _scores(scores["before"], names, scores["images"])
        after = _scores(scores["after"], names, scores["images"])
        segfix["unrefined"] = before.to_json()
        metrics = {**after.to_json(), "segfix": segfix, **facts,
                   "dataset": str(cfg.dataset.name), "split": str(cfg.split)}
        log.info("\n%s", scores_text(after, f"SegFix on {scores['images']} {cfg.split} images",
                                      before=before))
    if cfg.get("metrics_file"):
        write_json(cfg.metrics_file, metrics)
        log.info("metrics written to %s", cfg.metrics_file)
        if evaluation is not None and cfg.get("report", True):
            _report(cfg, metrics, summary, evaluation)
    return metrics


def _report(cfg: DictConfig, metrics: dict, summary: dict, evaluation: Evaluation) -> None:
    """``report.html`` beside ``metrics_file``: SegFix's effect per class and where it changed pixels."""
    from ocseg.data.palette import resolve_palette
    from ocseg.report.segfix import write_refine_report

    folder = Path(cfg.metrics_file).parent
    start = time.perf_counter()
    try:
        path = write_refine_report(
            folder, metrics, summary["images"],
            palette=resolve_palette(cfg.dataset.palette, int(cfg.dataset.num_classes)),
            ignore_index=evaluation.ignore_index, gt_map=evaluation.gt_map, pred_map=evaluation.pred_map,
            examples=int(cfg.get("report_images", 8)),
            facts=[("input", cfg.input), ("offsets", cfg.offsets), ("output", cfg.output),
                   ("dataset", cfg.dataset.name), ("split", cfg.split), ("scale", summary["scale"])])
    except Exception as exc:  # noqa: BLE001 - the refined labels and metrics.json are complete
        log.warning("report.html not written (%s: %s)", type(exc).__name__, exc)
        return
    log.info("report: %s (%.1f s)", path, time.perf_counter() - start)
