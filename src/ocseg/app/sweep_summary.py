"""The summary of a Hydra multirun: one row per job with its overrides, its status, the value it
returned to the sweeper and its final ``metrics.json``.

A Hydra callback (``conf/hydra/default.yaml``, ``hydra.callbacks.sweep_summary``), so it works
with every launcher and sweeper: in each job's own process (a SLURM job too) ``on_job_end`` writes
``<job folder>/job_return.json`` — the job's status and the value its task returned, which is
what a sweeper such as Optuna optimises — and rewrites ``<sweep folder>/sweep_summary.csv`` from
every job folder found so far, so the summary exists even when a failing job stops the sweep;
``on_multirun_end`` writes it once more and prints it as a table. Single runs are left alone.
With the jobs' ``report=true`` (the default) ``report.html`` is rewritten beside the CSV each time
(:mod:`ocseg.report.sweep`).

Jobs that trained with different losses (``loss=ce,rmi``) report validation losses on different
scales (RMI's is negative by design; docs/losses.md, "Reading the loss values"): the table then
heads that column "loss (differs by loss=)" and a line under it says to compare the scores.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ocseg.compat import job_outcome
from ocseg.io.atomic import write_json, write_text

__all__ = ["SweepSummary", "collect_jobs", "mixed_losses", "summary_rows", "LOSS_DIFFERS"]

log = logging.getLogger(__name__)

JOB_RETURN = "job_return.json"
METRIC = "metrics."      # prefix of the metrics.json columns (a metric may share an override's name)
# metrics.json entries that are not one number per job
_SKIP = ("per_class", "config")
#: the table's heading of the validation loss when the jobs' losses differ
LOSS_DIFFERS = "loss (differs by loss=)"


def _scalars(data: dict, prefix: str = "") -> dict[str, Any]:
    """The numbers and short strings of ``data``, nested keys joined with '/' (per-class tables
    and the run's config left out)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if str(key).startswith(_SKIP):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_scalars(value, f"{name}/"))
        elif value is None or isinstance(value, (bool, int, float, str)):
            out[name] = value
    return out


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def _loss_choice(folder: Path) -> str | None:
    """The ``loss=`` option a job ran with (Hydra's record of its choices)."""
    path = folder / ".hydra" / "hydra.yaml"
    if not path.is_file():
        return None
    choices = OmegaConf.load(path).hydra.runtime.get("choices") or {}
    return choices.get("loss")


def _job_number(folder: Path) -> tuple[int, str]:
    return (int(folder.name), "") if folder.name.isdigit() else (1 << 30, folder.name)


def collect_jobs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """One dict per job folder under ``sweep_dir`` (those with ``.hydra/overrides.yaml``):
    ``job``, ``overrides`` (key → value), ``status``, ``objective``, ``metrics`` and ``loss`` (the
    ``loss=`` option)."""
    jobs = []
    folders = {p.parent.parent for p in Path(sweep_dir).glob("*/.hydra/overrides.yaml")}
    for folder in sorted(folders, key=_job_number):
        overrides = {}
        for item in OmegaConf.to_container(OmegaConf.load(folder / ".hydra" / "overrides.yaml")):
            key, _, value = str(item).partition("=")
            overrides[key] = value
        ret = _read_json(folder / JOB_RETURN)
        jobs.append({"job": folder.name, "overrides": overrides,
                     "status": ret.get("status", "RUNNING" if not ret else "UNKNOWN"),
                     "objective": ret.get("return_value"), "error": ret.get("error"),
                     "metrics": _scalars(_read_json(folder / "metrics.json")),
                     "loss": _loss_choice(folder)})
    return jobs


def summary_rows(jobs: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """(columns, rows, swept override keys). Columns: ``job``, every override key, ``status``,
    ``objective`` (the value returned to the sweeper), ``metrics.<key>`` per metrics.json entry,
    ``error``; the swept keys are the overrides whose values differ between jobs."""
    keys = list(dict.fromkeys(k for job in jobs for k in job["overrides"]))
    swept = [k for k in keys if len({job["overrides"].get(k) for job in jobs}) > 1] or keys
    metric_keys = list(dict.fromkeys(f"{METRIC}{k}" for job in jobs for k in job["metrics"]))
    columns = ["job", *keys, "status", "objective", *metric_keys, "error"]
    rows = [{"job": job["job"], **job["overrides"], "status": job["status"],
             "objective": job["objective"], **{f"{METRIC}{k}": v for k, v in job["metrics"].items()},
             "error": job["error"]} for job in jobs]
    return columns, rows, swept


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: ("" if row.get(c) is None else row.get(c)) for c in columns} for row in rows)
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def mixed_losses(jobs: list[dict[str, Any]]) -> list[str]:
    """The ``loss=`` options of ``jobs`` when there is more than one (their losses do not
    compare), else an empty list."""
    losses = list(dict.fromkeys(str(job.get("loss")) for job in jobs if job.get("loss")))
    return losses if len(losses) > 1 else []


