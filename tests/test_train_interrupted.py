"""train.py killed as a cluster kills it (SIGKILL mid-run and during a checkpoint save, SIGTERM),
then re-run with ``ckpt_path=last``: same total steps, the LR schedule continues at the resumed
step, at most one checkpoint interval of training lost, no truncated checkpoint at a final name."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers.config import REPO  # noqa: E402

INTERVAL = 3   # schedule.checkpoint_every
LR = 0.05      # the embedded schedule's lr (conf/embedded/synthetic_city.yaml)


def command(synthetic_root: Path, log_dir: Path, *extra: str) -> list[str]:
    # tiny_fcn, 2 images per step: ~0.1 s a step on one core
    return [sys.executable, str(REPO / "train.py"), "model=tiny_fcn",
            "dataset.generator.num_train=8", "dataset.generator.num_val=4",
            "dataset.generator.height=64", "dataset.generator.width=128",
            "dataset.crop_size=[64,64]", "data.batch_size=2", "data.num_workers=0",
            "trainer.log_every_n_steps=1", "trainer.enable_progress_bar=false",
            "~callbacks.progress_bar", "+logger.csv.flush_logs_every_n_steps=1",
            "schedule.warmup_steps=0", f"schedule.checkpoint_every={INTERVAL}",
            f"dataset.root={synthetic_root}", f"paths.log_dir={log_dir}", *extra]


def start(cmd: list[str], out: Path) -> subprocess.Popen:
    # one intra-op thread: OpenMP spin-waiting on a shared 2-core machine is many times slower
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1",
               NO_ALBUMENTATIONS_UPDATE="1")
    with open(out, "w") as log:   # the child writes through its own copy of the handle
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 240.0, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        assert proc.poll() is None, "the run ended before the awaited moment"
        time.sleep(poll)
    raise AssertionError("timed out")


def runs(log_dir: Path) -> list[Path]:
    root = log_dir / "train" / "runs"
    return sorted(root.iterdir()) if root.is_dir() else []


def logged(run: Path) -> list[dict]:
    """Rows of csv/metrics.csv as {"step", "loss"} or {"step", "lr"} (a half-written line of a
    killed run is skipped)."""
    path = run / "csv" / "metrics.csv"
    rows = []
    for row in csv.DictReader(path.read_text().splitlines()) if path.is_file() else []:
        try:
            if row.get("train/loss"):
                rows.append({"step": int(row["step"]), "loss": float(row["train/loss"])})
            elif row.get("lr-SGD/backbone"):
                rows.append({"step": int(row["step"]), "lr": float(row["lr-SGD/backbone"])})
        except (TypeError, ValueError):
            continue
    return rows


def train_steps(run: Path) -> list[int]:
    return [r["step"] for r in logged(run) if "loss" in r]


def checkpoint_steps(log_dir: Path) -> dict[Path, int]:
    """Every file at a checkpoint's final name loads completely (none is truncated)."""
    steps = {}
    for path in log_dir.rglob("*.ckpt"):
        steps[path] = torch.load(path, map_location="cpu", weights_only=True)["global_step"]
    return steps


def temp_files(run: Path) -> list[Path]:
    folder = run / "checkpoints"
    return sorted(folder.glob(".*.tmp")) if folder.is_dir() else []


def poly_lr(step: int, max_steps: int) -> float:
    return LR * (1.0 - step / max_steps) ** 0.9


def kill_during_a_save(proc: subprocess.Popen, run: Path) -> Path:
    """Freeze the run whenever a save's temporary file shows up; kill it if the file is still
    there (the freeze caught it mid-save), else let it go on to the next save."""
    while True:
        tmp = wait_for(lambda: temp_files(run), proc, poll=0.001)
        proc.send_signal(signal.SIGSTOP)
        if all(p.exists() for p in tmp):
            proc.kill()
            proc.wait()
            return tmp[0]
        proc.send_signal(signal.SIGCONT)


