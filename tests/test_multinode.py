"""Multi-node training: ``scripts/slurm/train.sbatch`` starts the right ``train.py`` on every
task, and Lightning under SLURM's environment splits the recipe's total batch over devices ×
nodes (no cluster needed: ``srun`` is a stand-in that records its command line)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from helpers.config import REPO, compose

SBATCH = REPO / "scripts" / "slurm" / "train.sbatch"
# what SLURM sets in every task of `sbatch --nodes=2 --ntasks-per-node=4` (here: task 5, node 1)
SLURM_TASK = {"SLURM_JOB_ID": "1234", "SLURM_JOB_NAME": "ocseg", "SLURM_JOB_NUM_NODES": "2",
              "SLURM_NNODES": "2", "SLURM_NTASKS": "8", "SLURM_NTASKS_PER_NODE": "4",
              "SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_NODEID": "1",
              "SLURM_NODELIST": "gpu[01-02]"}


def _sbatch(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """Run the batch script as SLURM would on the first node; returns srun's arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    srun = bin_dir / "srun"
    srun.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {tmp_path / "srun.args"}\n')
    srun.chmod(0o755)
    environment = {**os.environ, **SLURM_TASK, **env, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(SBATCH), *args], cwd=tmp_path, env=environment, check=True,
                   capture_output=True, text=True)
    return (tmp_path / "srun.args").read_text().splitlines()


def test_sbatch_starts_train_py_on_every_gpu_of_every_node(tmp_path):
    args = _sbatch(tmp_path, "experiment=mapillary_hrnet48_ocr_b", "dataset.root=/data/mapillary")
    assert args == ["--kill-on-bad-exit=1", "python", "train.py", "trainer=ddp", "trainer.devices=4",
                    "trainer.num_nodes=2", "hydra.run.dir=logs/train/slurm/ocseg-1234",
                    "experiment=mapillary_hrnet48_ocr_b", "dataset.root=/data/mapillary"]
    # a resubmission into the same folder continues from its last checkpoint
    run = tmp_path / "logs" / "train" / "slurm" / "ocseg-1234"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    again = _sbatch(tmp_path, "experiment=mapillary_hrnet48_ocr_b",
                    RUN_DIR="logs/train/slurm/ocseg-1234")
    assert "ckpt_path=logs/train/slurm/ocseg-1234/checkpoints/last.ckpt" in again
    assert subprocess.run(["bash", "-n", str(SBATCH)]).returncode == 0


def test_lightning_under_slurm_divides_the_total_batch_over_devices_and_nodes(tmp_path, monkeypatch):
    from hydra.utils import instantiate

    args = _sbatch(tmp_path, "experiment=mapillary_hrnet48_ocr_b")
    overrides = [a for a in args[3:] if not a.startswith("hydra.")]
    # the same command on a CPU: ranks come from SLURM's variables, not from a launcher
    cfg = compose("train", [*overrides, "trainer.accelerator=cpu", "trainer.sync_batchnorm=false",
                            "trainer.precision=32-true", f"paths.output_dir={tmp_path / 'run'}"])
    assert (cfg.trainer.devices, cfg.trainer.num_nodes, cfg.data.global_batch_size) == (4, 2, 16)
    for key, value in SLURM_TASK.items():
        monkeypatch.setenv(key, value)
    # the Trainer records this process as rank 5 in Lightning's process-wide rank_zero_only.rank,
    # which would silence every later test's rank-zero logging (CSV logs, status lines)
    from lightning_utilities.core.rank_zero import rank_zero_only

    monkeypatch.setattr(rank_zero_only, "rank", getattr(rank_zero_only, "rank", 0))
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert type(trainer.strategy.cluster_environment).__name__ == "SLURMEnvironment"
    assert (trainer.world_size, trainer.global_rank, trainer.node_rank, trainer.local_rank) == (8, 5, 1, 1)
    datamodule = instantiate(cfg.data)
    # tasks/train.py: the recipe's 16 images per step → 2 per GPU on 2 nodes × 4 GPUs
    assert datamodule.set_world_size(trainer.world_size) == 2
