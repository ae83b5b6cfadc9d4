"""User-facing errors: one clear line that names the file or option and the fix.

Code anywhere in the package raises :class:`OcsegError` for problems a user can fix (a missing
dataset folder, a checkpoint of the wrong model, ...). The entry points catch it and print its
message alone, without a traceback (see :mod:`ocseg.app.cli`).

Its subclasses say what kind of problem it is, so Python callers can catch the standard
exception they expect: :class:`ArgumentError` is also a ``ValueError``, :class:`ArgumentTypeError`
a ``TypeError``, :class:`MissingFileError` a ``FileNotFoundError``; :class:`UnsafeFileError` is a
file that loading would have to unpickle (code could run), :class:`PathEscapeError` a name from a
file's contents that points outside its folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

__all__ = ["OcsegError", "ArgumentError", "ArgumentTypeError", "MissingFileError", "UnsafeFileError",
           "PathEscapeError", "require_int", "require_choice", "require_dir", "require_file",
           "require_unique_stems", "require_output_dir"]


class OcsegError(Exception):
    """A problem with the user's input, reported as one line: what is wrong and how to fix it."""


class ArgumentError(OcsegError, ValueError):
    """An argument or option has a value outside what is allowed (the message names both)."""


class ArgumentTypeError(OcsegError, TypeError):
    """An argument has the wrong type (the message names the argument and the allowed types)."""


class MissingFileError(OcsegError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class UnsafeFileError(OcsegError):
    """A file that only unpickling arbitrary objects could load, so loading it could run code
    (:mod:`ocseg.io.safe_load`; ``trust_checkpoint=true`` opens PyTorch files you trust)."""


class PathEscapeError(OcsegError):
    """A name read from a file (a list, an archive member, a symbolic link) that points outside
    the folder it must stay in (:mod:`ocseg.io.contained`)."""


def require_int(value: Any, name: str, minimum: int | None = None) -> int:
    """``value`` as an ``int`` (Python or numpy integer, not a bool); otherwise
    :class:`ArgumentTypeError`, or :class:`ArgumentError` below ``minimum``, naming ``name``."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if minimum is not None and int(value) < minimum:
        raise ArgumentError(f"{name} must be an integer ≥ {minimum}, got {int(value)}")
    return int(value)


def require_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``; otherwise :class:`ArgumentError` listing them."""
    options = list(choices)
    try:
        if value in options:
            return value
    except TypeError:  # unhashable or incomparable: not one of them
        pass
    raise ArgumentError(f"{name}={value!r} is not allowed; use one of {', '.join(map(repr, options))}")


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
