"""Fetching a released file once: atomically, with a progress bar, and with one line to act on
when it cannot be fetched.

The original's released checkpoints and ImageNet files sit under GitHub release URLs
(``https://github.com/<owner>/<repo>/releases/download/<tag>/<file>``). ``OCSEG_ZOO_URL``
replaces that release base for mirrors and air-gapped sites; the rest of the path
(``<tag>/<file>``) stays. A download is written to a temporary file in the target's folder and
renamed onto the target only once complete and checked, so an interrupted download (Ctrl-C, a
killed process, a dropped connection) never leaves a file at the final name. Without network and
without the file, the error names the URL and where to put the file by hand.
"""

from __future__ import annotations

import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from ocseg.errors import OcsegError
from ocseg.io.atomic import atomic_path

__all__ = ["MIRROR_VARIABLE", "RELEASE_BASES", "release_url", "download"]

#: the environment variable that replaces :data:`RELEASE_BASES` in every download URL
MIRROR_VARIABLE = "OCSEG_ZOO_URL"
#: where the original's files are released (MODEL_ZOO.md, branches master and pytorch-1.7)
RELEASE_BASES = ("https://github.com/hsfzxjy/models.storage/releases/download",
                 "https://github.com/openseg-group/openseg.pytorch/releases/download")
_CHUNK = 1 << 20
_TIMEOUT_S = 60
# leftovers of a killed download (its temporary file) are removed once this old
_STALE_S = 600


def release_url(url: str) -> str:
    """``url`` with its release base replaced by ``$OCSEG_ZOO_URL`` when that is set."""
    mirror = os.environ.get(MIRROR_VARIABLE, "").strip()
    if not mirror:
        return url
    for base in RELEASE_BASES:
        if url.startswith(base + "/"):
            return mirror.rstrip("/") + url[len(base):]
    return url


def _remove_stale_parts(target: Path) -> None:
    """Temporary files of earlier, killed downloads of ``target`` (none is written to any more)."""
    now = time.time()
    for part in target.parent.glob(f".{target.name}.*"):
        try:
            if now - part.stat().st_mtime > _STALE_S:
                part.unlink()
        except OSError:
            pass


def _by_hand(url: str, target: Path) -> str:
    return f"put the file from {url} at '{target}' by hand"


def _copy(response, out, total: int | None, label: str, progress: bool) -> int:
    from tqdm import tqdm

    written = 0
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label, file=sys.stderr,
              disable=not progress, mininterval=0.5, dynamic_ncols=True) as bar:
        while chunk := response.read(_CHUNK):
            out.write(chunk)
            written += len(chunk)
            bar.update(len(chunk))
    return written


def download(url: str, target: str | Path, what: str,
             check: Callable[[Path], None] | None = None, progress: bool = True) -> Path:
    """Download ``url`` (after :func:`release_url`) to ``target`` and return ``target``.

    Args:
        what: what the file is, for messages (``"zoo:cityscapes_hrnet48_ocr"``).
        check: called on the complete temporary file before it is renamed onto ``target``; an
            :class:`OcsegError` from it deletes the file and is reported with that said.
        progress: show a progress bar on stderr.

    Every failure is one :class:`OcsegError` naming the URL and how to get the file by hand.
    """
    source = release_url(url)
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OcsegError(f"{what}: cannot create the folder '{target.parent}' for {source} "
                         f"({exc.strerror or exc}); make it writable") from None
    _remove_stale_parts(target)
    request = urllib.request.Request(source, headers={"User-Agent": "ocseg"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response, atomic_path(target) as tmp:
            print(f"{what}: downloading {source} to {target}", file=sys.stderr, flush=True)
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tmp.open("wb") as out:
                written = _copy(response, out, total, target.name, progress)
            if total is not None and written != total:
                raise OcsegError(f"{what}: the download of {source} stopped after {written} of {total} "
                                 f"bytes; run again, or {_by_hand(source, target)}")
            if check is not None:
                try:
                    check(tmp)
                except OcsegError as exc:
                    raise OcsegError(f"{what}: the file downloaded from {source} is not usable ({exc}); "
                                     f"it was deleted from '{target.parent}'. Check {MIRROR_VARIABLE}, "
                                     f"or {_by_hand(source, target)}") from None
    except urllib.error.HTTPError as exc:
        raise OcsegError(f"{what}: {source} answered {exc.code} {exc.reason}; check {MIRROR_VARIABLE} "
                         f"({os.environ.get(MIRROR_VARIABLE) or 'unset'}), or {_by_hand(source, target)}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        # no network, refused, timed out, reset, cut short
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        raise OcsegError(f"{what}: cannot download {source} ({reason}); offline, {_by_hand(source, target)} "
                         f"or point {MIRROR_VARIABLE} at a mirror of the release files") from None
    return target
