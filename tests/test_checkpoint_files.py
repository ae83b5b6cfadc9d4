"""Checkpoint files are written atomically beside their target, and ``ckpt_path=last`` finds the
newest valid one of a run (or of an earlier run of the same command), skipping corrupt files."""

from __future__ import annotations

import logging
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from ocseg.errors import OcsegError
from ocseg.lightning.checkpoint_io import AtomicCheckpointIO, remove_leftovers
from ocseg.lightning.resume import find_last_checkpoint, resolve_ckpt_path, same_command_runs


def training_checkpoint(step: int) -> dict:
    """The keys a Lightning training checkpoint has (what the resume search checks)."""
    return {"state_dict": {"w": torch.full((4,), float(step))}, "global_step": step, "epoch": 0,
            "loops": {}, "pytorch-lightning_version": "2.6.6"}


def write(path: Path, obj, mtime: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(obj, bytes):
        path.write_bytes(obj)
    else:
        torch.save(obj, path)
    os.utime(path, ns=(mtime * 10**9, mtime * 10**9))
    return path


def truncated(obj) -> bytes:
    """What a kill during a non-atomic save leaves: the first part of a real checkpoint file."""
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


# -- atomic writes -------------------------------------------------------------------------------

def test_atomic_io_writes_a_temp_file_beside_the_target_then_replaces(tmp_path, monkeypatch):
    target = tmp_path / "run" / "checkpoints" / "last.ckpt"
    write(target, training_checkpoint(1), mtime=1)
    renames = []
    real_replace = os.replace

    def spy(src, dst):
        renames.append((Path(src), Path(dst), Path(src).stat().st_size))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    AtomicCheckpointIO().save_checkpoint(training_checkpoint(2), str(target))
    [(src, dst, size)] = renames
    assert src.parent == target.parent and dst == target and size > 0
    assert src.name.startswith(".last.ckpt.") and src.name.endswith(".tmp") and not src.exists()
    assert torch.load(target, weights_only=True)["global_step"] == 2
    # the permissions a plain open() gives (mkstemp would make it private)
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_save_keeps_the_previous_file_and_leaves_no_temp(tmp_path):
    target = write(tmp_path / "last.ckpt", training_checkpoint(3), mtime=1)
    with pytest.raises((AttributeError, pickle.PicklingError)):  # a lambda cannot be pickled: torch.save fails half-way
        AtomicCheckpointIO().save_checkpoint({"global_step": 4, "bad": lambda: 0}, str(target))
    assert torch.load(target, weights_only=True)["global_step"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_leftovers_of_killed_saves_are_removed_before_the_same_name_is_written(tmp_path):
    stale = tmp_path / ".last.ckpt.dead1234.tmp"
    other = tmp_path / ".best-step000004.ckpt.dead5678.tmp"
    stale.write_bytes(b"PK\x03\x04 half a checkpoint")
    other.write_bytes(b"PK\x03\x04")
    AtomicCheckpointIO().save_checkpoint(training_checkpoint(5), str(tmp_path / "last.ckpt"))
    assert not stale.exists() and other.exists()
    assert remove_leftovers(tmp_path) == [other] and not other.exists()


def test_lightning_default_writer_goes_through_the_system_temp_folder(tmp_path, monkeypatch):
    """Why AtomicCheckpointIO exists: Lightning's writer commits with shutil.move from a temp file
    in $TMPDIR, which across file systems copies into the final name (not atomic)."""
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    moves = []
    real_move = shutil.move
    monkeypatch.setattr(shutil, "move", lambda src, dst, *a, **k: (moves.append((src, dst)),
                                                                   real_move(src, dst, *a, **k)))
    target = tmp_path / "ckpts" / "last.ckpt"
    TorchCheckpointIO().save_checkpoint(training_checkpoint(1), str(target))
    [(src, dst)] = moves
    assert Path(dst) == target and Path(src).parent != target.parent


# -- ckpt_path=last ------------------------------------------------------------------------------

def test_last_skips_corrupt_files_newest_first_with_one_warning_each(tmp_path, caplog):
    ckpts = tmp_path / "run" / "checkpoints"
    write(ckpts / "best-step000004.ckpt", training_checkpoint(4), mtime=10)
    write(ckpts / "periodic.ckpt", training_checkpoint(6), mtime=20)
    write(ckpts / "last.ckpt", truncated(training_checkpoint(8)), mtime=40)   # killed save
    write(ckpts / "notzip.ckpt", b"this is not a checkpoint at all", mtime=35)
    write(ckpts / "weights.ckpt", {"net.w": torch.ones(2)}, mtime=30)          # no training state
    write(ckpts / ".last.ckpt.abcd1234.tmp", truncated(training_checkpoint(9)), mtime=50)
    with caplog.at_level(logging.WARNING, logger="ocseg.lightning.resume"):
        found = find_last_checkpoint(tmp_path / "run")
    assert found.path == ckpts / "periodic.ckpt" and found.step == 6
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == 3
    for name in ("last.ckpt", "notzip.ckpt", "weights.ckpt"):
        assert sum(name in m and "skipping" in m for m in skipped) == 1, skipped
    assert not any(".tmp" in m for m in skipped)


def test_last_with_nothing_valid_starts_fresh_with_a_warning(tmp_path, caplog):
    run = tmp_path / "logs" / "train" / "runs" / "now"
    write(run / "checkpoints" / "last.ckpt", truncated(training_checkpoint(3)), mtime=1)
    with caplog.at_level(logging.WARNING, logger="ocseg.lightning.resume"):
        assert resolve_ckpt_path("last", run, run.parent, []) is None
    assert "training starts at step 0" in caplog.text and "last.ckpt" in caplog.text


def test_an_explicit_corrupt_path_is_one_error_naming_it(tmp_path):
    bad = write(tmp_path / "last.ckpt", truncated(training_checkpoint(3)), mtime=1)
    with pytest.raises(OcsegError) as err:
        resolve_ckpt_path(str(bad), tmp_path / "run", tmp_path, [])
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


def overrides_file(run: Path, overrides: list[str]) -> Path:
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    return run


def test_earlier_runs_of_the_same_command_are_matched_apart_from_ckpt_path(tmp_path):
    runs = tmp_path / "runs"
    cmd = ["schedule.max_steps=12", "dataset.root=/data/x"]
    same = overrides_file(runs / "2024-01-01_10-00-00", cmd)
    resumed = overrides_file(runs / "2024-01-01_11-00-00", [*cmd[::-1], "ckpt_path=last"])
    overrides_file(runs / "2024-01-01_12-00-00", ["schedule.max_steps=13", "dataset.root=/data/x"])
    overrides_file(runs / "2024-01-01_13-00-00", cmd[:1])
    (runs / "2024-01-01_14-00-00").mkdir()  # no .hydra: not a run of anything
    current = overrides_file(runs / "2024-01-01_15-00-00", [*cmd, "ckpt_path=last"])
    assert same_command_runs(runs, [*cmd, "ckpt_path=last"], exclude=current) == [same, resumed]


def test_last_prefers_this_run_folder_then_the_newest_file_of_earlier_runs(tmp_path):
    runs = tmp_path / "logs" / "train" / "runs"
    cmd = ["seed=3"]
    first = overrides_file(runs / "a", cmd)
    second = overrides_file(runs / "b", [*cmd, "ckpt_path=last"])
    other = overrides_file(runs / "c", ["seed=4"])
    current = overrides_file(runs / "d", [*cmd, "ckpt_path=last"])
    write(first / "checkpoints" / "last.ckpt", training_checkpoint(6), mtime=10)
    write(second / "checkpoints" / "last.ckpt", training_checkpoint(9), mtime=20)
    write(second / "checkpoints" / "last.ckpt", truncated(training_checkpoint(12)), mtime=30)
    write(second / "checkpoints" / "best-step000009.ckpt", training_checkpoint(9), mtime=25)
    write(other / "checkpoints" / "last.ckpt", training_checkpoint(50), mtime=40)
    found = resolve_ckpt_path("last", current, runs, [*cmd, "ckpt_path=last"])
    assert found.path == second / "checkpoints" / "best-step000009.ckpt" and found.step == 9
    # a fixed run folder (hydra.run.dir=…) that holds a valid file wins over newer earlier runs
    write(current / "checkpoints" / "last.ckpt", training_checkpoint(7), mtime=5)
    assert resolve_ckpt_path("last", current, runs, cmd).step == 7
