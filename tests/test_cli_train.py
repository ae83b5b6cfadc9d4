"""The train.py entry point as a user runs it: errors are one line, multirun makes one run per job."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers.config import REPO, TINY  # noqa: E402


def run_train(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1", PYTHONPATH=str(REPO / "src"))
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_missing_dataset_root_is_one_clear_line(tmp_path):
    missing = tmp_path / "nowhere" / "cityscapes"
    proc = run_train("dataset=cityscapes", f"dataset.root={missing}", f"paths.log_dir={tmp_path}",
                     "data.num_workers=0", "schedule.max_steps=1")
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and str(missing) in errors[0] and "dataset.root=" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("*.ckpt")) and not list(tmp_path.rglob("metrics.json"))


def test_missing_checkpoint_is_one_clear_line(tmp_path, synthetic_root):
    proc = run_train(f"dataset.root={synthetic_root}", f"paths.log_dir={tmp_path}",
                     f"ckpt_path={tmp_path / 'missing.ckpt'}", "data.num_workers=0")
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert errors == [f"error: ckpt_path={tmp_path / 'missing.ckpt'}: no such file; pass an existing "
                      "file, last, zoo:<name> or null (an ocseg .ckpt or an original openseg .pth; zoo:<name>: "
                      "a released checkpoint; last: the newest valid checkpoint of this command's runs)"], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "train").exists()  # refused before the run folder is created


def test_unknown_option_names_the_option_and_lists_choices(tmp_path):
    proc = run_train("model=no_such_model", f"paths.log_dir={tmp_path}")
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith("error: model=no_such_model is not an option of 'model'; use model= one of: ")
    assert "tiny_fcn" in errors[0] and "hrnet48_ocr" in errors[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_multirun_runs_one_job_per_value(tmp_path, synthetic_root):
    proc = run_train("-m", "schedule.lr=0.01,0.02", *TINY, f"dataset.root={synthetic_root}",
                     f"paths.log_dir={tmp_path}", "schedule.max_steps=2", "schedule.val_every=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweeps = list((tmp_path / "train" / "multiruns").iterdir())
    assert len(sweeps) == 1
    jobs = sorted(p for p in sweeps[0].iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == ["0", "1"]
    lrs = []
    for job in jobs:
        assert json.loads((job / "metrics.json").read_text())["step"] == 2
        assert (job / "checkpoints" / "last.ckpt").is_file()
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        lrs.append([v for v in ("0.01", "0.02") if f"schedule.lr={v}" in overrides])
    assert lrs == [["0.01"], ["0.02"]]
    # each of Lightning's lines reaches the console once (not also through its own handler), as
    # in the jobs' logs (one greeting per job: the final validation reuses the last step's);
    # its litlogger advertisement and torch's LeafSpec deprecation are dropped
    console = proc.stdout + proc.stderr
    logs = [(job / "train.log").read_text() for job in jobs]
    assert [log.count("GPU available:") for log in logs] == [1, 1]
    assert console.count("GPU available:") == 2, console[-3000:]
    assert not any("litlogger" in text or "LeafSpec" in text for text in [console, *logs])