def _table(columns: list[str], rows: list[dict[str, Any]], swept: list[str], title: str,
           mixed: bool = False):
    """The swept overrides, the status and every numeric result (objective, metrics); with
    ``mixed`` losses the validation loss column says it does not compare."""
    from rich.table import Table

    results = columns[columns.index("status") + 1:-1]
    numeric = [c for c in results if any(isinstance(r.get(c), (int, float))
                                         and not isinstance(r.get(c), bool) for r in rows)]
    shown = ["job", *swept, "status", *numeric]
    table = Table(title=title)
    for column in shown:
        short = column[len(METRIC):] if column.startswith(METRIC) else column
        if mixed and column == f"{METRIC}loss":
            short = LOSS_DIFFERS
        table.add_column(column if short in swept else short,
                         justify="right" if column in numeric else "left")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in shown))
    return table


def _write_report(sweep_dir: Path, columns: list[str], rows: list[dict[str, Any]], swept: list[str]) -> None:
    from ocseg.report.sweep import write_sweep_report

    try:
        write_sweep_report(sweep_dir, columns, rows, swept)
    except Exception as exc:  # noqa: BLE001 - the CSV is written; the page only shows it
        log.warning("report.html not written (%s: %s)", type(exc).__name__, exc)


class SweepSummary(Callback):
    """Writes ``<sweep dir>/<filename>`` (CSV) during and after a multirun and prints it.

    Args:
        filename: the CSV file's name in the sweep folder.
    """

    def __init__(self, filename: str = "sweep_summary.csv") -> None:
        self.filename = filename

    def _write(self, sweep_dir: Path, report: bool = True
               ) -> tuple[list[str], list[dict[str, Any]], list[str], list[str]]:
        jobs = collect_jobs(sweep_dir)
        columns, rows, swept = summary_rows(jobs)
        if rows:
            write_text(sweep_dir / self.filename, _csv(columns, rows))
            if report:
                _write_report(sweep_dir, columns, rows, swept)
        return columns, rows, swept, mixed_losses(jobs)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        status, value = job_outcome(job_return)   # a failed job's exception, not re-raised
        record = {"status": status, "return_value": None, "error": None}
        if status == "COMPLETED":
            record["return_value"] = value if isinstance(value, (int, float)) or value is None else str(value)
        else:
            record["error"] = f"{type(value).__name__}: {value}"
        write_json(Path(config.hydra.runtime.output_dir) / JOB_RETURN, record)
        self._write(Path(config.hydra.sweep.dir), bool(config.get("report", True)))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        columns, rows, swept, mixed = self._write(sweep_dir, bool(config.get("report", True)))
        if not rows:
            return
        from rich.console import Console

        Console().print(_table(columns, rows, swept, f"sweep summary: {len(rows)} jobs", bool(mixed)))
        if mixed and f"{METRIC}loss" in columns:
            print(f"loss: each job's own validation loss; loss={', '.join(mixed)} are on different "
                  "scales (RMI's is negative by design, docs/losses.md): compare mIoU", flush=True)
        print(f"sweep summary written to {sweep_dir / self.filename}", flush=True)
        if config.get("report", True) and (sweep_dir / "report.html").is_file():
            print(f"sweep report: {sweep_dir / 'report.html'}", flush=True)
