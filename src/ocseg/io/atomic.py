"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or a Ctrl-C never leaves a half-written result where a user (or a resumed run) would
take it for a finished one.
"""

from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # only for the annotation: the tools' start-up does not import numpy here
    import numpy as np

__all__ = ["atomic_path", "write_json", "write_png", "write_text"]


def _new_temp_file(folder: Path, prefix: str, suffix: str) -> Path:
    """An empty new file ``<prefix><random><suffix>`` in ``folder``. Created with mode 0666 so
    the umask applies as for any ``open()`` (``tempfile.mkstemp`` would make every output 0600)."""
    for _ in range(100):
        path = folder / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise FileExistsError(f"no free temporary file name in {folder}")


@contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; on success it is renamed onto ``path``.

    ``suffix`` defaults to the target's suffix so writers that pick a format from the file
    name (OpenCV, scipy.io) still work.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _new_temp_file(target.parent, f".{target.name}.",
                              suffix if suffix is not None else target.suffix)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_png(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8/uint16 image (H×W, or H×W×3 in BGR as OpenCV expects) as PNG, atomically."""
    import cv2

    with atomic_path(path, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), array):
            raise OSError(f"could not write PNG '{path}'")
