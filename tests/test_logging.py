"""Status lines go through logging: plain on the console, timestamped in the run's log file,
said once (rank zero) under DDP; errors stay one ``error:`` line on stderr."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np

from ocseg.log import ConsoleFormatter, status_logger
from ocseg.segfix.offsets.files import write_offsets

REPO = Path(__file__).resolve().parents[1]


def test_tool_status_reaches_console_and_run_log(tmp_path):
    import cv2

    (tmp_path / "pred").mkdir()
    cv2.imwrite(str(tmp_path / "pred" / "a.png"), np.zeros((4, 6), np.uint8))
    write_offsets(tmp_path / "off" / "a.npz", np.zeros((4, 6, 2), np.int8))
    done = subprocess.run(
        [sys.executable, "refine.py", f"input={tmp_path / 'pred'}", f"offsets={tmp_path / 'off'}",
         f"output={tmp_path / 'out'}", f"paths.log_dir={tmp_path / 'logs'}", "workers=1"],
        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    status = "refined 1 of 1 semantic inputs into"
    console = [ln for ln in done.stdout.splitlines() if status in ln]
    assert len(console) == 1 and console[0].startswith(status)  # plain, no [time][logger] prefix
    logs = list((tmp_path / "logs" / "refine" / "runs").glob("*/refine.log"))
    assert len(logs) == 1
    lines = logs[0].read_text().splitlines()
    assert any(ln.startswith("[") and "[ocseg.tasks.refine][INFO] - " + status in ln for ln in lines)
    assert any("metrics written to" in ln for ln in lines)


def test_status_lines_are_said_on_rank_zero_only(caplog):
    from lightning_utilities.core.rank_zero import rank_zero_only

    log = status_logger("ocseg.test_status")
    assert status_logger("ocseg.test_status") is log and len(log.filters) == 1
    saved = getattr(rank_zero_only, "rank", None)
    try:
        with caplog.at_level(logging.INFO, logger="ocseg.test_status"):
            rank_zero_only.rank = 1
            log.info("from rank one")
            rank_zero_only.rank = 0
            log.info("from rank zero")
    finally:
        if saved is None:
            del rank_zero_only.rank
        else:
            rank_zero_only.rank = saved
    assert [r.getMessage() for r in caplog.records] == ["from rank zero"]


def test_console_format_is_plain_with_warnings_marked():
    formatter = ConsoleFormatter()

    def line(level: int, message: str) -> str:
        return formatter.format(logging.LogRecord("ocseg.x", level, __file__, 1, message, None, None))

    assert line(logging.INFO, "eval: 4 images") == "eval: 4 images"
    assert line(logging.WARNING, "no experiment= given") == "warning: no experiment= given"
    assert line(logging.ERROR, "boom") == "error: boom"
