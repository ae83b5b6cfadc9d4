"""Finding the offset file of a label: folders or zip archives of offsets, matched by stem.

Offsets are looked up recursively in a folder or a ``.zip`` (the original's released
``offset_semantic.zip`` / ``offset_instance.zip`` unpack to
``{val/offset_pred,test_offset}/{semantic,instance}/offset_hrnext/<name>.mat``; any nesting
works). A label matches the offset file with the same stem; failing that, the same *key*: the
stem without Cityscapes suffixes, so ``frankfurt_000000_000294_leftImg8bit.png`` (a prediction),
``frankfurt_000000_000294_gtFine_labelIds.png`` and ``frankfurt_000000_000294_leftImg8bit_pred.txt``
(an instance submission) all find ``frankfurt_000000_000294_leftImg8bit.mat``. When one name occurs
in several folders (an archive holding both ``semantic/`` and ``instance/``), the one under a
folder named like the refinement mode wins; the same file in both formats (``<stem>.mat`` and
``<stem>.npz`` side by side) reads the ``.npz``; otherwise it is an error naming them.

An archive member named with ``..`` or an absolute path, and a file of the folder that is a
symbolic link out of it, are refused (:mod:`ocseg.io.contained`); a damaged member (bad CRC) is
one error naming the archive and the member.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ocseg.errors import OcsegError
from ocseg.io.contained import links_inside, relative_name
from ocseg.segfix.offsets.files import OFFSET_SUFFIXES, SparseOffsets, offsets_size, read_offsets

__all__ = ["NAME_SUFFIXES", "match_key", "OffsetRef", "OffsetStore", "load_offsets"]

#: Suffixes dropped from stems when matching (Cityscapes images, labels, predictions).
NAME_SUFFIXES = ("_pred", "_leftImg8bit", "_gtFine_labelIds", "_gtFine_labelTrainIds",
                 "_gtFine_instanceIds", "_gtFine_color", "_gtCoarse_labelIds",
                 "_gtCoarse_instanceIds", "_labelIds", "_instanceIds")


def match_key(stem: str) -> str:
    """``stem`` without trailing Cityscapes suffixes (``a_leftImg8bit_pred`` → ``a``)."""
    changed = True
    while changed:
        changed = False
        for suffix in NAME_SUFFIXES:
            if stem.endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
                changed = True
    return stem


@dataclass(frozen=True)
class OffsetRef:
    """Where one offset file is: a file path, or an archive path and its member."""

    path: str
    member: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.member}" if self.member else self.path


_ARCHIVES: dict[tuple[int, str], zipfile.ZipFile] = {}


def _archive(ref: OffsetRef) -> zipfile.ZipFile:
    key = (os.getpid(), ref.path)
    if key not in _ARCHIVES:
        _ARCHIVES[key] = zipfile.ZipFile(ref.path)
    return _ARCHIVES[key]


def _member(ref: OffsetRef) -> bytes:
    """The bytes of an archive member; a damaged archive (bad CRC, truncated or unsupported
    compression, encrypted) is one :class:`OcsegError` naming the archive and the member."""
    try:
        return _archive(ref).read(ref.member)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError,
            ValueError) as exc:
        raise OcsegError(f"offset file '{ref}' cannot be read from its archive ({type(exc).__name__}: "
                         f"{exc}); the archive is damaged: download or write it again") from None


def offsets_size_of(ref: OffsetRef) -> tuple[int, int]:
    """``(H, W)`` of the offsets at ``ref`` (:func:`~ocseg.segfix.offsets.files.offsets_size`)."""
    if ref.member is None:
        return offsets_size(ref.path)
    return offsets_size(str(ref), data=_member(ref))


def load_offsets(ref: OffsetRef) -> SparseOffsets:
    """Read the offsets at ``ref`` (archives stay open per process, so workers share nothing)."""
    if ref.member is None:
        return read_offsets(ref.path)
    return read_offsets(str(ref), data=_member(ref))


class OffsetStore:
    """All offset files under a folder or in a zip archive, indexed by stem and by key.

    Args:
        location: folder or ``.zip``.
        mode: ``semantic`` / ``instance``: prefers files under a folder of that name when a name
            occurs more than once.
    """

    def __init__(self, location: str | Path, mode: str | None = None) -> None:
        self.location = Path(location)
        self.mode = mode
        refs = self._scan()
        if not refs:
            raise OcsegError(f"no offset files (*.mat, *.npz) in '{self.location}'; set offsets= "
                             "to the folder or .zip written by predict_offsets.py (or the "
                             "original's offset_semantic.zip / offset_instance.zip)")
        self.by_stem: dict[str, list[tuple[PurePosixPath, OffsetRef]]] = defaultdict(list)
        self.by_key: dict[str, list[tuple[PurePosixPath, OffsetRef]]] = defaultdict(list)
        for rel, ref in refs:
            self.by_stem[rel.stem].append((rel, ref))
            self.by_key[match_key(rel.stem)].append((rel, ref))

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_stem.values())

    def _scan(self) -> list[tuple[PurePosixPath, OffsetRef]]:
        loc = self.location
        if loc.is_file() and zipfile.is_zipfile(loc):
            try:
                with zipfile.ZipFile(loc) as archive:
                    names = [n for n in archive.namelist() if not n.endswith("/")]
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise OcsegError(f"offsets archive '{loc}' cannot be read ({exc}); download or "
                                 "write it again") from None
            return [(relative_name(n, loc, "archive member"), OffsetRef(str(loc), n)) for n in sorted(names)
                    if PurePosixPath(n).suffix.lower() in OFFSET_SUFFIXES
                    and not PurePosixPath(n).name.startswith(".")]
        if not loc.is_dir():
            raise OcsegError(f"offsets not found: '{loc}' is neither a folder nor a .zip archive; "
                             "set offsets=<folder or .zip of offset files>")
        files = [p for p in sorted(loc.rglob("*")) if p.suffix.lower() in OFFSET_SUFFIXES
                 and p.is_file() and not p.name.startswith(".")]
        links_inside(loc, files, "offset file", "offsets=")
        return [(PurePosixPath(p.relative_to(loc).as_posix()), OffsetRef(str(p))) for p in files]

    def _choose(self, stem: str, found: list[tuple[PurePosixPath, OffsetRef]]) -> OffsetRef:
        if len(found) > 1 and len({rel.with_suffix("") for rel, _ in found}) == 1:
            # one offset map in both formats (predict_offsets.py format=both): same values,
            # the compact .npz reads faster
            return min(found, key=lambda f: f[0].suffix.lower() != ".npz")[1]
        if len(found) > 1 and self.mode:
            preferred = [f for f in found if self.mode in f[0].parts[:-1]]
            found = preferred or found
        if len(found) > 1:
            listed = ", ".join(str(ref) for _, ref in found[:4])
            raise OcsegError(f"several offset files match '{stem}' ({listed}); point offsets= at "
                             "the one folder that holds the offsets you want")
        return found[0][1]

    def find(self, stem: str) -> OffsetRef | None:
        """The offset file of a label / prediction named ``stem``, or None."""
        found = self.by_stem.get(stem) or self.by_key.get(match_key(stem))
        return self._choose(stem, found) if found else None
