"""The training page (``train.py``): loss terms, learning rate and validation metrics over the
steps, read from the run's CSV log (so it needs no W&B), the last validation's per-class IoU,
and the validation overlays (prediction | ground truth of the first validation images).

:func:`read_csv_log` reads Lightning's ``csv/metrics.csv`` plus the rows its logger holds but has
not flushed yet; :func:`write_training_report` draws the page. The Lightning callback that calls
them after each validation and at the end is :mod:`ocseg.lightning.training_report`.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ocseg.metrics.scores import Scores
from ocseg.report import charts
from ocseg.report.page import Chart, Example, Panel, Table, number, write_page
from ocseg.report.thumbnails import thumbnail

__all__ = ["read_csv_log", "series", "write_training_report"]

OVERLAY_WIDTH = 600


def _value(text: Any) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def read_csv_log(path: str | Path | None, pending: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, float]]:
    """Every row of a Lightning CSV log (``metrics.csv``) and the ``pending`` rows its logger has
    not written yet, as ``{column: number}`` without empty cells."""
    rows: list[dict[str, float]] = []
    if path is not None and Path(path).is_file():
        with open(path, newline="") as f:
            rows = [{k: v for k, v in ((k, _value(v)) for k, v in row.items()) if v is not None}
                    for row in csv.DictReader(f)]
    rows += [{k: v for k, v in ((k, _value(v)) for k, v in row.items()) if v is not None} for row in pending]
    return rows


def series(rows: Sequence[Mapping[str, float]], column: str) -> tuple[list[float], list[float]]:
    """(steps, values) of ``column`` over the rows that hold it (a value finite or not)."""
    points = [(r.get("step", i), r[column]) for i, r in enumerate(rows) if column in r]
    return [p[0] for p in points], [p[1] for p in points]


def _columns(rows: Sequence[Mapping[str, float]]) -> list[str]:
    return list(dict.fromkeys(k for r in rows for k in r))


def _charts(rows: Sequence[Mapping[str, float]]) -> list[Chart]:
    columns = _columns(rows)
    out = []
    losses = [c for c in columns if c.startswith(("train/loss", "val/loss"))]
    if losses:
        values = [v for c in losses for v in series(rows, c)[1] if math.isfinite(v)]
        log = bool(values) and min(values) > 0 and max(values) / min(values) > 30
        out.append(Chart(charts.line_chart([(c, *series(rows, c)) for c in losses], "loss terms",
                                           "loss", log=log), "loss terms over the steps"))
    rates = [c for c in columns if c.startswith("lr-")]
    if rates:
        out.append(Chart(charts.line_chart([(c[3:], *series(rows, c)) for c in rates], "learning rate",
                                           "learning rate"), "learning rate over the steps"))
    metrics = [c for c in columns if c.startswith("val/") and "/" not in c[4:] and c != "val/loss"]
    if metrics:
        out.append(Chart(charts.line_chart([(c[4:], *series(rows, c)) for c in metrics],
                                           "validation", "%"), "validation metrics over the steps"))
    return out


def _last_validation(rows: Sequence[Mapping[str, float]], class_names: Sequence[str],
                     metrics: Mapping[str, Any] | None) -> tuple[Scores | None, str]:
    """The last validation's scores: the final ``metrics.json`` when given, else the last CSV row
    that logged ``val/mIoU``."""
    if metrics and metrics.get("per_class_iou"):
        return Scores.from_json(metrics), f"the final validation (step {metrics.get('step', '?')})"
    for row in reversed(rows):
        if "val/mIoU" in row and all(f"val/iou/{n}" in row for n in class_names):
            logged = {k[4:]: v for k, v in row.items() if k.startswith("val/")}
            return (Scores.from_logged(logged, class_names),
                    f"the validation at step {int(row.get('step', 0))}")
    return None, ""


def write_training_report(folder: str | Path, rows: Sequence[Mapping[str, float]], *,
                          class_names: Sequence[str], facts: Sequence[tuple[str, Any]] = (),
                          metrics: Mapping[str, Any] | None = None,
                          overlays: Sequence[tuple[str, np.ndarray]] = (), csv_path: str | None = None,
                          state: str = "running") -> Path:
    """Write ``<folder>/report.html`` from the log ``rows``; ``metrics``: the final
    ``metrics.json`` (at the end of the run); ``overlays``: (caption, RGB panel) pairs."""
    scores, when = _last_validation(rows, class_names, metrics)
    headline = []
    if scores is not None:
        headline = [("val mIoU %", number(scores.miou)), ("val pixel accuracy %", number(scores.pixel_accuracy))]
    best = [r["val/mIoU_best"] for r in rows if "val/mIoU_best" in r]
    if best:
        headline.append(("best val mIoU %", number(best[-1])))
    steps = [r["step"] for r in rows if "step" in r]
    if metrics and metrics.get("step") is not None:
        headline.append(("steps", str(metrics["step"])))
    elif steps:
        headline.append(("steps logged", str(int(max(steps)))))
    table = None
    if scores is not None:
        names = list(scores.per_class_iou)
        table = Table.of(["class", "IoU %"], [[n, scores.per_class_iou[n]] for n in names])
    chart = None
    if scores is not None:
        chart = Chart(charts.bar_chart(list(scores.per_class_iou),
                                       [("IoU", list(scores.per_class_iou.values()))]),
                      "per-class IoU, sorted")
    panels = [Example(name=caption, title=caption, panels=[Panel(thumbnail(image, OVERLAY_WIDTH), caption)])
              for caption, image in overlays]
    others = {k: v for k, v in (metrics or {}).items()
              if isinstance(v, (int, float)) and not isinstance(v, bool)
              and k not in ("mIoU", "pixel_accuracy", "boundary_f", "num_images", "step")}
    sections = [("curves", "curves"), ("classes", "last validation"), ("overlays", "overlays")]
    about = dict(facts)
    title = f"Training {about.get('model', '')} on {about.get('dataset', '')}".replace("  ", " ").strip()
    return write_page(folder, "training.html", kind="training", title=f"{title} · {state}",
                      facts=[*facts, ("CSV log", csv_path or "none (logger without csv)")],
                      headline=headline, sections=sections, curves=_charts(rows), when=when,
                      classes=table, class_chart=chart, overlays=panels,
                      final=Table.of(["metric", "value"], [[k, v] for k, v in others.items()], digits=4)
                      if others else None)
