"""The one place where ocseg deserialises a file a user hands it, so that no file can run code.

* PyTorch files (checkpoints, ImageNet files, previous stages): :func:`load_torch`, with
  ``torch.load(weights_only=True)`` and the allow-list :data:`SAFE_GLOBALS` (numpy scalars and
  numeric dtypes, which the original's checkpoints hold). A file that needs any other class is
  refused with one line naming the file and the globals it asks for. ``trust_checkpoint=true``
  (:func:`trusted_files`, or ``trust=True``) is the one way to unpickle such a file.
* ``.npz`` / ``.npy``: :func:`load_npz`, ``np.load(allow_pickle=False)``: a pickled (object)
  array is refused, naming the globals its pickle would import. There is no opt-out: ocseg's
  data files hold plain numeric arrays.
* ``.mat``: :func:`load_mat`, ``scipy.io.loadmat`` (which never unpickles); an empty file or a
  MATLAB v7.3 (HDF5) file is refused in one line before scipy sees it.

Every problem is one :class:`~ocseg.errors.OcsegError` naming the file. ``tests/test_safe_load.py``
greps ``src/`` and fails on any load call outside this module. torch and scipy are imported
only when a file of theirs is read (``refine.py`` never loads torch).
"""

from __future__ import annotations

import contextvars
import io
import pickletools
import re
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ocseg.compat import NUMPY_SCALAR
from ocseg.errors import MissingFileError, OcsegError, UnsafeFileError

__all__ = ["SAFE_GLOBALS", "TRUST_OPTION", "trusted_files", "files_trusted", "pickle_globals",
           "load_torch", "load_npz", "load_mat"]

_SCALAR = NUMPY_SCALAR
#: What ``weights_only`` loading may build besides tensors and plain values: numpy scalars (also
#: under their numpy 1.x name ``numpy.core``) and numeric dtypes.
SAFE_GLOBALS: list[Any] = [_SCALAR, (_SCALAR, "numpy.core.multiarray.scalar"), np.dtype] + [
    getattr(np.dtypes, name) for name in dir(np.dtypes)
    if name.endswith("DType") and name not in ("ObjectDType", "VoidDType")]

#: The option that opens PyTorch files for full unpickling, named in every refusal.
TRUST_OPTION = "trust_checkpoint=true"

_TRUSTED: contextvars.ContextVar[bool] = contextvars.ContextVar("ocseg_trusted_files", default=False)


@contextmanager
def trusted_files(trust: bool = True) -> Iterator[None]:
    """Within the block, PyTorch files loaded without an explicit ``trust`` (an ImageNet file
    read while a backbone is built, a checkpoint Lightning resumes) are trusted as ``trust``
    says: what ``train.py`` does with ``trust_checkpoint``."""
    token = _TRUSTED.set(bool(trust))
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def files_trusted() -> bool:
    """Whether the current :func:`trusted_files` block trusts PyTorch files (False outside)."""
    return _TRUSTED.get()


def pickle_globals(data: bytes) -> list[str]:
    """The ``module.name`` globals a pickle would import, found by parsing its opcodes (nothing
    is executed); best effort on damaged data."""
    found: list[str] = []
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception:  # noqa: BLE001 - damaged pickle data: report what was found before it
        pass
    return sorted(set(found))


# ---- PyTorch files ---------------------------------------------------------------------------
def _unsafe_names(error: Exception) -> str:
    found = re.findall(r"GLOBAL ([\w.]+)|but got <class '([\w.]+)'>", str(error))
    names = sorted({a or b for a, b in found})
    return ", ".join(names) or "objects that are not tensors or plain values"


def load_torch(path: str | Path, name: str, trust: bool | None = None, map_location: Any = "cpu",
               fix: str = "is it a complete PyTorch .ckpt/.pth file?") -> Any:
    """What the PyTorch file ``path`` holds. ``name`` is how messages call it (``"checkpoint
    '<path>'"``, ``"backbone.pretrained='<path>'"``); ``trust``: unpickle anything (None: as the
    enclosing :func:`trusted_files` says). A file that needs a class outside :data:`SAFE_GLOBALS`
    is an :class:`~ocseg.errors.UnsafeFileError`; any other failure an ``OcsegError``."""
    import pickle

    import torch

    p = Path(path)
    trust = files_trusted() if trust is None else bool(trust)
    try:
        with p.open("rb") as file:
            head = file.read(4)
    except OSError as exc:
        raise OcsegError(f"{name} cannot be read ({exc.strerror or exc}); {fix}") from None
    # torch.save writes a zip archive (PK..); files of torch < 1.6 are a pickle (protocol ≥ 2)
    if not (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):
        raise OcsegError(f"{name} cannot be read: it is not a PyTorch file (neither a zip archive "
                         f"nor a pickle; it starts with {head!r}); {fix} Pass the file training "
                         "wrote or the original's release")
    try:
        if trust:
            return torch.load(p, map_location=map_location, weights_only=False)
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):
            raise OcsegError(f"{name} cannot be read (UnpicklingError: {exc}); {fix}") from None
        raise UnsafeFileError(f"{name} would import {_unsafe_names(exc)} when unpickled, which could run "
                              "code (ocseg loads tensors, plain values and numpy scalars only); pass "
                              f"{TRUST_OPTION} only if you trust where the file comes from") from None
    except Exception as exc:  # noqa: BLE001 - any other failure is a bad file for the user
        text = " ".join(str(exc).split())[:300]
        raise OcsegError(f"{name} cannot be read ({type(exc).__name__}: {text}); {fix}") from None


