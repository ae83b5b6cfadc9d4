"""Loading original openseg.pytorch checkpoints (filled in by the model-zoo work)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from ocseg.errors import OcsegError


def load_openseg_state(net: nn.Module, obj: dict[str, Any], path: Path, strict: bool = True) -> None:
    raise OcsegError(f"'{path}' is an original openseg checkpoint; loading those needs the model zoo's "
                     "key mapping, which this build does not have yet")
