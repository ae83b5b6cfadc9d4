"""Opening checkpoint files safely, telling their kind, and reporting keys that do not fit.

Files are unpickled with ``torch.load(weights_only=True)``: tensors, containers and plain values
only, plus the numpy scalars and dtypes the original's files hold in ``config_dict`` (its
``performance`` is a numpy float). A file that needs any other class is refused with one line
naming it, unless the user trusts the file (``trust_checkpoint=true``), because unpickling it
could run arbitrary code.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ocseg.compat import NUMPY_SCALAR
from ocseg.errors import OcsegError

__all__ = ["SAFE_GLOBALS", "read_checkpoint", "checkpoint_kind", "report_key_mismatch"]

_LIGHTNING_MARKERS = ("pytorch-lightning_version", "loops", "global_step")
_SCALAR = NUMPY_SCALAR
#: What ``weights_only`` loading may build besides tensors and plain values: numpy scalars (also
#: under their numpy 1.x name ``numpy.core``) and numeric dtypes.
SAFE_GLOBALS: list[Any] = [_SCALAR, (_SCALAR, "numpy.core.multiarray.scalar"), np.dtype] + [
    getattr(np.dtypes, name) for name in dir(np.dtypes)
    if name.endswith("DType") and name not in ("ObjectDType", "VoidDType")]


def _unsafe_names(error: Exception) -> str:
    found = re.findall(r"GLOBAL ([\w.]+)|but got <class '([\w.]+)'>", str(error))
    names = sorted({a or b for a, b in found})
    return ", ".join(names) or "objects that are not tensors or plain values"


def read_checkpoint(path: str | Path, trust: bool = False) -> dict[str, Any]:
    """The checkpoint's top-level dict, loaded on CPU; every problem is one :class:`OcsegError`
    naming the file. ``trust`` unpickles anything the file holds (only for files you trust)."""
    p = Path(path)
    if not p.is_file():
        raise OcsegError(f"checkpoint '{p}' not found; pass an existing file as ckpt_path=<file>")
    with p.open("rb") as file:
        head = file.read(4)
    # torch.save writes a zip archive (PK..); files of torch < 1.6 are a pickle (protocol ≥ 2)
    if not (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):
        raise OcsegError(f"checkpoint '{p}' cannot be read: it is not a PyTorch file (neither a zip "
                         f"archive nor a pickle; it starts with {head!r}); is it a complete PyTorch "
                         ".ckpt/.pth file? Pass the file training wrote or the original's release")
    try:
        if trust:
            obj = torch.load(p, map_location="cpu", weights_only=False)
        else:
            with torch.serialization.safe_globals(SAFE_GLOBALS):
                obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):
            raise OcsegError(f"checkpoint '{p}' cannot be read (UnpicklingError: {exc}); is it a "
                             "complete PyTorch .ckpt/.pth file?") from None
        raise OcsegError(f"checkpoint '{p}' holds {_unsafe_names(exc)}, which loading would have "
                         "to unpickle (and so could run code); pass trust_checkpoint=true only if "
                         "you trust where the file comes from") from None
    except Exception as exc:  # noqa: BLE001 - any other failure is a bad file for the user
        raise OcsegError(f"checkpoint '{p}' cannot be read ({type(exc).__name__}: {exc}); "
                         "is it a complete PyTorch .ckpt/.pth file?") from None
    if not isinstance(obj, dict):
        raise OcsegError(f"checkpoint '{p}' holds a {type(obj).__name__}, not a state dict")
    return obj


def checkpoint_kind(obj: dict[str, Any]) -> str:
    """``"lightning"`` for ocseg checkpoints, ``"openseg"`` for the original's files."""
    if any(k in obj for k in _LIGHTNING_MARKERS):
        return "lightning"
    return "openseg"


def report_key_mismatch(path: str | Path, missing: list[str], unexpected: list[str],
                        mismatched: list[str], hint: str = "") -> None:
    """Raise one clear error listing the first few problem keys (nothing if all lists are empty)."""
    if not (missing or unexpected or mismatched):
        return
    parts = []
    for title, keys in (("missing", missing), ("unexpected", unexpected),
                        ("shape-mismatched", mismatched)):
        if keys:
            shown = ", ".join(keys[:5]) + (f", … ({len(keys)} in all)" if len(keys) > 5 else "")
            parts.append(f"{title}: {shown}")
    hint = hint or "check model= and dataset= (class count) match the checkpoint, or pass strict=False"
    raise OcsegError(f"checkpoint '{path}' does not fit this model ({'; '.join(parts)}); {hint}")