@pytest.mark.slow
def test_sigkill_mid_run_and_during_a_save_then_ckpt_path_last_finishes_the_run(tmp_path,
                                                                               synthetic_root):
    max_steps = 14
    logs = tmp_path / "logs"
    cmd = command(synthetic_root, logs, f"schedule.max_steps={max_steps}", "schedule.val_every=7")

    # 1. SIGKILL mid-run, a few steps after the first periodic checkpoint
    first = start(cmd, tmp_path / "first.log")
    wait_for(lambda: runs(logs) and max(train_steps(runs(logs)[0]), default=-1) >= INTERVAL + 1, first)
    first.kill()
    first.wait()
    [run1] = runs(logs)
    done1 = max(train_steps(run1)) + 1
    saved1 = max(checkpoint_steps(logs).values())
    assert 0 <= done1 - saved1 <= INTERVAL

    # 2. the same command with ckpt_path=last (a new run folder): killed inside a checkpoint save
    second = start([*cmd, "ckpt_path=last"], tmp_path / "second.log")
    wait_for(lambda: len(runs(logs)) == 2, second)
    run2 = runs(logs)[1]
    leftover = kill_during_a_save(second, run2)
    log2 = (tmp_path / "second.log").read_text()
    assert f"ckpt_path=last: resuming {run1 / 'checkpoints'}" in log2 and f"(step {saved1})" in log2
    assert min(train_steps(run2)) == saved1
    steps = checkpoint_steps(logs)  # loads every final name: nothing truncated
    assert leftover.exists()        # the killed save's half-written temporary file
    saved2 = max(steps.values())
    assert 0 <= max(train_steps(run2)) + 1 - saved2 <= INTERVAL

    # 3. again: finishes with the same total step count
    third = start([*cmd, "ckpt_path=last"], tmp_path / "third.log")
    assert third.wait(timeout=300) == 0, (tmp_path / "third.log").read_text()[-3000:]
    run3 = runs(logs)[2]
    assert "ckpt_path=last: resuming" in (tmp_path / "third.log").read_text()
    assert leftover.exists() and not temp_files(run3)   # ignored, never resumed
    assert json.loads((run3 / "metrics.json").read_text())["step"] == max_steps
    final = torch.load(run3 / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert final["global_step"] == max_steps
    assert final["lr_schedulers"][0]["last_epoch"] == max_steps
    resumed = train_steps(run3)
    assert resumed == list(range(saved2, max_steps))   # no step re-run, none missing
    lrs = {r["step"]: r["lr"] for r in logged(run3) if "lr" in r}
    assert lrs[saved2] == pytest.approx(poly_lr(saved2, max_steps), rel=1e-9)  # not step 0's lr
    assert lrs[max_steps - 1] == pytest.approx(poly_lr(max_steps - 1, max_steps), rel=1e-9)
    checkpoint_steps(logs)


@pytest.mark.slow
def test_sigterm_saves_last_ckpt_and_a_fixed_run_folder_resumes(tmp_path, synthetic_root):
    max_steps = 40
    logs, run = tmp_path / "logs", tmp_path / "fixed_run"
    cmd = command(synthetic_root, logs, f"schedule.max_steps={max_steps}", "schedule.val_every=40",
                  "schedule.checkpoint_every=100", f"hydra.run.dir={run}")
    proc = start(cmd, tmp_path / "first.log")
    wait_for(lambda: max(train_steps(run), default=-1) >= 4, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    text = (tmp_path / "first.log").read_text()
    assert "Traceback" not in text and not (run / "metrics.json").exists()
    stopped = max(train_steps(run)) + 1
    [message] = [ln for ln in text.splitlines() if "SIGTERM: training stopped" in ln]
    assert f"after step {stopped};" in message and str(run / "checkpoints" / "last.ckpt") in message
    assert "ckpt_path=last" in message
    assert checkpoint_steps(run) == {run / "checkpoints" / "last.ckpt": stopped}

    leftover = run / "checkpoints" / ".last.ckpt.0badf00d.tmp"   # as a killed save leaves it
    leftover.write_bytes(b"PK\x03\x04")
    again = start([*cmd, "ckpt_path=last"], tmp_path / "second.log")
    assert again.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()[-3000:]
    assert f"(step {stopped})" in (tmp_path / "second.log").read_text()
    assert not leftover.exists()   # this run's own folder is cleaned before training
    assert train_steps(run) == list(range(stopped, max_steps))
    assert json.loads((run / "metrics.json").read_text())["step"] == max_steps
