"""Shared machinery of the dataset preparers: finding the downloaded files, unpacking archives,
placing images and writing converted labels idempotently, and the summary.

Every output is written atomically (a temporary file renamed into place), and a file that is
already there is skipped, so an interrupted run resumes where it stopped and a finished one is
a no-op.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from tqdm import tqdm

from ocseg.errors import OcsegError
from ocseg.io import image_io
from ocseg.io.atomic import atomic_path, write_json, write_png
from ocseg.io.contained import contained, relative_name
from ocseg.io.status import status_logger

__all__ = ["Report", "LINK_MODES", "Pair", "place_file", "write_label", "write_split",
           "pair_by_stem", "list_images", "locate_dir", "listed_names", "find_input", "unpack", "progress",
           "finish"]

log = status_logger(__name__)

LINK_MODES = ("hardlink", "copy", "symlink")
MARKER = "ocseg_prepared.json"


@dataclass
class Report:
    """What a preparer did: files written and skipped (already present), by kind."""

    dataset: str
    out_dir: Path
    written: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)

    def add(self, kind: str, wrote: bool) -> None:
        (self.written if wrote else self.skipped)[kind] += 1

    def summary(self) -> str:
        kinds = sorted(set(self.written) | set(self.skipped))
        rows = [f"  {k:<14} {self.written[k]:>8} written {self.skipped[k]:>8} skipped (already there)"
                for k in kinds]
        total_w, total_s = sum(self.written.values()), sum(self.skipped.values())
        return "\n".join([f"prepared {self.dataset} in {self.out_dir}:", *rows,
                          f"  {'total':<14} {total_w:>8} written {total_s:>8} skipped"])


def progress(items: Sequence, desc: str) -> Iterable:
    """A tqdm progress bar over ``items`` on stderr (none for an empty list)."""
    return tqdm(items, desc=desc, unit="file", dynamic_ncols=True, leave=True,
                disable=len(items) == 0)


def place_file(src: Path, dst: Path, link: str = "hardlink") -> bool:
    """Put ``src`` at ``dst`` unchanged (hard link, copy or symlink); False if already there."""
    if link not in LINK_MODES:
        raise OcsegError(f"link={link!r} is not one of {LINK_MODES}")
    if dst.is_symlink() or dst.exists():
        if dst.is_symlink() or dst.stat().st_size == src.stat().st_size:
            return False
        dst.unlink()  # a different file of the same name: replace it
    dst.parent.mkdir(parents=True, exist_ok=True)
    if link == "symlink":
        tmp = dst.with_name(f".{dst.name}.tmp-link")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(src.resolve())
        os.replace(tmp, dst)
        return True
    if link == "hardlink":
        tmp = dst.with_name(f".{dst.name}.tmp-link")
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)
            os.replace(tmp, dst)
            return True
        except OSError:  # another file system or no link support: copy instead
            tmp.unlink(missing_ok=True)
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)
    return True


def write_label(dst: Path, make: Callable[[], np.ndarray]) -> bool:
    """Write the label map ``make()`` as PNG at ``dst`` unless it exists; False if skipped.
    ``make`` is only called when needed, so a resumed run does not re-convert."""
    if dst.exists():
        return False
    label = make()
    if label.dtype != np.uint8:
        if label.min() < 0 or label.max() > 255:
            raise OcsegError(f"label for '{dst}' has ids outside 0..255")
        label = label.astype(np.uint8)
    write_png(dst, label)
    return True


@dataclass(frozen=True)
class Pair:
    """One example to write: output name, source image and source label (None: unlabeled)."""

    name: str
    image: Path
    label: Path | None = None


def write_split(report: Report, split: str, pairs: Sequence[Pair], link: str,
                convert: Callable[[Path], np.ndarray] | None = None) -> None:
    """Write ``images/<split>/<name><ext>`` (placed unchanged) and ``labels/<split>/<name>.png``
    (``convert(label_src)``, or the source PNG placed unchanged when ``convert`` is None)."""
    out = report.out_dir
    for pair in progress(pairs, f"{report.dataset} {split}"):
        image_dst = out / "images" / split / f"{pair.name}{pair.image.suffix.lower()}"
        report.add("images", place_file(pair.image, image_dst, link))
        if pair.label is None:
            continue
        label_dst = out / "labels" / split / f"{pair.name}.png"
        if convert is None:
            report.add("labels", place_file(pair.label, label_dst, link))
        else:
            report.add("labels", write_label(label_dst, lambda src=pair.label: convert(src)))


def pair_by_stem(images: Sequence[Path], label_dir: Path, label_suffix: str = ".png") -> list[Pair]:
    """Pairs of each image with ``label_dir/<stem><label_suffix>``; a missing label is an error."""
    pairs = []
    for image in images:
        label = label_dir / f"{image.stem}{label_suffix}"
        if not label.is_file():
            raise OcsegError(f"image '{image}' has no label '{label}'; the download is incomplete "
                             "(unpack the annotations archive again)")
        pairs.append(Pair(image.stem, image, label))
    return pairs


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted; an empty folder is an error."""
    files = image_io.list_images(folder, recursive=False)
    if not files:
        raise OcsegError(f"no images in '{folder}'; the download is incomplete")
    return files


