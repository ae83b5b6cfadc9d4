"""A small, fast PNG codec for label maps: the common layouts decoded and encoded with numpy and
zlib-ng; everything else is left to OpenCV / Pillow.

Label maps are big, flat and cheap to filter, so most of a PNG codec's time goes into zlib.
zlib-ng inflates and deflates them several times faster than the zlib inside OpenCV and Pillow,
and the row filters that label writers use are vectorised here:

* decode: 8-bit grey, 16-bit grey, 8-bit palette (indices and the palette) and 8-bit RGB
  (returned as BGR, like OpenCV), not interlaced, whose rows use the None, Sub or Up filter
  (OpenCV writes Sub rows, Pillow writes palette images with Up rows); CRCs are checked.
  Anything else (Avg / Paeth rows, bit depths below 8, alpha, interlacing) gives None.
* encode: the same layouts (an H×W×3 array is BGR, as OpenCV's), rows unfiltered, zlib level 1.

Results equal OpenCV's / Pillow's decoding of the same file (``tests/test_png.py``).
"""

from __future__ import annotations

import struct
from typing import Sequence

import numpy as np

try:  # pinned in pyproject.toml; the standard zlib writes and reads the same streams, slower
    from zlib_ng import zlib_ng as _zlib
except ImportError:  # pragma: no cover - only without the dependency
    import zlib as _zlib

__all__ = ["decode_png", "encode_png"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_GREY, _RGB, _PALETTE = 0, 2, 3
#: (bit depth, colour type) → (bytes per pixel, channels)
_LAYOUTS = {(8, _GREY): (1, 1), (16, _GREY): (2, 1), (8, _PALETTE): (1, 1), (8, _RGB): (3, 3)}
_NONE, _SUB, _UP = 0, 1, 2


def _chunks(data: bytes):
    pos = len(SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            return
        yield kind, body, struct.unpack(">I", crc)[0]
        pos += 12 + length
        if kind == b"IEND":
            return


def _unfilter(rows: np.ndarray, bpp: int) -> np.ndarray | None:
    """Undo the None / Sub / Up filters of ``rows`` (H × (1 + row bytes) uint8); None if a row
    uses Avg or Paeth."""
    kinds = rows[:, 0]
    if kinds.max(initial=0) > _UP:
        return None
    out = np.ascontiguousarray(rows[:, 1:])
    sub = np.flatnonzero(kinds == _SUB)
    if sub.size:  # each byte adds the reconstructed byte bpp to its left: a running sum
        height, width = sub.size, out.shape[1]
        out[sub] = np.cumsum(out[sub].reshape(height, width // bpp, bpp), axis=1,
                             dtype=np.uint8).reshape(height, width)
    up = kinds == _UP
    if up.any():  # each Up row adds the row above: running sums restarting at other rows
        total = np.cumsum(out, axis=0, dtype=np.uint8)
        base = np.where(up, -1, np.arange(len(kinds)))
        np.maximum.accumulate(base, out=base)  # the last non-Up row at or above each row
        if (base <= 0).all():  # only the first row (if any) is not Up: no restart
            return total
        # the sum up to the row above the restart: row i of `shifted` is row i − 1 of `total`
        shifted = np.vstack([np.zeros((1, out.shape[1]), np.uint8), total])
        out = total - shifted[np.maximum(base, 0)]
    return out


# larger images are left to OpenCV, which refuses more than 2**30 pixels (CV_IO_MAX_IMAGE_PIXELS)
# rather than allocating what a damaged or hostile header claims
_MAX_PIXELS = 2**30


def decode_png(data: bytes) -> tuple[np.ndarray, list[int] | None] | None:
    """(array, palette or None) of a PNG in one of the supported layouts, else None."""
    if data[:8] != SIGNATURE:
        return None
    header, palette, parts = None, None, []
    for kind, body, crc in _chunks(data):
        if kind in (b"IHDR", b"PLTE", b"IDAT") and _zlib.crc32(body, _zlib.crc32(kind)) != crc:
            return None
        if kind == b"IHDR":
            if len(body) != 13:
                return None
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = list(body)
        elif kind == b"IDAT":
            parts.append(body)
    if header is None or not parts:
        return None
    width, height, depth, colour, compression, filtering, interlace = header
    layout = _LAYOUTS.get((depth, colour))
    if layout is None or compression or filtering or interlace or width == 0 or height == 0 \
            or width * height > _MAX_PIXELS:
        return None
    if colour == _PALETTE and palette is None:
        return None
    bpp, channels = layout
    stride = 1 + width * bpp
    try:
        raw = _zlib.decompress(b"".join(parts), 15, height * stride)
    except _zlib.error:
        return None
    if len(raw) < height * stride:
        return None
    pixels = _unfilter(np.frombuffer(raw, np.uint8, height * stride).reshape(height, stride), bpp)
    if pixels is None:
        return None
    if depth == 16:
        return pixels.view(">u2").astype(np.uint16).reshape(height, width), None
    if channels == 3:
        return np.ascontiguousarray(pixels.reshape(height, width, 3)[:, :, ::-1]), None
    return pixels.reshape(height, width), palette if colour == _PALETTE else None


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", _zlib.crc32(body, _zlib.crc32(kind)))


def encode_png(array: np.ndarray, palette: Sequence[int] | None = None,
               level: int = 1) -> bytes | None:
    """PNG bytes of a uint8 / uint16 H×W map (with ``palette``, a flat RGB list of at most 256
    colours: a palette PNG of uint8 indices) or a uint8 H×W×3 BGR image; None for any other
    array (write it with OpenCV)."""
    array = np.asarray(array)
    if array.ndim == 2 and array.dtype == np.uint8:
        colour, depth, data = (_PALETTE if palette is not None else _GREY), 8, array
    elif array.ndim == 2 and array.dtype == np.uint16 and palette is None:
        colour, depth, data = _GREY, 16, array.astype(">u2")
    elif array.ndim == 3 and array.shape[2] == 3 and array.dtype == np.uint8 and palette is None:
        colour, depth, data = _RGB, 8, array[:, :, ::-1]
    else:
        return None
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        return None
    rows = np.zeros((height, 1 + data.nbytes // height), np.uint8)  # filter byte 0: None
    rows[:, 1:] = np.ascontiguousarray(data).view(np.uint8).reshape(height, -1)
    parts = [SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour,
                                                     0, 0, 0))]
    if palette is not None:
        colours = bytes(int(v) for v in palette)
        if len(colours) % 3 or not 0 < len(colours) <= 768:
            return None
        parts.append(_chunk(b"PLTE", colours))
    parts += [_chunk(b"IDAT", _zlib.compress(rows.tobytes(), level)), _chunk(b"IEND", b"")]
    return b"".join(parts)
