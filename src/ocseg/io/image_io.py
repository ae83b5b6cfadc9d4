"""The one home of image and label-PNG IO: listing image files, reading images and label maps
(with errors that name the file), and writing label / palette PNGs.

Images are read by OpenCV in BGR order, as the original project does; label maps are read
unchanged (8 or 16 bit). Palette PNGs (PASCAL/Mapillary style, and the colour images ocseg
writes) are read as their palette indices, which is what their pixels mean, not as the colours
OpenCV would expand them to; a PNG's header says whether it is one, so it is decoded once.
Label PNGs are written atomically, palette PNGs with their palette. The common PNG layouts are
decoded and encoded by :mod:`ocseg.io.png` (zlib-ng, vectorised row filters), the rest by
OpenCV / Pillow.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ocseg.errors import MissingFileError, OcsegError
from ocseg.io.atomic import atomic_path
from ocseg.io.png import decode_png, encode_png

__all__ = ["IMAGE_EXTENSIONS", "CorruptFileError", "list_images", "read_image", "read_label",
           "read_label_png", "palette_image", "write_label_png", "check_same_size"]

#: What counts as an image file everywhere (dataset folders, offset prediction, preparation).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_PALETTE = 3  # IHDR colour type of indexed PNGs
# for what ocseg.io.png does not encode: zlib level 1 without row filters, several times
# faster to write and to read back than the defaults, for label maps that compress well anyway
_PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE] \
    if hasattr(cv2, "IMWRITE_PNG_FILTER") else [cv2.IMWRITE_PNG_COMPRESSION, 1]


def list_images(folder: str | Path, recursive: bool = True) -> list[Path]:
    """Image files (:data:`IMAGE_EXTENSIONS`, any case; hidden files left out) under ``folder``
    (with ``recursive``, in sub-folders too), sorted. May be empty: callers say what is missing."""
    root = Path(folder)
    candidates = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in candidates if p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith(".") and p.is_file())


class CorruptFileError(OcsegError):
    """A file exists but cannot be decoded; ``data.on_bad_file=skip`` skips such files."""

    def __init__(self, path: str | Path, what: str) -> None:
        self.path = Path(path)
        super().__init__(
            f"{what} '{self.path}' cannot be decoded (corrupt or not an image); replace it, or set "
            "data.on_bad_file=skip to skip such files"
        )


def read_image(path: str | Path) -> np.ndarray:
    """H×W×3 uint8 BGR image; a missing or unreadable file is an :class:`OcsegError`."""
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"image '{p}' not found; check dataset.root and the split's file list")
    data = p.read_bytes()
    image = _imdecode(data, cv2.IMREAD_COLOR)
    # OpenCV decodes a truncated JPEG (grey below the cut) with only a warning
    if image is None or (p.suffix.lower() in (".jpg", ".jpeg") and b"\xff\xd9" not in data[-4096:]):
        raise CorruptFileError(p, "image")
    return image


def _imdecode(data: bytes, flags: int) -> np.ndarray | None:
    """OpenCV's decoding of ``data``; None when it cannot (OpenCV raises on an empty buffer and
    on some damaged files instead of returning None)."""
    if not data:
        return None
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        return None
    return image if image is not None and image.size else None


def _is_palette_png(data: bytes) -> bool:
    return data[:8] == _PNG_SIGNATURE and len(data) > 25 and data[25] == _PNG_PALETTE


def _decode_label(path: Path) -> tuple[np.ndarray | None, list[int] | None]:
    """The stored values (None when they cannot be decoded) and, for palette PNGs, the palette."""
    data = path.read_bytes()
    decoded = decode_png(data)
    if decoded is not None:
        return decoded
    if _is_palette_png(data):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as image:
                return np.array(image), image.getpalette()
        except (OSError, ValueError):
            return None, None
    label = _imdecode(data, cv2.IMREAD_UNCHANGED)
    if label is not None and label.ndim == 3:
        indices = _palette_indices(path)  # a palette image in another format (BMP, TIFF)
        if indices is not None:
            return indices, None
    return label, None


def _palette_indices(path: Path) -> np.ndarray | None:
    """The index map of a palette ('P' mode) image, or None when the file is not one."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode != "P":
                return None
            return np.array(im)
    except (OSError, ValueError):
        return None


def read_label(path: str | Path) -> np.ndarray:
    """H×W integer label map exactly as stored (no colour conversion)."""
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"label '{p}' not found; every image needs its label file")
    label, _ = _decode_label(p)
    if label is None:
        raise CorruptFileError(p, "label")
    if label.ndim == 3:
        raise OcsegError(
            f"label '{p}' has {label.shape[2]} channels; ocseg expects a single-channel id map "
            "(for Cityscapes the *_gtFine_labelIds.png files, not *_color.png)"
        )
    if label.dtype.kind not in "iu":
        raise OcsegError(f"label '{p}' holds {label.dtype} values; ocseg expects integer ids "
                         "(an 8- or 16-bit PNG of label ids)")
    return label


def read_label_png(path: str | Path) -> tuple[np.ndarray, list[int] | None]:
    """A label map exactly as stored — 8/16-bit ids, palette indices, or even a colour (BGR)
    image — and its palette (None unless it is a palette PNG), for tools that write it back in
    kind (SegFix refinement) or check the channels themselves."""
    p = Path(path)
    if not p.is_file():
        raise OcsegError(f"label '{p}' not found")
    label, palette = _decode_label(p)
    if label is None:
        raise OcsegError(f"label '{p}' cannot be decoded (corrupt or not an image); replace it")
    return label, palette


def _flat_palette(palette: Sequence[int] | Sequence[Sequence[int]]) -> list[int]:
    """PIL's flat ``[r, g, b, r, g, b, ...]``; RGB triples are flattened and padded to 256
    colours (unused indices, e.g. ignore = 255, black)."""
    items = list(palette)
    if items and isinstance(items[0], (list, tuple, np.ndarray)):
        flat = [int(c) for rgb in items for c in rgb]
        return flat + [0] * (768 - len(flat))
    return [int(v) for v in items]


def palette_image(indices: np.ndarray, palette: Sequence[int] | Sequence[Sequence[int]]):
    """An indexed ('P') PIL image of a uint8 index map (train ids, offset codes, ...) with
    ``palette`` (RGB triples, or PIL's flat list)."""
    from PIL import Image

    image = Image.fromarray(np.asarray(indices, dtype=np.uint8), mode="P")
    image.putpalette(_flat_palette(palette))
    return image


def write_label_png(path: str | Path, label: np.ndarray,
                    palette: Sequence[int] | Sequence[Sequence[int]] | None = None) -> None:
    """Write a label map (8/16-bit ids, or H×W×3 BGR) as PNG, atomically; with ``palette`` as
    a palette PNG of its uint8 indices."""
    flat = None if palette is None else _flat_palette(palette)
    data = encode_png(label, flat)
    with atomic_path(path, suffix=".png") as tmp:
        if data is not None:
            tmp.write_bytes(data)
        elif flat is not None:
            palette_image(label, flat).save(tmp, format="PNG", compress_level=1)
        elif not cv2.imwrite(str(tmp), label, _PNG_FAST):
            raise OSError(f"could not write '{path}'")


def check_same_size(image: np.ndarray, label: np.ndarray, image_path, label_path) -> None:
    if image.shape[:2] != label.shape[:2]:
        raise OcsegError(
            f"label '{label_path}' is {label.shape[1]}×{label.shape[0]} but its image "
            f"'{image_path}' is {image.shape[1]}×{image.shape[0]}; labels must have the image's size"
        )
