"""A finished sweep folder as Hydra and ``SweepSummary`` leave it (job folders with
``.hydra/overrides.yaml``, ``job_return.json`` and ``metrics.json``), without running one."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["fake_sweep"]

# (schedule.lr, loss, status, mIoU): one failed job
JOBS = [("0.01", "ce", "COMPLETED", 41.5), ("0.02", "ce", "COMPLETED", 47.25),
        ("0.05", "ce", "COMPLETED", 44.0), ("0.01", "rmi", "COMPLETED", 43.75),
        ("0.02", "rmi", "FAILED", None), ("0.05", "rmi", "COMPLETED", 49.5)]


def fake_sweep(sweep: Path) -> Path:
    """Six jobs of ``schedule.lr`` × ``loss`` under ``sweep``; job 4 failed."""
    for number, (lr, loss, status, miou) in enumerate(JOBS):
        job = sweep / str(number)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(f"- schedule.lr={lr}\n- loss={loss}\n")
        error = None if status == "COMPLETED" else "OcsegError: loss.images_per_chunk must be a positive number"
        (job / "job_return.json").write_text(json.dumps({"status": status, "return_value": miou,
                                                         "error": error}))
        if miou is not None:
            (job / "metrics.json").write_text(json.dumps({"mIoU": miou, "pixel_accuracy": 80 + miou / 10,
                                                          "step": 90}))
    return sweep
