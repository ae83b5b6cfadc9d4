"""Every path that comes from a file's contents stays inside its folder (``ocseg.io.contained``).

Sources: an instance submission's mask paths (``refine.py mode=instance``), offsets archive
members and offsets folders, prepare's downloaded archives and list files, and symbolic links in
input and output folders. Each is tried with ``..``, an absolute path and a symbolic link; each
test asserts on the file system that nothing appeared or changed outside the output folder (and,
for a refusal, nothing inside it either), and that the refusal is one line naming the file and
the entry.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers.config import REPO
from helpers.data_fakes import pascal_context_raw, write_png
from ocseg.errors import OcsegError, PathEscapeError

H, W = 12, 16


def snapshot(folder: Path, skip: tuple[str, ...] = ("run",)) -> dict[str, tuple[int, int]]:
    """Every file (and link) under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in folder.rglob("*") if p.relative_to(folder).parts[0] not in skip and not p.is_dir()}


def refine_cli(tmp: Path, *args: str) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    done = subprocess.run([sys.executable, str(REPO / "refine.py"), *args, f"hydra.run.dir={tmp / 'run'}",
                           "workers=1", f"metrics_file={tmp / 'run' / 'metrics.json'}"],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stderr


def one_error(rc: int, stderr: str) -> str:
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert rc == 2, stderr[-3000:]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
    return errors[0]


# ---- refine.py mode=instance: mask paths listed in <name>_pred.txt ---------------------------
def _mask(path: Path, value: int = 1) -> Path:
    mask = np.zeros((H, W), np.uint8)
    mask[2:8, 3:11] = value
    write_png(path, mask)
    return path


def _submission(tmp: Path, line: str) -> tuple[Path, Path, Path]:
    """``tmp/preds/a_pred.txt`` listing ``line`` and a fine mask, offsets, and the output folder
    two levels down (so a ``../`` escape from it still lands inside ``tmp``)."""
    from ocseg.segfix.offsets.files import write_offsets

    preds = tmp / "preds"
    _mask(preds / "masks" / "a_0.png")
    (preds / "a_pred.txt").write_text(f"masks/a_0.png 26 0.9\n{line} 26 0.8\n")
    write_offsets(tmp / "offsets" / "a.mat", np.ones((H, W, 2), np.int8))
    return preds, tmp / "offsets", tmp / "o1" / "o2" / "out"


def _escape_variants(tmp: Path) -> dict[str, str]:
    outside = _mask(tmp / "elsewhere" / "m.png", 2)
    (tmp / "preds").mkdir(parents=True, exist_ok=True)
    os.symlink(tmp / "elsewhere", tmp / "preds" / "link")
    return {"dotdot": "../elsewhere/m.png", "absolute": str(outside), "symlink": "link/m.png"}


@pytest.mark.parametrize("variant", ["dotdot", "absolute", "symlink"])
def test_instance_list_cannot_read_or_write_outside(tmp_path, variant):
    """The defect: a line ``../x/m.png`` (or an absolute path) was written to ``output / name``,
    outside ``output=``, and the run exited 0."""
    line = _escape_variants(tmp_path)[variant]
    preds, offsets, out = _submission(tmp_path, line)
    before = snapshot(tmp_path)
    rc, stderr = refine_cli(tmp_path, "mode=instance", f"input={preds}", f"offsets={offsets}", f"output={out}")
    error = one_error(rc, stderr)
    assert "a_pred.txt" in error and line in error and "leads outside" in error, error
    assert snapshot(tmp_path) == before  # nothing appeared or changed anywhere, output included
    assert not (tmp_path / "o1" / "o2" / "elsewhere").exists()


def test_instance_output_folder_with_a_link_out_is_refused(tmp_path):
    """A mask path that is fine for the input but whose output would pass through a symbolic
    link in the output folder leading out of it."""
    preds, offsets, out = _submission(tmp_path, "sub/b_1.png")
    _mask(preds / "sub" / "b_1.png")
    (tmp_path / "elsewhere").mkdir()
    out.mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere", out / "sub")
    before = snapshot(tmp_path)
    error = one_error(*refine_cli(tmp_path, "mode=instance", f"input={preds}", f"offsets={offsets}",
                                  f"output={out}"))
    assert "sub/b_1.png" in error and "symbolic link" in error, error
    assert snapshot(tmp_path) == before and not any((tmp_path / "elsewhere").iterdir())


def test_instance_list_inside_its_folder_is_refined(tmp_path):
    preds, offsets, out = _submission(tmp_path, "masks/sub/a_1.png")
    _mask(preds / "masks" / "sub" / "a_1.png")
    rc, stderr = refine_cli(tmp_path, "mode=instance", f"input={preds}", f"offsets={offsets}", f"output={out}")
    assert rc == 0, stderr[-3000:]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a_pred.txt", "masks/a_0.png", "masks/sub/a_1.png"]


# ---- refine.py semantic: symbolic links in the input and output folders ----------------------
def _semantic(tmp: Path) -> tuple[Path, Path]:
    from ocseg.segfix.offsets.files import write_offsets

    for name in ("a", "sub/b"):
        _mask(tmp / "preds" / f"{name}.png")
        write_offsets(tmp / "offsets" / f"{Path(name).name}.mat", np.ones((H, W, 2), np.int8))
    return tmp / "preds", tmp / "offsets"


def test_semantic_input_that_links_out_is_refused(tmp_path):
    preds, offsets = _semantic(tmp_path)
    secret = _mask(tmp_path / "elsewhere" / "secret.png", 3)
    os.symlink(secret, preds / "c.png")
    from ocseg.segfix.offsets.files import write_offsets

    write_offsets(offsets / "c.mat", np.ones((H, W, 2), np.int8))
    before = snapshot(tmp_path)
    error = one_error(*refine_cli(tmp_path, f"input={preds}", f"offsets={offsets}", f"output={tmp_path / 'out'}"))
    assert "c.png" in error and "symbolic link" in error and "input=" in error, error
    assert snapshot(tmp_path) == before


def test_semantic_output_subfolder_that_links_out_is_refused(tmp_path):
    preds, offsets = _semantic(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "out" / "sub")
    before = snapshot(tmp_path)
    error = one_error(*refine_cli(tmp_path, f"input={preds}", f"offsets={offsets}", f"output={tmp_path / 'out'}"))
    assert "sub/b.png" in error and "leads outside" in error, error
    assert snapshot(tmp_path) == before


# ---- offsets: archive members and folder links -----------------------------------------------
@pytest.mark.parametrize("member", ["../a.mat", "/abs/a.mat", "x/../../a.mat"])
def test_offsets_archive_member_outside_is_refused(tmp_path, member):
    from ocseg.segfix.offsets.store import OffsetStore

    archive = tmp_path / "offset_semantic.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("semantic/b.mat", b"")
        zf.writestr(member, b"")
    with pytest.raises(PathEscapeError) as exc:
        OffsetStore(archive)
    assert str(archive) in str(exc.value) and member in str(exc.value)


def test_offsets_folder_file_that_links_out_is_refused(tmp_path):
    from ocseg.segfix.offsets.files import write_offsets
    from ocseg.segfix.offsets.store import OffsetStore

    write_offsets(tmp_path / "elsewhere" / "a.mat", np.zeros((H, W, 2), np.int8))
    (tmp_path / "offsets").mkdir()
    os.symlink(tmp_path / "elsewhere" / "a.mat", tmp_path / "offsets" / "a.mat")
    with pytest.raises(PathEscapeError, match=r"offset file '.*offsets/a.mat' is a symbolic link to .*offsets="):
        OffsetStore(tmp_path / "offsets")


# ---- ocseg-prepare: downloaded archives and list files --------------------------------------
@pytest.mark.parametrize("variant", ["dotdot", "absolute", "symlink"])
def test_archive_member_outside_is_refused_before_anything_is_written(tmp_path, variant):
    from ocseg.data.prepare.common import unpack

    dest = tmp_path / "raw"
    dest.mkdir()
    name = {"dotdot": "top/../../evil.txt", "absolute": str(tmp_path / "evil.txt"), "symlink": "link/evil.txt"}[variant]
    if variant == "symlink":  # a folder of the download that links elsewhere
        (tmp_path / "elsewhere").mkdir()
        os.symlink(tmp_path / "elsewhere", dest / "link")
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("top/fine.txt", "fine")
        zf.writestr(name, "evil")
    before = snapshot(tmp_path)
    with pytest.raises(PathEscapeError) as exc:
        unpack(archive, dest)
    assert "download.zip" in str(exc.value) and name in str(exc.value)
    assert snapshot(tmp_path) == before


def test_tar_links_are_not_extracted(tmp_path):
    from ocseg.data.prepare.common import unpack

    archive = tmp_path / "download.tar"
    with tarfile.open(archive, "w") as tf:
        link = tarfile.TarInfo("top/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
        hard = tarfile.TarInfo("top/hard")
        hard.type, hard.linkname = tarfile.LNKTYPE, "../../outside"
        tf.addfile(hard)
    assert unpack(archive, tmp_path / "raw") == 0
    assert not (tmp_path / "raw" / "top").exists()


@pytest.mark.parametrize("name", ["../../../evil", "/tmp/evil_ocseg_name"])
def test_list_file_names_outside_are_refused_before_anything_is_written(tmp_path, name):
    from ocseg.data.prepare import pascal_context

    raw = tmp_path / "raw"
    pascal_context_raw(raw)
    for archive in raw.glob("*.tar*"):
        with tarfile.open(archive) as tf:
            tf.extractall(raw, filter="data")
    listing = next(raw.rglob("ImageSets/Main/val.txt"))
    listing.write_text(f"2008_000007\n{name}\n")
    out = tmp_path / "out"
    with pytest.raises(PathEscapeError) as exc:
        pascal_context.prepare(raw, out)
    assert str(listing) in str(exc.value) and name in str(exc.value)
    assert not out.exists()  # the train split (listed first) was not written either


def test_a_name_inside_passes():
    from ocseg.io.contained import contained, relative_name

    assert relative_name("a/./b.png", "list.txt").as_posix() == "a/b.png"
    assert contained("/srv/data", "sub/x.png", "list.txt") == Path("/srv/data/sub/x.png")
    for bad in ("", "a/../../b", "/etc/passwd", "\\\\server\\share", "a\x00b"):
        with pytest.raises(OcsegError, match="list.txt"):
            relative_name(bad, "list.txt")