def locate_dir(raw_dir: Path, name: str, max_depth: int = 4) -> Path | None:
    """The shallowest folder called ``name`` under ``raw_dir`` (itself included), or None."""
    if raw_dir.name == name and raw_dir.is_dir():
        return raw_dir
    level = [raw_dir]
    for _ in range(max_depth):
        nxt = []
        for folder in level:
            try:
                children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                continue
            for child in children:
                if child.name == name:
                    return child
            nxt += children
        level = nxt
    return None


def _copy_member(read, target: Path) -> bool:
    with atomic_path(target) as tmp, read() as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out)
    return True


def unpack(archive: Path, dest: Path) -> int:
    """Extract ``archive`` (.zip, .tar, .tar.gz, .tgz) into ``dest``, skipping members already
    extracted with the right size; returns the number of files written. Every member name is
    checked first (:func:`ocseg.io.contained.contained`): one that would land outside ``dest``
    stops the run before anything is written. Links and devices in tar files are not extracted;
    a damaged archive is one error naming it."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                members = [(contained(dest, m.filename, archive, "archive member"), m.file_size,
                            lambda m=m: zf.open(m)) for m in zf.infolist() if not m.filename.endswith("/")]
                return _extract(archive, members)
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = [(contained(dest, m.name, archive, "archive member"), m.size,
                            lambda m=m: tf.extractfile(m)) for m in tf.getmembers() if m.isfile()]
                return _extract(archive, members)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise OcsegError(f"archive '{archive}' cannot be unpacked ({type(exc).__name__}: {exc}); "
                         "download it again") from None
    raise OcsegError(f"'{archive}' is not a zip or tar archive; download it again")


def _extract(archive: Path, members: list) -> int:
    written = 0
    for target, size, read in progress(members, f"unpack {archive.name}"):
        if not (target.is_file() and target.stat().st_size == size):
            written += _copy_member(read, target)
    return written


def listed_names(listing: Path) -> list[str]:
    """The image names of a dataset's list file (whitespace-separated). They become input and
    output paths, so each must be a relative name: ``..`` or an absolute path is refused."""
    return [relative_name(name, listing, "image name").as_posix() for name in listing.read_text().split()]


def find_input(raw_dir: Path, name: str, archives: Sequence[str], what: str) -> Path:
    """The folder ``name`` under ``raw_dir``; if absent, unpack the first of ``archives`` found
    in ``raw_dir`` (next to it) and look again. The error names what to download."""
    found = locate_dir(raw_dir, name)
    if found is not None:
        return found
    for archive in archives:
        path = raw_dir / archive
        if path.is_file():
            unpack(path, raw_dir)
            found = locate_dir(raw_dir, name)
            if found is not None:
                return found
    raise OcsegError(f"'{name}/' not found under raw_dir '{raw_dir}' (nor an archive "
                     f"{' / '.join(archives)} to unpack); download {what} into it")


def finish(report: Report, info: dict) -> Report:
    """Write the marker file with what was prepared, log the summary, return the report."""
    write_json(report.out_dir / MARKER, {"dataset": report.dataset, **info,
                                          "files": dict(report.written + report.skipped)})
    log.info("%s", report.summary())
    return report
