"""With ``seed=`` set, two CPU runs of a few steps give identical losses and metrics; another seed
gives other losses (so the comparison can fail). Data loading runs in 2 worker processes, whose
augmentation randomness Lightning seeds from ``seed`` (``seed_everything(workers=True)``)."""

from __future__ import annotations

import csv
import json

from ocseg.tasks.train import train

STEPS = 4


def run(tiny_cfg, tmp_path, name: str, seed: int) -> tuple[list[float], dict]:
    out = tmp_path / name
    cfg = tiny_cfg("model=tiny_fcn", f"seed={seed}", f"schedule.max_steps={STEPS}",
                   f"schedule.val_every={STEPS}", "data.num_workers=2", "data.batch_size=2",
                   f"paths.output_dir={out}")
    train(cfg)
    rows = list(csv.DictReader((out / "csv" / "metrics.csv").read_text().splitlines()))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    metrics = json.loads((out / "metrics.json").read_text())
    metrics.pop("best_checkpoint")   # a path inside the run folder
    return losses, metrics


def test_two_runs_with_the_same_seed_are_identical(tiny_cfg, tmp_path, single_thread):
    losses_a, metrics_a = run(tiny_cfg, tmp_path, "a", seed=7)
    losses_b, metrics_b = run(tiny_cfg, tmp_path, "b", seed=7)
    assert len(losses_a) == STEPS and metrics_a["step"] == STEPS
    assert losses_a == losses_b          # exactly, not approximately
    assert metrics_a == metrics_b        # mIoU, per-class IoU, pixel accuracy, …
    losses_c, _ = run(tiny_cfg, tmp_path, "c", seed=8)
    assert losses_c != losses_a
