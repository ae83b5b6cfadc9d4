"""Status lines go through logging: plain on the console, timestamped in the run's log file,
said once (rank zero) under DDP; errors stay one ``error:`` line on stderr."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np

from ocseg.app.console import ConsoleFormatter, restored_root_logging
from ocseg.io.status import status_logger
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


def test_a_hydra_app_run_in_process_leaves_no_handler_on_a_closed_stream(monkeypatch):
    """Hydra's --help configures logging with a handler on the sys.stderr of that moment; once
    that stream is closed (pytest's capture after a test), a later log record must not hit it."""
    import io

    import hydra
    from hydra.core.global_hydra import GlobalHydra

    from ocseg.config import config_dir

    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "argv", ["train.py", "--help"])
    GlobalHydra.instance().clear()
    with restored_root_logging():
        try:
            hydra.main(config_path=str(config_dir()), config_name="train", version_base="1.3")(lambda c: None)()
        except SystemExit:
            pass
        added = [h for h in root.handlers if h not in before]
    GlobalHydra.instance().clear()
    assert added, "Hydra's --help no longer configures logging: this test guards nothing"
    assert root.handlers == before and root.level == level
