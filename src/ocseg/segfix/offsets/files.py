"""SegFix offset files: the original's ``.mat`` and ocseg's compact sparse ``.npz``.

* ``.mat`` (the original's ``predict_offsets`` output and released archives): key ``mat``, an
  H×W×2 integer array, channel 0 = dh (rows, down), channel 1 = dw (columns, right), compressed.
  The original tester's arrays are int32 (torch ``long`` offsets pass through ``cv2.resize``,
  which casts int64 to int32); :func:`write_offsets` writes int8 unless told ``mat_dtype``, and
  the original script reads any integer type.
* ``.npz`` (ocseg compact, compressed): only the pixels that move. Keys ``ocseg_offsets_v1``
  ([H, W]; the key names the format), ``step`` (uint32: gaps between the increasing flat indices
  ``y·W + x`` of moved pixels, the first one from 0) and ``code`` (uint8 ``3·(dh+1) + (dw+1)``,
  dh, dw ∈ {−1, 0, 1}). About half the size of an int8 ``.mat`` and 4× faster to read.

Both are read into :class:`SparseOffsets` (flat indices + dh/dw of the moved pixels), which is
also what refinement consumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocseg.errors import OcsegError
from ocseg.io.atomic import atomic_path
from ocseg.io.matfile import array_shape, read_int8_array, write_mat
from ocseg.io.safe_load import load_mat, load_npz

__all__ = ["OFFSET_SUFFIXES", "SparseOffsets", "offsets_size", "read_offsets", "write_offsets"]

OFFSET_SUFFIXES = (".mat", ".npz")
_NPZ_KEY = "ocseg_offsets_v1"
_CODE_DH = np.array([-1, -1, -1, 0, 0, 0, 1, 1, 1], np.int8)
_CODE_DW = np.array([-1, 0, 1, -1, 0, 1, -1, 0, 1], np.int8)
_FIX = "replace it (predict_offsets.py writes it again)"


@dataclass(frozen=True)
class SparseOffsets:
    """Offsets of the pixels that move: flat indices ``y·W + x`` (int64, any order) and their
    (dh, dw)."""

    size: tuple[int, int]
    index: np.ndarray
    dh: np.ndarray
    dw: np.ndarray

    @classmethod
    def from_dense(cls, offsets: np.ndarray) -> "SparseOffsets":
        """From an H×W×2 integer array (channel 0 = dh, 1 = dw), C- or Fortran-ordered."""
        offsets = np.asarray(offsets)
        if offsets.ndim != 3 or offsets.shape[2] != 2:
            raise ValueError(f"offsets must be H×W×2, got shape {offsets.shape}")
        height, width = offsets.shape[:2]
        if offsets.transpose(1, 0, 2)[:, :, 0].flags.c_contiguous:
            # Fortran order (what loadmat returns): scan column by column, no transposing copy.
            dh, dw = (offsets.transpose(1, 0, 2)[:, :, k].ravel() for k in (0, 1))
            found = np.flatnonzero((dh | dw) != 0)
            cols, rows = np.divmod(found, height)
            return cls((height, width), rows * width + cols, dh[found], dw[found])
        dh, dw = offsets[:, :, 0].ravel(), offsets[:, :, 1].ravel()
        found = np.flatnonzero((dh | dw) != 0)
        return cls((height, width), found, dh[found], dw[found])

    def dense(self, dtype: np.dtype | type | str | None = None) -> np.ndarray:
        """H×W×2 array of ``dtype`` (None: int8, or int32 if an offset does not fit in int8)."""
        if dtype is None:
            big = self.dh.size and max(np.abs(self.dh).max(), np.abs(self.dw).max()) > 127
            dtype = np.int32 if big else np.int8
        out = np.zeros((self.size[0] * self.size[1], 2), np.dtype(dtype))
        out[self.index, 0] = self.dh
        out[self.index, 1] = self.dw
        return out.reshape(self.size[0], self.size[1], 2)


def _check_integral(values: np.ndarray, source: str) -> np.ndarray:
    if values.dtype.kind in "iub":
        return values
    if values.dtype.kind == "f" and np.array_equal(values, np.round(values)):
        return values.astype(np.int32)
    raise OcsegError(f"offsets in '{source}' are not integers ({values.dtype}); SegFix offsets are "
                     "whole-pixel (dh, dw) moves, as written by predict_offsets.py")


def _read_mat(data: bytes | Path, source: str) -> SparseOffsets:
    fast = read_int8_array(data, "mat")
    if fast is not None and fast.ndim == 3 and fast.shape[2] == 2:
        return SparseOffsets.from_dense(fast)
    # anything the fast reader does not parse, and the error messages
    mat = load_mat(source, data, what="offset file", fix=_FIX)
    if "mat" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise OcsegError(f"offset file '{source}' has no 'mat' entry (keys {keys}); SegFix offsets "
                         "are .mat files with key 'mat' (H×W×2), e.g. from predict_offsets.py")
    dense = np.asarray(mat["mat"])
    if dense.ndim != 3 or dense.shape[2] != 2:
        raise OcsegError(f"offset file '{source}' holds an array of shape {dense.shape}; expected "
                         "H×W×2 (channel 0 = dh, 1 = dw)")
    return SparseOffsets.from_dense(_check_integral(dense, source))


def _read_npz(data: bytes | Path, source: str) -> SparseOffsets:
    z = load_npz(source, data, what="offset file", fix=_FIX)
    if _NPZ_KEY not in z:
        raise OcsegError(f"'{source}' is not an ocseg offset file (no '{_NPZ_KEY}' entry); "
                         "write offsets with ocseg.segfix.offsets.files.write_offsets")
    missing = [k for k in ("step", "code") if k not in z]
    sizes = np.asarray(z[_NPZ_KEY]).ravel()
    if missing or sizes.size != 2 or sizes.dtype.kind not in "iu" or (sizes < 1).any():
        raise OcsegError(f"offset file '{source}' is corrupt (a size [H, W] and 'step', 'code' "
                         f"entries expected); {_FIX}")
    size = (int(sizes[0]), int(sizes[1]))
    step, code = np.asarray(z["step"]).ravel(), np.asarray(z["code"]).ravel()
    if step.dtype.kind not in "u" or code.dtype.kind not in "u":
        raise OcsegError(f"offset file '{source}' is corrupt (step and code must be unsigned "
                         f"integers, got {step.dtype} and {code.dtype}); {_FIX}")
    index = np.cumsum(step, dtype=np.int64)
    if code.size != index.size or (index.size and (index[-1] >= size[0] * size[1]
                                                   or code.max() > 8)):
        raise OcsegError(f"offset file '{source}' is corrupt (indices or codes out of range)")
    return SparseOffsets(size, index, _CODE_DH[code], _CODE_DW[code])


def offsets_size(path: str | Path, data: bytes | None = None) -> tuple[int, int]:
    """``(H, W)`` of an offset file, cheaply where possible: a complete ``.mat`` file's header
    (the data is not inflated); anything else (``.npz``, compact anyway; a truncated or unusual
    ``.mat``) is read, so a damaged file raises the reading error here."""
    if Path(path).suffix.lower() == ".mat":
        shape = array_shape(data if data is not None else Path(path), "mat")
        if shape is not None and len(shape) == 3 and shape[2] == 2:
            return int(shape[0]), int(shape[1])
    size = read_offsets(path, data).size
    return int(size[0]), int(size[1])


def read_offsets(path: str | Path, data: bytes | None = None) -> SparseOffsets:
    """Read ``path`` (``.mat`` or ``.npz``, chosen by extension); ``data``: its bytes when the
    file sits inside an archive (``path`` then only names it)."""
    p = Path(path)
    source = str(p)
    suffix = p.suffix.lower()
    if suffix not in OFFSET_SUFFIXES:
        raise OcsegError(f"'{p}' is not an offset file; offsets are .mat (the original's) or .npz "
                         "(ocseg compact)")
    if data is None and not p.is_file():
        raise OcsegError(f"offset file '{p}' not found")
    reader = _read_mat if suffix == ".mat" else _read_npz
    return reader(data if data is not None else p, source)


def write_offsets(path: str | Path, offsets: SparseOffsets | np.ndarray,
                  mat_dtype: np.dtype | type | str | None = None) -> None:
    """Write offsets atomically; the format follows the extension (``.mat`` or ``.npz``).

    ``mat_dtype``: integer type of the ``.mat`` array (None: int8; ``"int32"`` is what the
    original tester wrote)."""
    p = Path(path)
    sparse = offsets if isinstance(offsets, SparseOffsets) else SparseOffsets.from_dense(offsets)
    suffix = p.suffix.lower()
    if suffix == ".mat":
        if mat_dtype is not None and np.dtype(mat_dtype).kind != "i":
            raise ValueError(f"mat_dtype must be a signed integer type, got {mat_dtype!r}")
        with atomic_path(p, suffix=".mat") as tmp:
            write_mat(tmp, {"mat": sparse.dense(mat_dtype)})
        return
    if suffix != ".npz":
        raise ValueError(f"offset files are .mat or .npz, not '{p.suffix}'")
    if sparse.dh.size and (np.abs(sparse.dh).max() > 1 or np.abs(sparse.dw).max() > 1):
        raise OcsegError(f"offsets for '{p}' are larger than one pixel; the compact .npz format "
                         "holds dh, dw ∈ {-1, 0, 1} only, write .mat instead")
    order = np.argsort(sparse.index, kind="stable")
    step = np.diff(sparse.index[order], prepend=0).astype(np.uint32)
    code = (3 * (sparse.dh[order].astype(np.int16) + 1) + sparse.dw[order] + 1).astype(np.uint8)
    with atomic_path(p, suffix=".npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **{_NPZ_KEY: np.asarray(sparse.size, np.int64)},
                                step=step, code=code)
