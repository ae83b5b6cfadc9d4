"""Checking every input file of a run before the run writes its first output.

A damaged file met half-way through a long run would leave some outputs written and others
not; ``eval.py`` and ``predict_offsets.py`` therefore open every image (and label) of the
split first. Only headers are read, which costs milliseconds per file: each file opens as an
image, a PNG's chunks are complete with correct checksums (Pillow's ``verify``), a JPEG ends
with its end-of-image marker, a label has its image's size and holds ids, not colours (its PNG
header's colour type). What only decoding finds (a label id the dataset does not define) is
still reported when that file is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ocseg.errors import OcsegError

__all__ = ["jpeg_is_complete", "image_size", "check_label_channels", "check_inputs"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SUFFIXES = (".jpg", ".jpeg")
_JPEG_END = b"\xff\xd9"
_COLOUR_TYPES = {2: "RGB", 4: "grey with alpha", 6: "RGBA"}  # PNG IHDR colour types
_TAIL = 4096  # an end marker may be followed by padding; entropy-coded data never holds one


def jpeg_is_complete(data_tail: bytes) -> bool:
    """True when the last bytes of a JPEG file hold its end-of-image marker (a truncated file
    ends inside the entropy-coded data, which cannot contain one)."""
    return _JPEG_END in data_tail


def _tail(path: Path) -> bytes:
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - _TAIL))
        return handle.read()


def image_size(path: str | Path, what: str = "image", verify: bool = True) -> tuple[int, int]:
    """``(width, height)`` from the file's header, after the checks above (``verify=False``: a
    PNG's 24-byte header only, ~0.1 ms); a file that fails them is an :class:`OcsegError`
    naming it."""
    p = Path(path)
    if not p.is_file():
        raise OcsegError(f"{what} '{p}' not found; check the folder and the split's file list")
    if not verify:
        with open(p, "rb") as handle:
            head = handle.read(24)
        if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR":  # the PNG header, no Pillow
            return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    from PIL import Image

    try:
        with Image.open(p) as image:
            size = image.size
            if verify and image.format == "PNG":
                image.verify()
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on damaged files
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise OcsegError(f"{what} '{p}' cannot be decoded (corrupt or not an image: {text}); "
                         "replace it or remove it") from None
    if p.suffix.lower() in _JPEG_SUFFIXES and not jpeg_is_complete(_tail(p)):
        raise OcsegError(f"{what} '{p}' is truncated (the JPEG has no end marker); replace it "
                         "or remove it")
    return size


def check_label_channels(path: str | Path) -> None:
    """Refuse a label PNG whose header says it holds colours (RGB, RGBA, grey + alpha) rather
    than one id (or palette index) per pixel: 26 bytes read."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    if head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR" and len(head) == 26 \
            and head[25] in _COLOUR_TYPES:
        raise OcsegError(f"label '{path}' is a colour image ({_COLOUR_TYPES[head[25]]} PNG), not a map of "
                         "label ids; pass the id files (Cityscapes: *_gtFine_labelIds.png, not "
                         "*_color.png), 8- or 16-bit grey or palette PNGs")


def check_inputs(images: Iterable[str | Path], labels: Iterable[str | Path | None] | None = None,
                 what: str = "image") -> None:
    """Check every image (and its label, where given) before any output is written; ``what``
    names the first files in messages ("image", or "label" for a folder of label maps, which
    must then hold ids, not colours)."""
    images = list(images)
    labels = list(labels) if labels is not None else [None] * len(images)
    for image, label in zip(images, labels):
        size = image_size(image, what)
        if what == "label":
            check_label_channels(image)
        if label is None:
            continue
        label_size = image_size(label, "label")
        check_label_channels(label)
        if label_size != size:
            raise OcsegError(
                f"label '{label}' is {label_size[0]}×{label_size[1]} but its image '{image}' is "
                f"{size[0]}×{size[1]}; labels must have the image's size")
