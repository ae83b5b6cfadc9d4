"""Opening checkpoint files and loading ocseg (Lightning) checkpoints into a network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ocseg.errors import OcsegError

__all__ = ["read_checkpoint", "checkpoint_kind", "load_checkpoint", "report_key_mismatch"]

_LIGHTNING_MARKERS = ("pytorch-lightning_version", "loops", "global_step")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """``torch.load`` on CPU with an error that names the file when it is missing or unreadable."""
    p = Path(path)
    if not p.is_file():
        raise OcsegError(f"checkpoint '{p}' not found; pass an existing file as ckpt_path=<file>")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file for the user
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
    raise OcsegError(f"checkpoint '{path}' does not fit this model ({'; '.join(parts)}); "
                     f"{hint or 'check model= and dataset= (class count) match the checkpoint, or pass strict=False'}")


def _load_lightning(net: nn.Module, path: Path, obj: dict[str, Any], strict: bool) -> None:
    state = obj.get("state_dict", {})
    prefix = "net."
    weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    own = net.state_dict()
    # ``_extra_state`` entries (e.g. the network's BN+act activation) are not tensors
    mismatched = [k for k, v in weights.items() if k in own and isinstance(v, torch.Tensor)
                  and tuple(own[k].shape) != tuple(v.shape)]
    if strict:
        missing = [k for k in own if k not in weights]
        unexpected = [k for k in weights if k not in own]
        model_name = (obj.get("ocseg_config") or {}).get("model", {}).get("name", "?")
        report_key_mismatch(path, missing, unexpected, mismatched,
                            hint=f"it was trained as model={model_name}; use that model and its class count")
    weights = {k: v for k, v in weights.items() if k in own and k not in mismatched}
    net.load_state_dict(weights, strict=False)


def load_checkpoint(net: nn.Module, path: str | Path, strict: bool = True) -> str:
    """Load ``path`` (ocseg Lightning checkpoint or original openseg ``.pth``) into ``net``.

    Returns the kind that was loaded (``"lightning"`` or ``"openseg"``).
    """
    p = Path(path)
    obj = read_checkpoint(p)
    kind = checkpoint_kind(obj)
    if kind == "lightning":
        _load_lightning(net, p, obj, strict)
    else:
        from ocseg.checkpoints.openseg import load_openseg_state

        load_openseg_state(net, obj, path=p, strict=strict)
    return kind
