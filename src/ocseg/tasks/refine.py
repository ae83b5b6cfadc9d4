"""``refine.py``: SegFix refinement of a prediction folder, with before/after scores when the
ground truth of a dataset split is given; writes ``metrics.json``.

Also the library entry for chaining refinement after prediction (``eval.py segfix.offsets=``):
:func:`ground_truth_of` and :func:`scores_table` work on any dataset config.

Refinement alone starts fast: this module and what it imports load neither torch nor Lightning
nor torchmetrics (``tests/test_refine.py`` checks it); scoring (``split=``) imports the
dataset, the metrics and rich's table when it runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from ocseg.atomic import write_json
from ocseg.errors import OcsegError
from ocseg.segfix.offsets.store import match_key
from ocseg.segfix.refinement.folder import Evaluation, refine_folder

__all__ = ["refine", "ground_truth_of", "scores_table"]

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


def _stage_metrics(stage: dict, class_names: list[str]) -> dict:
    import torch

    from ocseg.metrics.confusion import scores_from_confusion

    scores = scores_from_confusion(torch.from_numpy(stage["confmat"]))

    def num(v) -> float | None:
        v = float(v)
        return None if math.isnan(v) else round(v, 4)

    return {
        "mIoU": num(scores["mIoU"]),
        "pixel_accuracy": num(scores["pixel_accuracy"]),
        "boundary_f": num(100 * np.mean(stage["boundary_f"])),
        "per_class_iou": {n: num(v) for n, v in zip(class_names, scores["per_class_iou"])},
        "per_class_boundary_f": {n: num(100 * v) for n, v in zip(class_names, stage["boundary_f"])},
    }


def scores_table(before: dict, after: dict, title: str):
    """mIoU / pixel accuracy / boundary F before and after refinement, with the change (a rich
    ``Table``)."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("", "before", "after", "change"):
        table.add_column(column, justify="left" if not column else "right")
    for key, name in (("mIoU", "mIoU %"), ("boundary_f", "boundary F %"),
                      ("pixel_accuracy", "pixel accuracy %")):
        b, a = before.get(key), after.get(key)
        if b is not None and a is not None:
            table.add_row(name, f"{b:.2f}", f"{a:.2f}", f"{a - b:+.2f}")
    return table


def refine(cfg: DictConfig) -> dict:
    """Refine ``cfg.input`` with ``cfg.offsets`` into ``cfg.output``; returns the metrics."""
    ground_truth, evaluation = (None, None)
    if cfg.get("split"):
        if cfg.mode != "semantic":
            raise OcsegError("split= scores semantic labels only; instance masks are scored with "
                             "the Cityscapes instance evaluator (cityscapesscripts)")
        ground_truth, evaluation = ground_truth_of(cfg, cfg.split, cfg.pred_ids, cfg.bound_th)
    summary = refine_folder(cfg.input, cfg.offsets, cfg.output, mode=cfg.mode, scale=cfg.scale,
                            missing=cfg.missing, glob=cfg.glob, ground_truth=ground_truth,
                            evaluation=evaluation, workers=cfg.workers, progress=cfg.progress)
    metrics = {k: summary[k] for k in ("files", "refined", "copied", "moved_fraction", "output")}
    print(f"refined {summary['refined']} of {summary['files']} {cfg.mode} inputs into "
          f"{summary['output']} ({100 * summary['moved_fraction']:.2f}% of pixels moved"
          + (f", {summary['copied']} copied without offsets" if summary["copied"] else "") + ")",
          flush=True)
    scores = summary.get("scores")
    if evaluation is not None:
        if not scores:
            raise OcsegError(f"no input matched a ground-truth label of the {cfg.split} split; the "
                             "prediction file names must contain the image names")
        names = list(cfg.dataset.class_names)
        metrics["images_scored"] = scores["images"]
        metrics["before"] = _stage_metrics(scores["before"], names)
        metrics["after"] = _stage_metrics(scores["after"], names)
        from rich.console import Console

        Console().print(scores_table(metrics["before"], metrics["after"],
                                     f"SegFix on {scores['images']} {cfg.split} images"))
    if cfg.get("metrics_file"):
        write_json(cfg.metrics_file, metrics)
        print(f"metrics written to {cfg.metrics_file}", flush=True)
    return metrics
