"""Sweeps: a Hydra multirun writes one run per job and a summary of their final metrics (and the
value each job returned to the sweeper); the SLURM launcher and the Optuna search compose where
their optional plugins are installed (``ocseg[slurm]``, ``ocseg[optuna]``)."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from helpers.config import CONF, TINY
from ocseg.reproduce.stages import run_in_process


def _hydra_compose(overrides: list[str]):
    """train.yaml composed with its ``hydra`` node (the launcher and sweeper live there)."""
    from hydra import compose, initialize_config_dir

    import ocseg  # noqa: F401 - config resolvers

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def _tiny(tmp_path: Path) -> list[str]:
    return [*TINY, "dataset.generator.num_train=4", "dataset.generator.num_val=2", "logger=none",
            "schedule.max_steps=2", "schedule.val_every=2", "data.batch_size=2",
            f"paths.data_dir={tmp_path / 'data'}", f"hydra.sweep.dir={tmp_path / 'sweep'}"]


def _summary(sweep: Path) -> list[dict]:
    with open(sweep / "sweep_summary.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_multirun_writes_one_run_per_job_and_the_sweep_summary(tmp_path, single_thread, capsys):
    code = run_in_process("train", ["-m", "loss=ce,rmi", "schedule.lr=0.02", *_tiny(tmp_path)])
    assert code == 0
    sweep = tmp_path / "sweep"
    rows = _summary(sweep)
    assert [(r["job"], r["loss"], r["status"]) for r in rows] == [("0", "ce", "COMPLETED"),
                                                                  ("1", "rmi", "COMPLETED")]
    for row in rows:
        metrics = json.loads((sweep / row["job"] / "metrics.json").read_text())
        assert (sweep / row["job"] / "checkpoints" / "last.ckpt").is_file()
        # the value train.py returned to Hydra's sweeper is the run's final val mIoU
        assert float(row["objective"]) == pytest.approx(metrics["mIoU"])
        assert float(row["metrics.mIoU"]) == pytest.approx(metrics["mIoU"])
        assert int(row["metrics.step"]) == 2 and row["schedule.lr"] == "0.02"
    out = capsys.readouterr().out
    assert "sweep summary: 2 jobs" in out and f"sweep summary written to {sweep / 'sweep_summary.csv'}" in out
    # the sweep page beside the CSV, linking each job's own training page
    assert f"sweep report: {sweep / 'report.html'}" in out
    page = (sweep / "report.html").read_text()
    assert 'href="0/report.html"' in page and 'href="1/report.html"' in page and "against loss" in page
    # CE's and RMI's validation losses are on different scales: the summary says so
    assert "loss: each job's own validation loss; loss=ce, rmi are on different scales" in out


def test_jobs_of_different_losses_are_marked():
    from ocseg.app.sweep_summary import mixed_losses

    assert mixed_losses([{"loss": "ce"}, {"loss": "rmi"}, {"loss": "ce"}]) == ["ce", "rmi"]
    assert mixed_losses([{"loss": "ce"}, {"loss": "ce"}]) == [] == mixed_losses([{"loss": None}])


def test_a_failing_job_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    # both jobs stop with a user error while building the loss; the first does not end the sweep
    code = run_in_process("train", ["-m", "loss.images_per_chunk=0,-1", *_tiny(tmp_path)])
    assert code != 0                      # Hydra reports the failed sweep at its end
    rows = _summary(tmp_path / "sweep")
    assert [(r["loss.images_per_chunk"], r["status"]) for r in rows] == [("0", "FAILED"), ("-1", "FAILED")]
    assert all("loss.images_per_chunk must be a positive number" in r["error"] for r in rows)
    assert capsys.readouterr().err.count("error: ") >= 2


def test_single_runs_write_no_sweep_files(tmp_path):
    from ocseg.app.sweep_summary import SweepSummary

    cfg = _hydra_compose(["paths.output_dir=unused"])
    assert cfg.hydra.callbacks.sweep_summary._target_ == "ocseg.app.sweep_summary.SweepSummary"
    SweepSummary().on_job_end(cfg, job_return=None)         # RunMode.RUN: nothing to do
    assert not list(tmp_path.iterdir())


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:           # no hydra_plugins package at all
        return False


_SUBMITIT = _installed("hydra_plugins.hydra_submitit_launcher")


@pytest.mark.skipif(not _SUBMITIT, reason="hydra-submitit-launcher is not installed "
                                          "(pip install 'ocseg[slurm]'; it is in the dev extra)")
def test_slurm_launcher_submits_one_gpu_job_per_sweep_point(tmp_path, monkeypatch):
    """The launcher's own translation of hydra.launcher into sbatch lines (submitit), up to the
    submission: one GPU, one task, the partition and time limit, a job array of the sweep."""
    import submitit
    from hydra.utils import instantiate

    cfg = _hydra_compose(["hydra/launcher=slurm", "hydra.launcher.partition=gpu",
                          f"paths.log_dir={tmp_path}", "trainer=gpu"])
    launcher_cfg = cfg.hydra.launcher
    assert launcher_cfg._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (launcher_cfg.nodes, launcher_cfg.gpus_per_node, launcher_cfg.tasks_per_node) == (1, 1, 1)
    # submitit looks for srun before it builds a SLURM executor: a stand-in on PATH
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{__import__('os').environ['PATH']}")
    submitted = {}

    def map_array(executor, fn, *args):
        submitted["executor"], submitted["jobs"] = executor, len(args[0])
        return []

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", map_array)
    launcher = instantiate(launcher_cfg)
    launcher.setup(hydra_context=None, task_function=None, config=cfg)
    launcher.launch([["loss=ce"], ["loss=rmi"]], initial_job_idx=0)
    assert submitted["jobs"] == 2
    text = submitted["executor"]._executor._make_submission_file_text("python -u job", "uid")
    lines = set(text.splitlines())
    assert {"#SBATCH --gpus-per-node=1", "#SBATCH --ntasks-per-node=1", "#SBATCH --nodes=1",
            "#SBATCH --partition=gpu", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=64GB",
            "#SBATCH --time=2880"} <= lines
    assert str(Path(cfg.hydra.sweep.dir) / ".submitit") in text


_OPTUNA = _installed("hydra_plugins.hydra_optuna_sweeper")


@pytest.mark.skipif(not _OPTUNA, reason="hydra-optuna-sweeper is not installed (optional extra: "
                                        "pip install 'ocseg[optuna]')")
def test_optuna_search_composes_and_maximises_the_returned_score(tmp_path, single_thread):
    cfg = _hydra_compose(["hparams_search=optuna_schedule", "paths.output_dir=unused"])
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and cfg.hydra.mode.name == "MULTIRUN"
    assert str(sweeper.direction) in ("maximize", "Direction.maximize")
    assert set(sweeper.params) == {"schedule.lr", "schedule.weight_decay", "schedule.head_lr_mult"}
    # two trials at tiny sizes: Optuna's best value is the best returned val mIoU
    code = run_in_process("train", ["hparams_search=optuna_schedule", "hydra.sweeper.n_trials=2",
                                    *_tiny(tmp_path)])
    assert code == 0
    from omegaconf import OmegaConf

    best = OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml")
    rows = _summary(tmp_path / "sweep")
    assert len(rows) == 2 and all(r["status"] == "COMPLETED" for r in rows)
    assert best.best_value == pytest.approx(max(float(r["metrics.mIoU"]) for r in rows))
