"""MATLAB level-5 ``.mat`` files, the format of SegFix ground truth and offsets: writing numeric
arrays, and reading one small-integer array fast.

SegFix offset files hold an H×W×2 array of moves in {−1, 0, 1}, compressed with zlib; the
original tester stored them as int32 (16 MB per 1024×2048 map once inflated).
``scipy.io.loadmat`` inflates the whole variable into one growing buffer and copies it out;
most of that time goes to fresh memory, not to decoding. :func:`read_int8_array` inflates the
zlib stream in cache-sized pieces and narrows each piece to int8 as it arrives (after checking
that its values fit), so a quarter of the memory is touched once. zlib-ng (a pinned dependency)
inflates these runs of zeros many times faster than the standard zlib, which is used when it is
missing; :func:`write_mat` deflates with it too (about twice as fast as ``scipy.io.savemat`` at
the same level, and read by ``loadmat`` alike).

Only what these files need is parsed (the level-5 layout: a 128-byte header, then data
elements; ``miCOMPRESSED`` elements hold one zlib-compressed ``miMATRIX``): real, non-sparse
numeric arrays in either byte order. Other variables are skipped without inflating them past
their name. Anything else — MAT v4 / v7.3, a sparse, complex, cell or struct ``name``, a missing
``name``, a truncated stream, values that are not integers in −128..127 — gives None, and the
caller falls back to ``scipy.io.loadmat``, which either reads it or says what is wrong.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

try:  # pinned in pyproject.toml; the standard zlib gives the same bytes, more slowly
    from zlib_ng import zlib_ng as _zlib
except ImportError:  # pragma: no cover - only without the dependency
    import zlib as _zlib

__all__ = ["array_shape", "read_int8_array", "write_mat"]

_HEADER = 128
_MI_MATRIX, _MI_COMPRESSED = 14, 15
#: storage types of data elements (numbers from the level-5 format) → numpy type
_MI_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8",
             13: "u8"}
_NUMERIC_CLASSES = range(6, 16)  # mxDOUBLE_CLASS .. mxUINT64_CLASS
#: numpy type → (array class, storage type) written
_CLASSES = {"f8": (6, 9), "f4": (7, 7), "i1": (8, 1), "u1": (9, 2), "i2": (10, 3), "u2": (11, 4),
            "i4": (12, 5), "u4": (13, 6), "i8": (14, 12), "u8": (15, 13)}
_MI_INT8, _MI_UINT32, _MI_INT32 = 1, 6, 5
_LEVEL = 6  # zlib level, scipy.io.savemat's
_COMPLEX = 0x0800
_CHUNK = 1 << 18  # inflate this many bytes at a time: stays in the L2 cache while narrowed


class _Unsupported(Exception):
    """Something this reader does not parse; scipy.io reads it (or reports it)."""


class _Stream:
    """Exact reads, then chunks, from the bytes of one data element (inflated or not)."""

    def __init__(self, data: memoryview, compressed: bool, chunk: int = _CHUNK) -> None:
        self._data = data
        self._chunk = chunk
        self._inflate = _zlib.decompressobj() if compressed else None
        self._fed = False
        self._offset = 0
        self._buffer = b""

    def _more(self) -> bytes:
        if self._inflate is None:
            piece = bytes(self._data[self._offset:self._offset + self._chunk])
            self._offset += len(piece)
            return piece
        source = self._inflate.unconsumed_tail if self._fed else self._data
        self._fed = True
        try:
            return self._inflate.decompress(source, self._chunk)
        except _zlib.error as exc:
            raise _Unsupported(f"corrupt zlib stream ({exc})") from None

    def read(self, count: int) -> bytes:
        while len(self._buffer) < count:
            piece = self._more()
            if not piece:
                raise _Unsupported("truncated element")
            self._buffer += piece
        out, self._buffer = self._buffer[:count], self._buffer[count:]
        return out

    def chunks(self, count: int):
        """The next ``count`` bytes in pieces (buffered bytes first)."""
        if self._buffer:
            piece, self._buffer = self._buffer[:count], self._buffer[count:]
            count -= len(piece)
            yield piece
        while count > 0:
            piece = self._more()
            if not piece:
                raise _Unsupported("truncated element")
            if len(piece) > count:
                piece = piece[:count]
            count -= len(piece)
            yield piece


def _tag(order: str, raw: bytes) -> tuple[int, int, bytes | None]:
    """(storage type, byte count, small-element payload or None) of an 8-byte element tag."""
    mdtype, count = struct.unpack(order + "II", raw)
    if mdtype >> 16:  # small data element: count in the upper half, payload in the tag
        return mdtype & 0xFFFF, mdtype >> 16, raw[4:4 + (mdtype >> 16)]
    return mdtype, count, None


def _element(order: str, stream: _Stream) -> tuple[int, bytes]:
    """One whole (small) sub-element: its storage type and payload; padding consumed."""
    mdtype, count, small = _tag(order, stream.read(8))
    if small is not None:
        return mdtype, small
    payload = stream.read(count)
    stream.read(-count % 8)
    return mdtype, payload


def _scan(order: str, stream: _Stream, name: str, shape_only: bool = False):
    """Parse one ``miMATRIX`` (its tag already read); None when it is not ``name``; with
    ``shape_only`` its dimensions, without inflating the data."""
    _, flags = _element(order, stream)
    _, dims = _element(order, stream)
    _, array_name = _element(order, stream)
    if array_name.decode("latin-1") != name:
        return None
    flag_word = struct.unpack(order + "I", flags[:4])[0]
    if flag_word & 0xFF not in _NUMERIC_CLASSES or flag_word & _COMPLEX:
        raise _Unsupported("not a real numeric array")
    shape = tuple(int(v) for v in np.frombuffer(dims, order + "i4"))
    if shape_only:
        return shape
    mdtype, count, small = _tag(order, stream.read(8))
    if mdtype not in _MI_TYPES:
        raise _Unsupported(f"storage type {mdtype}")
    dtype = np.dtype(order + _MI_TYPES[mdtype])
    size = int(np.prod(shape))
    if count != dtype.itemsize * size:
        raise _Unsupported("data size does not match the dimensions")
    out = np.empty(size, np.int8)
    done, rest = 0, b""
    for piece in ([small] if small is not None else stream.chunks(count)):
        if rest:
            piece, rest = rest + piece, b""
        usable = len(piece) - len(piece) % dtype.itemsize
        if usable < len(piece):
            piece, rest = piece[:usable], piece[usable:]
        values = np.frombuffer(piece, dtype)
        if values.size == 0:
            continue
        target = out[done:done + values.size]
        if dtype.kind in "iu":
            if dtype.itemsize > 1 or dtype.kind == "u":
                if values.min() < -128 or values.max() > 127:
                    raise _Unsupported("values outside int8")
            target[...] = values
        else:  # floating point: whole numbers only
            target[...] = values
            if not np.array_equal(target, values):
                raise _Unsupported("values that are not int8 integers")
        done += values.size
    return out.reshape(shape, order="F")


def _find(data: memoryview, name: str, shape_only: bool = False):
    if len(data) < _HEADER or 0 in bytes(data[:4]):
        raise _Unsupported("not a level-5 MAT file (v4?)")
    endian = bytes(data[126:128])
    order = "<" if endian == b"IM" else ">"
    major = data[125] if endian == b"IM" else data[124]
    if endian not in (b"IM", b"MI") or major != 1:
        raise _Unsupported("not a level-5 MAT file (v7.3 is HDF5)")
    if shape_only:  # every element complete: a truncated file ends inside its last one
        offset = _HEADER
        while offset + 8 <= len(data):
            mdtype, count, small = _tag(order, bytes(data[offset:offset + 8]))
            offset += 8 + (0 if small is not None else
                           count if mdtype == _MI_COMPRESSED else count + -count % 8)
        if not 0 <= len(data) - offset < 8:
            raise _Unsupported("truncated file")
    offset = _HEADER
    while offset + 8 <= len(data):
        mdtype, count, small = _tag(order, bytes(data[offset:offset + 8]))
        body = data[offset + 8:offset + 8 + count]
        offset += 8 + (count if mdtype == _MI_COMPRESSED else count + -count % 8)
        if small is not None or mdtype not in (_MI_MATRIX, _MI_COMPRESSED):
            continue
        # the header of a matrix is a few hundred bytes: inflate no more than that for its shape
        stream = _Stream(body, compressed=mdtype == _MI_COMPRESSED, chunk=512 if shape_only else _CHUNK)
        if mdtype == _MI_COMPRESSED:
            inner, _, _ = _tag(order, stream.read(8))
            if inner != _MI_MATRIX:
                continue
        found = _scan(order, stream, name, shape_only)
        if found is not None:
            return found
    return None


def array_shape(source: str | Path | bytes, name: str) -> tuple[int, ...] | None:
    """The dimensions of the array ``name`` from its header, once the element tags show that
    the file is complete (not truncated); the data is not inflated. None when the file is
    truncated or this reader does not parse it (read it to learn why)."""
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        return _find(memoryview(data), name, shape_only=True)
    except (_Unsupported, struct.error, ValueError, OSError):
        return None


def read_int8_array(source: str | Path | bytes, name: str) -> np.ndarray | None:
    """The array ``name`` of a ``.mat`` file (a path or its bytes) as int8, Fortran-ordered like
    ``loadmat``'s; None when this reader does not handle the file or the values do not fit
    (read it with ``scipy.io.loadmat``)."""
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        return _find(memoryview(data), name)
    except (_Unsupported, struct.error, ValueError, OSError):
        return None


def _write_element(mdtype: int, payload: bytes) -> bytes:
    return struct.pack("<II", mdtype, len(payload)) + payload + b"\0" * (-len(payload) % 8)


def _matrix(name: str, value) -> bytes:
    array = np.asarray(value)
    if array.ndim < 2:  # scalars and vectors are 1×n rows, as savemat writes them
        array = array.reshape(1, -1)
    array = array.astype(array.dtype.newbyteorder("<"), copy=False)
    key = array.dtype.str[1:]
    if key not in _CLASSES:
        raise TypeError(f"write_mat writes real numeric arrays, not {array.dtype}")
    array_class, storage = _CLASSES[key]
    body = b"".join([
        _write_element(_MI_UINT32, struct.pack("<II", array_class, 0)),
        _write_element(_MI_INT32, np.asarray(array.shape, "<i4").tobytes()),
        _write_element(_MI_INT8, name.encode("ascii")),
        _write_element(storage, array.tobytes(order="F")),
    ])
    return struct.pack("<II", _MI_MATRIX, len(body)) + body


def write_mat(path: str | Path, arrays: dict) -> None:
    """Write numeric ``arrays`` (name → array or number) to ``path`` as a compressed level-5
    ``.mat`` file, as ``scipy.io.savemat(..., do_compression=True)`` does (not atomic: pass a
    temporary path, see :func:`ocseg.io.atomic.atomic_path`)."""
    text = b"MATLAB 5.0 MAT-file, written by ocseg"
    parts = [text.ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"]
    for name, value in arrays.items():
        packed = _zlib.compress(_matrix(name, value), _LEVEL)
        parts.append(struct.pack("<II", _MI_COMPRESSED, len(packed)) + packed)
    Path(path).write_bytes(b"".join(parts))
