"""Resuming from last.ckpt and a 2-process DDP (gloo, spawn) run on CPU (which also skips a batch
that is non-finite on one process only)."""

from __future__ import annotations

import csv

import pytest
import torch

from ocseg.tasks.train import train


def _logged_steps(run_dir):
    rows = list(csv.DictReader((run_dir / "csv" / "metrics.csv").read_text().splitlines()))
    return [int(r["step"]) for r in rows if r.get("train/loss")]


@pytest.mark.slow
def test_resume_from_last_checkpoint_continues_at_saved_step(tiny_cfg, tmp_path):
    first = tiny_cfg("schedule.max_steps=12", "schedule.val_every=6")
    train(first)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    saved = torch.load(last, map_location="cpu", weights_only=False)
    assert saved["global_step"] == 12
    lr_before = saved["lr_schedulers"][0]["last_epoch"]

    resumed = tiny_cfg("schedule.max_steps=20", "schedule.val_every=4", f"ckpt_path={last}",
                       f"paths.output_dir={tmp_path / 'run2'}")
    train(resumed)
    steps = _logged_steps(tmp_path / "run2")
    assert steps and min(steps) >= 12, steps  # no step before the saved one was re-run
    final = torch.load(tmp_path / "run2" / "checkpoints" / "last.ckpt", map_location="cpu",
                       weights_only=False)
    assert final["global_step"] == 20
    assert final["lr_schedulers"][0]["last_epoch"] == lr_before + 8


@pytest.mark.slow
def test_ddp_spawn_two_cpu_processes(tiny_cfg, tmp_path):
    """The same run also checks that DDP processes skip a non-finite batch together
    (``skip_nonfinite=true``): only rank 1's loss is NaN in step 2 (``tests/helpers/nonfinite_loss.py``);
    the run would hang if only that process skipped its backward."""
    cfg = tiny_cfg("trainer=ddp_cpu", "schedule.max_steps=4", "schedule.val_every=2",
                   "data.batch_size=2", "skip_nonfinite=true",
                   "loss._target_=helpers.nonfinite_loss.NanOnRankOne", "+loss.bad_call=2")
    metrics = train(cfg)
    assert metrics["mIoU"] == pytest.approx(2.4612, abs=1e-3)   # pinned (tiny run)
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu",
                      weights_only=False)
    assert ckpt["global_step"] == 4
    assert ckpt["callbacks"]["NumericsGuard"] == {"skipped": 1}   # rank 0, whose loss was finite
