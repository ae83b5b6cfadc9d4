"""User-facing errors: one clear line that names the file or option and the fix.

Code anywhere in the package raises :class:`OcsegError` for problems a user can fix (a missing
dataset folder, a checkpoint of the wrong model, ...). The entry points catch it and print its
message alone, without a traceback (see :mod:`ocseg.app.cli`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

__all__ = ["OcsegError", "require_dir", "require_file", "require_unique_stems", "require_output_dir"]


class OcsegError(Exception):
    """A problem with the user's input, reported as one line: what is wrong and how to fix it."""


def require_dir(path: str | Path, what: str, fix: str) -> Path:
    """Return ``path`` as a Path, or raise :class:`OcsegError` if it is not a directory."""
    p = Path(path)
    if not p.is_dir():
        raise OcsegError(f"{what} not found: '{p}' is not a directory; {fix}")
    return p


def require_file(path: str | Path, what: str, fix: str) -> Path:
    """Return ``path`` as a Path, or raise :class:`OcsegError` if it is not a file."""
    p = Path(path)
    if not p.is_file():
        raise OcsegError(f"{what} not found: '{p}' is not a file; {fix}")
    return p


def require_unique_stems(paths: Iterable[Path], what: str, fix: str) -> dict[str, Path]:
    """``{stem: path}`` of files whose outputs are named by stem; two files with one stem
    raise :class:`OcsegError` naming both (``what``: "labels", "images", ...)."""
    by_stem: dict[str, Path] = {}
    for path in paths:
        if path.stem in by_stem:
            raise OcsegError(f"{what} '{by_stem[path.stem]}' and '{path}' share the stem "
                             f"'{path.stem}' and would be written to the same output; {fix}")
        by_stem[path.stem] = path
    return by_stem


def require_output_dir(path: str | Path, option: str) -> Path:
    """Create the output folder ``path`` (given as ``option``, e.g. ``"output_dir="``) if needed
    and make sure files can be written in it, before a tool does any work; otherwise raise
    :class:`OcsegError` naming the option."""
    import tempfile

    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise OcsegError(f"{option}'{p}' is a file, not a folder; choose a folder with {option}<folder>")
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=p):
            pass
    except OSError as exc:
        raise OcsegError(f"cannot write to {option}'{p}' ({exc.strerror or exc}); choose a writable "
                         f"folder with {option}<folder>") from None
    return p
