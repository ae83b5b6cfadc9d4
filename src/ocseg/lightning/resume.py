"""``ckpt_path=last``: find the newest valid checkpoint of an interrupted run and resume it.

Where it looks, in order:

1. this run's own folder (``${paths.output_dir}``: ``checkpoints/*.ckpt`` and Lightning's SLURM
   ``hpc_ckpt_*.ckpt``). It holds the interrupted run's files when the folder is fixed on the
   command line (``hydra.run.dir=…``), which is how a requeued job finds its own run again.
2. earlier runs of the *same command*: a plain re-run gets a new timestamped folder, so the run
   folders under ``${paths.log_dir}/${task_name}/runs/`` whose ``.hydra/overrides.yaml`` lists the
   same overrides as this run, apart from ``ckpt_path=`` (compared as sets), are searched too,
   their files newest first whichever run wrote them.

Within each step files are tried newest first (modification time; ``last.ckpt`` first on a tie).
A file that cannot be read (truncated, not a zip archive, not a training checkpoint) is skipped
with one warning naming it; the first valid one is resumed. None valid: a warning, and training
starts at step 0. An explicit ``ckpt_path=<file>`` is never replaced: a bad file is one error.
Temporary files of killed saves (``.<name>.*.tmp``) never match ``*.ckpt``, so they are never
resumed; those in this run's own checkpoint folder are removed before training (those of earlier
run folders are left alone: another process could be saving there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from omegaconf import ListConfig, OmegaConf

from ocseg.checkpoints.files import checkpoint_kind, read_checkpoint
from ocseg.checkpoints.zoo import resolve_checkpoint
from ocseg.errors import OcsegError
from ocseg.lightning.checkpoint_io import remove_leftovers

__all__ = ["LAST", "Resume", "checkpoint_problem", "find_last_checkpoint", "resolve_ckpt_path",
           "same_command_runs"]

log = logging.getLogger(__name__)

#: the ``ckpt_path`` value that asks for the newest valid checkpoint of the run
LAST = "last"
_TRAINING_KEYS = ("state_dict", "global_step", "loops")


@dataclass
class Resume:
    """A checkpoint chosen for ``ckpt_path``: its path and its contents (read once, on CPU)."""

    path: Path
    checkpoint: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.checkpoint.get("global_step", 0))


def checkpoint_problem(path: str | Path, trust: bool = False) -> tuple[str | None, dict | None]:
    """``(None, contents)`` for a complete ocseg training checkpoint, else ``(why not, None)``."""
    try:
        obj = read_checkpoint(path, trust=trust)
    except OcsegError as exc:
        return str(exc), None
    if checkpoint_kind(obj) != "lightning" or not all(k in obj for k in _TRAINING_KEYS):
        return f"'{path}' holds no training state (not a checkpoint written by train.py)", None
    return None, obj


def _run_checkpoints(run_dir: Path) -> list[Path]:
    return [*(run_dir / "checkpoints").glob("*.ckpt"), *run_dir.glob("hpc_ckpt_*.ckpt")]


def _newest_first(paths: Iterable[Path]) -> list[Path]:
    def key(p: Path):
        try:
            mtime = p.stat().st_mtime_ns
        except OSError:  # removed meanwhile
            mtime = -1
        return mtime, p.name == "last.ckpt"

    return sorted(paths, key=key, reverse=True)


def _override_key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def same_command_runs(runs_dir: str | Path, overrides: Iterable[str],
                      exclude: str | Path | None = None) -> list[Path]:
    """Run folders in ``runs_dir`` started with the same overrides as ``overrides`` apart from
    ``ckpt_path=`` (a folder without a readable ``.hydra/overrides.yaml`` is not one)."""
    wanted = sorted(o for o in overrides if _override_key(o) != "ckpt_path")
    root = Path(runs_dir)
    skip = Path(exclude).resolve() if exclude is not None else None
    runs = []
    for folder in (sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []):
        if skip is not None and folder.resolve() == skip:
            continue
        try:
            listed = OmegaConf.load(folder / ".hydra" / "overrides.yaml")
        except Exception:  # noqa: BLE001 - missing or unreadable: not a run of this command
            continue
        if not isinstance(listed, ListConfig):
            continue
        if sorted(str(o) for o in listed if _override_key(str(o)) != "ckpt_path") == wanted:
            runs.append(folder)
    return runs


def find_last_checkpoint(run_dir: str | Path, earlier_runs: Iterable[str | Path] = (),
                         trust: bool = False) -> Resume | None:
    """The newest valid checkpoint in ``run_dir``, else in ``earlier_runs`` (newest first across
    them); each unreadable file on the way is skipped with one warning. None: nothing valid."""
    for candidates in (_run_checkpoints(Path(run_dir)),
                       [p for run in earlier_runs for p in _run_checkpoints(Path(run))]):
        for path in _newest_first(candidates):
            problem, obj = checkpoint_problem(path, trust=trust)
            if problem is None:
                return Resume(path, obj)
            log.warning("ckpt_path=last: skipping %s, it cannot be resumed: %s", path, problem)
    return None


def resolve_ckpt_path(ckpt_path: str | None, run_dir: str | Path, runs_dir: str | Path,
                      overrides: Iterable[str], trust: bool = False) -> Resume | None:
    """What ``ckpt_path`` resumes or initialises from: an explicit file (read, or one
    :class:`OcsegError` naming it), the newest valid checkpoint for ``last``, or None (a fresh
    start). ``run_dir`` is this run's folder, ``runs_dir`` the folder of the earlier runs of
    this tool and ``overrides`` this run's command-line overrides."""
    remove_leftovers(Path(run_dir) / "checkpoints")
    if not ckpt_path:
        return None
    if str(ckpt_path) != LAST:
        path = Path(resolve_checkpoint(ckpt_path))   # zoo:<name>: the released file, fetched once
        return Resume(path, read_checkpoint(path, trust=trust))
    found = find_last_checkpoint(run_dir, same_command_runs(runs_dir, overrides, exclude=run_dir),
                                 trust=trust)
    if found is None:
        log.warning("ckpt_path=last: no valid checkpoint in %s or in an earlier run of this command "
                    "under %s; training starts at step 0", run_dir, runs_dir)
        return None
    log.info("ckpt_path=last: resuming %s (step %d)", found.path, found.step)
    return found
