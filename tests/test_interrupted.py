"""Interrupted offline pipelines: each tool is killed (SIGKILL) part-way, then run again.

For ``eval``, ``predict_offsets``, ``refine``, the SegFix ground-truth generator and ``prepare``:
right after the kill every file at a final name is complete (byte-equal to an uninterrupted
run's: outputs are written to a hidden temporary name and renamed); the re-run only does the
missing files (the ones already there keep their inode and mtime) and ends with exactly the
uninterrupted run's outputs. docs/troubleshooting.md, "Re-running offline tools".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.checkpoints import make_checkpoint
from helpers.cli_forkserver import ForkServer
from helpers.config import REPO
from helpers.data_fakes import write_png

N = 24           # files per run: enough that the kill (after KILL_AT outputs) lands mid-way
KILL_AT = 3
H, W = 96, 128

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A folder dataset with N val images, predictions and offsets for them, and a
    Cityscapes-layout download."""
    from ocseg.segfix.offsets.files import write_offsets

    base = tmp_path_factory.mktemp("interrupted")
    rng = np.random.RandomState(0)
    root = base / "data"
    for split, count in (("train", 2), ("val", N)):
        for i in range(count):
            write_png(root / "images" / split / f"im{i:02d}.png", rng.randint(0, 255, (H, W, 3), np.uint8))
            label = np.zeros((H, W), np.uint8)
            label[rng.randint(H):, :] = 1
            label[:, rng.randint(W):] = 7
            write_png(root / "labels" / split / f"im{i:02d}.png", label)
    (root / "classes.yaml").write_text("names: [background, cat, dog]\nid_map: {0: 0, 1: 1, 7: 2}\n")
    for i in range(N):
        write_png(base / "preds" / f"im{i:02d}.png", rng.choice([0, 1, 7], (H, W)).astype(np.uint8))
        write_offsets(base / "offsets" / f"im{i:02d}.mat", rng.randint(-1, 2, (H, W, 2)).astype(np.int8))
        city = "lindau" if i else "aachen"
        split = "val" if i else "train"
        stem = f"{city}_000000_{i:06d}"
        write_png(base / "raw" / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png",
                  rng.randint(0, 255, (H, W, 3), np.uint8))
        write_png(base / "raw" / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png",
                  rng.choice([7, 8, 11], (H, W)).astype(np.uint8))
    make_checkpoint(base / "tiny.ckpt", overrides=["dataset=folder", f"dataset.root={root}"])
    make_checkpoint(base / "segfix.ckpt", kind="segfix")
    return base


def _files(folder: Path) -> dict[str, Path]:
    """The outputs at their final names (hidden temporary files and Hydra's folders aside)."""
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def _same_json(a: Path, b: Path, ignore: tuple[str, ...]) -> bool:
    def load(path: Path) -> dict:
        return {k: v for k, v in json.loads(path.read_text()).items() if k not in ignore}
    return load(a) == load(b)


def _check_resume(ref: Path, out: Path, run, pattern: str, json_ignore: tuple[str, ...] = ()) -> None:
    """``run(folder, kill_when)`` → exit code; kill part-way, check, re-run, compare."""
    assert run(ref, None) == 0
    reference = _files(ref)
    assert len(reference) >= N
    rc = run(out, {"folder": str(out), "pattern": pattern, "count": KILL_AT})
    assert rc == -signal.SIGKILL, f"the run was not interrupted (exit {rc}); make the inputs larger"
    after_kill = _files(out)
    assert 0 < len(after_kill) < len(reference)
    for rel, path in after_kill.items():  # nothing half-written at a final name
        assert rel in reference and path.read_bytes() == reference[rel].read_bytes(), rel
    stamps = {rel: (p.stat().st_ino, p.stat().st_mtime_ns) for rel, p in after_kill.items()}
    time.sleep(0.01)
    assert run(out, None) == 0
    final = _files(out)
    assert sorted(final) == sorted(reference)
    for rel, path in final.items():
        if rel == "report.html":   # names the run's output folder and the time it was made
            continue
        if rel.endswith(".json"):
            assert _same_json(path, reference[rel], json_ignore), rel
        else:
            assert path.read_bytes() == reference[rel].read_bytes(), rel
    redone = [rel for rel, stamp in stamps.items()
              if (final[rel].stat().st_ino, final[rel].stat().st_mtime_ns) != stamp]
    assert not redone, f"finished files were written again: {redone}"


