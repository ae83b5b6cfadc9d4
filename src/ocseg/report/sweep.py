"""The sweep page (a Hydra multirun, next to ``sweep_summary.csv``): every job in a table sortable
by any column, and for each swept parameter the sweep's metric against its values, failed jobs
marked (red rows; red crosses on the charts).

It takes the summary's own columns and rows (:func:`ocseg.app.sweep_summary.summary_rows`): the
metric is the value the jobs returned to the sweeper (``objective``) when there is one, else the
first numeric ``metrics.*`` column.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from ocseg.report import charts
from ocseg.report.page import Cell, Chart, Column, Row, Table, number, write_page
from ocseg.report.thumbnails import relative_link

__all__ = ["sweep_metric", "write_sweep_report"]

METRIC_PREFIX = "metrics."


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def sweep_metric(columns: Sequence[str], rows: Sequence[dict]) -> str | None:
    """The column the charts plot: ``objective`` if any job returned a number, else the first
    ``metrics.*`` column with a number (``metrics.mIoU`` first when present)."""
    candidates = ["objective", f"{METRIC_PREFIX}mIoU",
                  *(c for c in columns if c.startswith(METRIC_PREFIX))]
    for column in candidates:
        if column in columns and any(_number(r.get(column)) is not None for r in rows):
            return column
    return None


def write_sweep_report(sweep_dir: str | Path, columns: Sequence[str], rows: Sequence[dict],
                       swept: Sequence[str]) -> Path:
    """Write ``<sweep_dir>/report.html`` from the summary's ``columns``, ``rows`` and ``swept`` keys."""
    sweep_dir = Path(sweep_dir)
    metric = sweep_metric(columns, rows)
    failed = [r.get("status") not in ("COMPLETED", "RUNNING") for r in rows]
    results = [c for c in columns[columns.index("status") + 1:] if c != "error"
               and any(_number(r.get(c)) is not None for r in rows)]
    shown = ["job", *swept, "status", *results, "error"]
    table_columns = [Column(c[len(METRIC_PREFIX):] if c.startswith(METRIC_PREFIX) else c,
                            numeric=c in results) for c in shown]
    body = []
    for row, bad in zip(rows, failed):
        cells = []
        for c in shown:
            value = row.get(c)
            if c == "job" and (sweep_dir / str(value) / "report.html").is_file():
                cells.append(Cell(str(value), title=f"{value}/report.html"))
            elif c in results:
                v = _number(value)
                cells.append(Cell("—" if v is None else f"{v:.6g}", sort="" if v is None else repr(v), css="num"))
            else:
                cells.append(Cell("" if value is None else str(value)))
        body.append(Row(cells, css="failed" if bad else ""))
    plots = []
    if metric is not None:
        short = metric[len(METRIC_PREFIX):] if metric.startswith(METRIC_PREFIX) else metric
        for param in swept:
            values = ["" if r.get(param) is None else str(r.get(param)) for r in rows]
            plots.append(Chart(charts.sweep_chart(param, values, [_number(r.get(metric)) for r in rows],
                                                  failed, short), f"{short} against {param}"))
    done = [r for r, bad in zip(rows, failed) if not bad and metric and _number(r.get(metric)) is not None]
    best = max(done, key=lambda r: _number(r.get(metric))) if done else None
    headline = [("jobs", str(len(rows))), ("failed", str(sum(failed)))]
    if best is not None:
        headline.insert(0, (f"best {metric}", f"{number(_number(best.get(metric)))} (job {best.get('job')})"))
    links = [(str(r.get("job")), relative_link(sweep_dir / str(r.get("job")) / "report.html", sweep_dir))
             for r in rows if (sweep_dir / str(r.get("job")) / "report.html").is_file()]
    return write_page(sweep_dir, "sweep.html", kind="sweep", title=f"Sweep of {', '.join(swept) or 'one setting'}",
                      facts=[("sweep folder", sweep_dir), ("swept", ", ".join(swept)),
                             ("metric plotted", metric or "none (no job returned a number)")],
                      headline=headline, sections=[("jobs", "jobs"), ("parameters", "parameters")],
                      jobs=Table(table_columns, body), plots=plots, links=links, metric=metric)
