"""``ckpt_path=last`` for ocseg-eval and ocseg-predict-offsets: the newest training run's
``last.ckpt``.

Training resumes ``ckpt_path=last`` from its own runs (:mod:`ocseg.lightning.resume`); the tools
that read a trained network take the newest ``checkpoints/last.ckpt`` under
``<paths.log_dir>/train/runs/*/`` and ``train/multiruns/*/*/`` (modification time) whose run
trained the right kind of model: a segmentation model for eval, a SegFix model for
predict_offsets (the run's ``.hydra/config.yaml`` names its task). It is resolved on the command
line, before Hydra composes it, so the checkpoint's ``model=``/``dataset=`` complete it as for
any file and the run's ``.hydra/overrides.yaml`` records the file that was used. Nothing here
imports torch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from omegaconf import OmegaConf

from ocseg.errors import OcsegError

__all__ = ["LAST", "given", "log_dir_of", "newest_last_checkpoint", "resolve_last"]

LAST = "last"
_OVERRIDE = re.compile(r"^[+]{0,2}([\w.]+)=(.*)$")


def given(args: Sequence[str], key: str) -> str | None:
    """The value the command line ``args`` gives ``key`` (the last one wins, quotes removed)."""
    value = None
    for match in filter(None, map(_OVERRIDE.match, args)):
        if match.group(1) == key:
            value = match.group(2).strip("'\"")
    return value


def log_dir_of(args: Sequence[str]) -> Path:
    """``paths.log_dir`` as the command line sets it (default ``<paths.root_dir>/logs``, the
    root being the working directory unless ``paths.root_dir=`` says otherwise)."""
    log_dir = given(args, "paths.log_dir")
    if log_dir:
        return Path(log_dir).expanduser()
    return Path(given(args, "paths.root_dir") or ".").expanduser() / "logs"


def _trained_segfix(run_dir: Path) -> bool | None:
    """Whether the run in ``run_dir`` trained a SegFix model (None: its config cannot be read)."""
    try:
        name = OmegaConf.select(OmegaConf.load(run_dir / ".hydra" / "config.yaml"), "task.name")
    except Exception:  # noqa: BLE001 - a run folder without a readable config: not ours to judge
        return None
    return None if name is None else str(name).startswith("segfix")


def newest_last_checkpoint(log_dir: str | Path, segfix: bool) -> Path | None:
    """The newest ``last.ckpt`` of a training run under ``log_dir`` that trained a SegFix model
    (``segfix``) or a segmentation model (not ``segfix``); None when there is none."""
    root = Path(log_dir) / "train"
    found = [*root.glob("runs/*/checkpoints/last.ckpt"), *root.glob("multiruns/*/*/checkpoints/last.ckpt")]
    for path in sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True):
        if _trained_segfix(path.parent.parent) in (segfix, None):
            return path
    return None


def resolve_last(args: Sequence[str], segfix: bool) -> list[str]:
    """``args`` with ``ckpt_path=last`` replaced by the newest matching ``last.ckpt``; one
    :class:`OcsegError` when there is none. Other command lines are returned unchanged."""
    if given(args, "ckpt_path") != LAST:
        return list(args)
    log_dir = log_dir_of(args)
    path = newest_last_checkpoint(log_dir, segfix)
    what = "SegFix" if segfix else "segmentation"
    if path is None:
        raise OcsegError(f"ckpt_path=last: no {what} training run with a checkpoints/last.ckpt under "
                         f"'{log_dir / 'train'}'; train one first or pass ckpt_path=<file> (set "
                         "paths.log_dir= if the runs are elsewhere)")
    print(f"ckpt_path=last: {path} (the newest {what} training run's last.ckpt)", flush=True)
    value = str(path)
    if not re.fullmatch(r"[\w./:+-]+", value):  # quoted for Hydra's override grammar
        value = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return [f"ckpt_path={value}" if given([a], "ckpt_path") is not None else a for a in args]
