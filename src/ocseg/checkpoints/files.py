"""Opening checkpoint files safely, telling their kind, and reporting keys that do not fit.

Files are read by :func:`ocseg.io.safe_load.load_torch`: ``torch.load(weights_only=True)`` with
tensors, containers and plain values only, plus the numpy scalars and dtypes the original's
files hold in ``config_dict`` (its ``performance`` is a numpy float). A file that needs any other
class is refused with one line naming it, unless the user trusts the file
(``trust_checkpoint=true``), because unpickling it could run arbitrary code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocseg.errors import ArgumentTypeError, MissingFileError, OcsegError
from ocseg.io.safe_load import SAFE_GLOBALS, load_torch

__all__ = ["SAFE_GLOBALS", "read_checkpoint", "checkpoint_kind", "report_key_mismatch"]

_LIGHTNING_MARKERS = ("pytorch-lightning_version", "loops", "global_step")


def read_checkpoint(path: str | Path, trust: bool | None = None, option: str = "ckpt_path") -> dict[str, Any]:
    """The checkpoint's top-level dict, loaded on CPU; every problem is one :class:`OcsegError`
    naming the file. ``trust`` unpickles anything the file holds (only for files you trust;
    None: as :func:`ocseg.io.safe_load.trusted_files` says); ``option`` names the setting that
    gave the path (``ckpt_path``, ``init_from``)."""
    if not isinstance(path, (str, Path)):
        raise ArgumentTypeError(f"{option} must be a file path (str or pathlib.Path), got "
                                f"{type(path).__name__}")
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"checkpoint '{p}' not found; pass an existing file as {option}=<file>")
    obj = load_torch(p, f"checkpoint '{p}'", trust=trust)
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
