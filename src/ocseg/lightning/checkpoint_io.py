"""Checkpoint files written atomically: a kill at any moment leaves either the previous complete
file or the new complete file at a checkpoint's name, never a truncated one.

Why Lightning's own writer is not enough (lightning 2.6.6, fsspec 2026.9): ``TorchCheckpointIO``
calls the atomic-save helper of ``lightning.fabric.utilities.cloud_io``, which serialises into memory and
writes the bytes inside an fsspec transaction. For a local path fsspec's ``LocalFileOpener``
then writes them to a temporary file made by ``tempfile.mkstemp()`` *without* ``dir=``, i.e. in
the system temporary folder (``$TMPDIR``, usually ``/tmp``), and on commit calls
``shutil.move(temp, path)``. When ``/tmp`` and the run folder are on different file systems (a
node's local ``/tmp`` and a shared log folder, the usual cluster layout), ``os.rename`` fails with
``EXDEV`` and ``shutil.move`` falls back to ``copy2``, which opens the final name for writing and
copies into it: a kill during that copy leaves a truncated ``last.ckpt`` that the next resume
would trust. Nothing is fsynced either, and a kill before the commit leaves the whole checkpoint
behind in ``/tmp``.

:class:`AtomicCheckpointIO` (set as a Trainer plugin in ``conf/trainer/default.yaml``) writes the
temporary file in the checkpoint's own folder (``.<name>.<random>.tmp``, which never matches
``*.ckpt``), fsyncs it, renames it over the final name with ``os.replace`` (atomic on one file
system) and fsyncs the folder so the rename itself survives a crash. Leftover temporary files of
a killed save are removed before the same name is written again (:func:`remove_leftovers` for a
whole folder); the resume search ignores them.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ocseg.io.atomic import atomic_path
from ocseg.io.safe_load import files_trusted, load_torch

__all__ = ["AtomicCheckpointIO", "TEMP_SUFFIX", "is_local", "remove_leftovers"]

log = logging.getLogger(__name__)

#: suffix of the temporary file of a save in progress (``.last.ckpt.k3j9x1.tmp``)
TEMP_SUFFIX = ".tmp"


def _leftovers(folder: Path, name: str = "*") -> list[Path]:
    return sorted(folder.glob(f".{name}.*{TEMP_SUFFIX}"))


def remove_leftovers(folder: str | Path) -> list[Path]:
    """Delete the temporary files that killed saves left in ``folder``; returns them. Only for a
    folder no running process is saving into (a run's own checkpoint folder before it trains)."""
    removed = []
    for path in _leftovers(Path(folder)):
        path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        log.info("removed %d temporary file(s) of interrupted checkpoint saves in %s",
                 len(removed), folder)
    return removed


def is_local(path: Any) -> bool:
    """A local path or ``file://`` URL, not a remote one (``s3://``, ``gs://``, ``memory://``,
    chained ``simplecache::s3://``…): what fsspec calls the ``file`` protocol."""
    parts = re.split(r"::|://", str(path), maxsplit=1)
    return len(parts) == 1 or parts[0] == "file"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform or file system without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary file beside the target, fsync, ``os.replace``, fsync the
    folder. Remote paths (``s3://`` …) keep Lightning's writer: object stores publish an object
    only once it is complete. ``trust``: unpickle anything a checkpoint to resume holds (None: as
    the enclosing :func:`~ocseg.io.safe_load.trusted_files` block says when the plugin is built)."""

    def __init__(self, trust: bool | None = None) -> None:
        super().__init__()
        self.trust = files_trusted() if trust is None else bool(trust)

    def load_checkpoint(self, path, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        if not is_local(path):
            return super().load_checkpoint(path, map_location, weights_only=not self.trust)
        local = Path(str(path).removeprefix("file://"))
        return load_torch(local, f"checkpoint '{local}'", trust=self.trust,
                          map_location=map_location if map_location is not None else "cpu")

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or not is_local(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        target = Path(str(path).removeprefix("file://"))
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in _leftovers(target.parent, target.name):
            stale.unlink(missing_ok=True)
        with atomic_path(target, suffix=TEMP_SUFFIX) as tmp:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
        _fsync_dir(target.parent)