# ---- numpy -----------------------------------------------------------------------------------
def _source(data: bytes | str | Path) -> Any:
    return io.BytesIO(data) if isinstance(data, bytes) else str(data)


def _pickled_member_globals(data: bytes | str | Path) -> tuple[str, list[str]]:
    """The first object array of an ``.npz`` (or the ``.npy`` itself) and its pickle's globals."""
    try:
        with zipfile.ZipFile(_source(data)) as archive:
            members = [(n, archive.read(n)) for n in archive.namelist()]
    except (zipfile.BadZipFile, OSError, ValueError):
        members = [("", data if isinstance(data, bytes) else Path(data).read_bytes())]
    for member, raw in members:
        stream = io.BytesIO(raw)
        try:
            version = np.lib.format.read_magic(stream)
            header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)(stream)
        except Exception:  # noqa: BLE001 - not an .npy member: the whole thing may be a pickle
            return member, pickle_globals(raw)
        if header[2].hasobject:
            return member.removesuffix(".npy"), pickle_globals(stream.read())
    return "", []


def load_npz(source: str, data: bytes | str | Path, what: str = "file",
             fix: str = "replace it") -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` (or ``.npy``: key ``""``) file ``data`` (its bytes, or a path),
    read with ``allow_pickle=False``. ``source`` names it in messages, ``what`` says what it is
    (``"offset file"``). A pickled array is an :class:`~ocseg.errors.UnsafeFileError` naming the
    globals it would import; a damaged file an ``OcsegError``."""
    try:
        loaded = np.load(_source(data), allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return {"": loaded}
        with loaded as z:
            return {key: z[key] for key in z.files}
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise OcsegError(f"{what} '{source}' cannot be read ({exc}); {fix}") from None
        member, names = _pickled_member_globals(data)
        entry = f" entry '{member}'" if member else ""
        imports = f"would import {', '.join(names)} when unpickled" if names else "holds pickled objects"
        raise UnsafeFileError(
            f"{what} '{source}'{entry} {imports}, which could run code; ocseg reads only plain numeric "
            f"arrays from .npz files (trust_checkpoint does not apply to them): {fix}") from None
    except FileNotFoundError:
        raise MissingFileError(f"{what} '{source}' not found") from None
    except Exception as exc:  # noqa: BLE001 - a damaged archive or array, whatever numpy raises
        text = " ".join(str(exc).split())[:200]
        raise OcsegError(f"{what} '{source}' cannot be read ({type(exc).__name__}: {text}); "
                         f"{fix}") from None


# ---- MATLAB ----------------------------------------------------------------------------------
_MAT_HEADER = 128
_HDF5_VERSION = (b"\x00\x02", b"\x02\x00")  # header bytes 124-125: 0x0200 in either byte order


def _mat_header(data: bytes | str | Path) -> bytes:
    if isinstance(data, bytes):
        return data[:_MAT_HEADER]
    with open(data, "rb") as handle:
        return handle.read(_MAT_HEADER)


def load_mat(source: str, data: bytes | str | Path, what: str = "file", fix: str = "replace it",
             **options: Any) -> dict[str, Any]:
    """``scipy.io.loadmat`` of the ``.mat`` file ``data`` (bytes, or a path; ``options`` go to
    loadmat). An empty file, a MATLAB v7.3 (HDF5) file and anything scipy cannot parse are one
    ``OcsegError`` naming ``source`` and ``what`` it is."""
    try:
        head = _mat_header(data)
    except FileNotFoundError:
        raise MissingFileError(f"{what} '{source}' not found") from None
    except OSError as exc:
        raise OcsegError(f"{what} '{source}' cannot be read ({exc.strerror or exc}); {fix}") from None
    if not head:
        raise OcsegError(f"{what} '{source}' is empty (0 bytes); {fix}")
    if len(head) == _MAT_HEADER and head[124:126] in _HDF5_VERSION and head[126:128] in (b"IM", b"MI"):
        raise OcsegError(f"{what} '{source}' is a MATLAB v7.3 (HDF5) file, which ocseg does not "
                         f"read; save it with MATLAB's -v7 option (or scipy.io.savemat), or {fix}")
    import scipy.io

    try:
        return scipy.io.loadmat(_source(data), **options)
    except Exception as exc:  # noqa: BLE001 - scipy raises many kinds on damaged files
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise OcsegError(f"{what} '{source}' cannot be read ({text}); {fix}") from None