def _forked(server: ForkServer, tool: str, args, tmp: Path):
    def run(folder: Path, kill_when):
        logs = tmp / f"logs-{folder.name}-{kill_when is not None}-{time.monotonic_ns()}"
        logs.mkdir(parents=True)
        request_args = args(folder)
        if kill_when is None:
            rc, stderr = server.run(tool, request_args, tmp, logs)
        else:
            rc, stderr = server.run(tool, request_args, tmp, logs, kill_when=kill_when)
        assert rc in (0, -signal.SIGKILL), stderr[-3000:]
        return rc
    return run


def test_eval_resumes(cli_server, data, tmp_path):
    def args(out: Path) -> list[str]:
        return [f"ckpt_path={data / 'tiny.ckpt'}", f"dataset.root={data / 'data'}",
                f"output_dir={out}", f"hydra.run.dir={tmp_path / 'run'}", "data.num_workers=0",
                "trainer.enable_progress_bar=false"]
    _check_resume(tmp_path / "ref", tmp_path / "out", _forked(cli_server, "evaluate", args, tmp_path),
                  "label/*.png", json_ignore=("config", "checkpoint"))


def test_predict_offsets_resumes(cli_server, data, tmp_path):
    def args(out: Path) -> list[str]:
        return [f"ckpt_path={data / 'segfix.ckpt'}", f"input_dir={data / 'data/images/val'}",
                f"output_dir={out}", f"hydra.run.dir={tmp_path / 'run'}", "data.num_workers=0",
                "progress=false", "backbone=hrnet_tiny"]
    _check_resume(tmp_path / "ref", tmp_path / "out",
                  _forked(cli_server, "predict_offsets", args, tmp_path), "*.mat")


def test_segfix_ground_truth_resumes(cli_server, data, tmp_path):
    def args(out: Path) -> list[str]:
        return [f"input={data / 'data/labels/val'}", f"output={out}", "dataset=folder",
                f"dataset.root={data / 'data'}", f"hydra.run.dir={tmp_path / 'run'}", "workers=1",
                "progress=false"]
    _check_resume(tmp_path / "ref", tmp_path / "out",
                  _forked(cli_server, "segfix_ground_truth", args, tmp_path), "*.mat")


def test_prepare_resumes(cli_server, data, tmp_path):
    def args(out: Path) -> list[str]:
        return ["dataset=cityscapes", f"raw_dir={data / 'raw'}", f"out_dir={out}", "link=copy",
                f"hydra.run.dir={tmp_path / 'run'}"]
    _check_resume(tmp_path / "ref", tmp_path / "out", _forked(cli_server, "prepare", args, tmp_path),
                  "**/*.png")


def test_refine_resumes(data, tmp_path):
    """refine.py as a plain subprocess (it starts in a second), killed from here."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))

    def run(out: Path, kill_when) -> int:
        cmd = [sys.executable, str(REPO / "refine.py"), f"input={data / 'preds'}",
               f"offsets={data / 'offsets'}", f"output={out}", f"hydra.run.dir={tmp_path / 'run'}",
               f"metrics_file={tmp_path / 'metrics.json'}", "workers=1", "progress=false"]
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        while kill_when and proc.poll() is None:
            if len(list(out.glob(kill_when["pattern"]))) >= kill_when["count"]:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(timeout=300)
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr.read()[-3000:]
        return proc.returncode

    _check_resume(tmp_path / "ref", tmp_path / "out", run, "*.png")
