"""Presenting segmentation scores: the per-class table people read and ``metrics.json``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

from rich.console import Console
from rich.table import Table

from ocseg.atomic import write_json

__all__ = ["scores_to_metrics", "print_scores", "write_metrics"]


def _num(value) -> float | None:
    v = float(value)
    return None if math.isnan(v) else round(v, 4)


def scores_to_metrics(logged: Mapping[str, float], class_names: Sequence[str],
                      prefix: str = "val/") -> dict:
    """Logged Lightning metrics (``val/mIoU``, ``val/iou/<class>``, …) → ``metrics.json`` layout."""
    metrics: dict = {
        "mIoU": _num(logged[f"{prefix}mIoU"]),
        "pixel_accuracy": _num(logged[f"{prefix}pixel_accuracy"]),
        "per_class_iou": {name: _num(logged[f"{prefix}iou/{name}"]) for name in class_names},
    }
    for key, value in logged.items():
        if key.startswith(prefix) and key.count("/") == 1:
            short = key[len(prefix):]
            if short not in metrics:
                metrics[short] = _num(value)
    return metrics


def print_scores(metrics: Mapping, title: str = "validation", console: Console | None = None) -> None:
    """A table with one row per class (IoU %) and the mean / pixel accuracy at the bottom."""
    table = Table(title=title)
    table.add_column("class")
    table.add_column("IoU %", justify="right")
    for name, value in metrics["per_class_iou"].items():
        table.add_row(name, "—" if value is None else f"{value:.2f}")
    table.add_section()
    table.add_row("mIoU", "—" if metrics["mIoU"] is None else f"{metrics['mIoU']:.2f}")
    if metrics.get("pixel_accuracy") is not None:
        table.add_row("pixel accuracy", f"{metrics['pixel_accuracy']:.2f}")
    if metrics.get("boundary_f") is not None:
        table.add_row("boundary F", f"{metrics['boundary_f']:.2f}")
    (console or Console()).print(table)


def write_metrics(path: str | Path, metrics: Mapping) -> Path:
    p = Path(path)
    write_json(p, dict(metrics))
    return p
