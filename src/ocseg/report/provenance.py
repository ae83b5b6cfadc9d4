"""Which ocseg made a report: the installed version and, for a source checkout, its git commit.

Asked once per process; ``git`` is optional (absent, or a wheel install: no commit) and bounded
by a short timeout. Only ocseg's own repository counts: a wheel installed in a virtual
environment inside some other repository does not report that repository's commit.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

__all__ = ["provenance"]


def _git(folder: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                             timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def _commit(package: Path) -> str | None:
    top = _git(package, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() / "src" / "ocseg" != package:
        return None
    return _git(package, "describe", "--always", "--dirty", "--abbrev=10")


@lru_cache(maxsize=1)
def provenance() -> dict[str, str | None]:
    """``{"version": ..., "commit": ... or None}``."""
    try:
        version = metadata.version("ocseg")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return {"version": version, "commit": _commit(Path(__file__).resolve().parents[1])}
