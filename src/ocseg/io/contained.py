"""Keeping paths that come from a file's contents inside their folder.

A mask path in an instance submission list, a member of a downloaded archive, an image name in
a dataset's list file or the target of a symbolic link is data someone else wrote. Joined to a
folder unchecked, ``../../x`` or ``/home/me/.bashrc`` would make a tool read or write anywhere.
:func:`relative_name` refuses absolute names and ``..``; :func:`contained` also follows the
symbolic links that exist on the way and refuses a path that ends outside the folder;
:func:`links_inside` does that for files found by walking a folder. Each refusal is one
:class:`~ocseg.errors.PathEscapeError` naming the file the name came from and the entry.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Iterable

from ocseg.errors import PathEscapeError

__all__ = ["relative_name", "contained", "links_inside"]

_FIX = "entries must be relative paths inside that folder; correct or remove it"


def relative_name(name: str, source: str | Path, what: str = "entry") -> PurePosixPath:
    """``name`` as a relative path; absolute names, ``..`` parts, empty names and NUL bytes are
    a :class:`PathEscapeError` naming ``source`` (the file ``name`` was read from)."""
    why = None
    text = str(name)
    parts = PurePosixPath(text.replace("\\", "/")).parts
    if not text.strip() or "\x00" in text:
        why = "an empty name" if not text.strip() else "a NUL byte in the name"
    elif text.startswith(("/", "\\")):
        why = "an absolute path"
    elif ".." in parts:
        why = "'..' in the path"
    if why is not None:
        raise PathEscapeError(f"{what} '{text}' in '{source}' leads outside its folder ({why}); {_FIX}")
    return PurePosixPath(*parts)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _real(path: Path, source: str | Path, what: str) -> Path:
    """``path`` with every symbolic link followed; a loop of links is refused."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as exc:  # RuntimeError: pathlib's "Symlink loop"
        raise PathEscapeError(f"{what} '{path}' from '{source}' cannot be followed ({exc}); replace "
                              "the symbolic link by the file") from None


def contained(root: str | Path, name: str, source: str | Path, what: str = "entry") -> Path:
    """``root / name`` for a ``name`` read from ``source``: refused (:class:`PathEscapeError`) when
    :func:`relative_name` refuses it or when a symbolic link on the way leads out of ``root``."""
    folder = Path(root)
    target = folder / relative_name(name, source, what)
    real_root, real = _real(folder, source, "folder"), _real(target, source, what)
    if not _inside(real, real_root):
        raise PathEscapeError(f"{what} '{name}' in '{source}' leads outside '{folder}' (a symbolic "
                              f"link on the way points to '{real}'); {_FIX}")
    return target


def links_inside(root: str | Path, paths: Iterable[Path], what: str, option: str) -> None:
    """Refuse (:class:`PathEscapeError`) the first of ``paths`` (found under ``root``, given as
    ``option``) that is, or lies under, a symbolic link leading out of ``root``."""
    folder = Path(root)
    real_root = _real(folder, option, "folder")
    for path in paths:
        real = _real(Path(path), option, what)
        if not _inside(real, real_root):
            raise PathEscapeError(
                f"{what} '{path}' is a symbolic link to '{real}', outside {option}'{folder}'; copy "
                f"the file into the folder, or point {option} at the folder it is in")
