"""The ``.mat`` IO of SegFix files (ocseg.io.matfile): the fast reader gives the same arrays
as ``scipy.io.loadmat`` for every storage type, byte layout and file shape offset files come in,
and None (the scipy fallback) for everything else, so ``read_offsets`` results never change;
written files read back with scipy."""

from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.io

from ocseg.io.matfile import read_int8_array
from ocseg.segfix.offsets.files import SparseOffsets, read_offsets, write_offsets


def _offsets(rng, height=37, width=53, dtype=np.int32) -> np.ndarray:
    off = rng.randint(-1, 2, size=(height, width, 2)) * (rng.rand(height, width, 1) < 0.2)
    return off.astype(dtype)


def _mat(variables: dict, **kw) -> bytes:
    out = io.BytesIO()
    scipy.io.savemat(out, variables, **kw)
    return out.getvalue()


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("compressed", [True, False])
def test_equals_loadmat(dtype, compressed):
    off = _offsets(np.random.RandomState(0), dtype=dtype)
    data = _mat({"before": np.arange(7.0), "mat": off, "label": "text"}, do_compression=compressed)
    got = read_int8_array(data, "mat")
    assert got.dtype == np.int8 and got.shape == off.shape
    np.testing.assert_array_equal(got, scipy.io.loadmat(io.BytesIO(data))["mat"])


def test_large_maps_span_many_inflated_pieces(tmp_path):
    """A 300×700×2 int32 map inflates to 1.7 MB: many 256 KB pieces, narrowed one by one."""
    off = _offsets(np.random.RandomState(1), 300, 700)
    path = tmp_path / "big.mat"
    write_offsets(path, off, mat_dtype="int32")  # what the original tester wrote
    np.testing.assert_array_equal(read_int8_array(path, "mat"), off)
    np.testing.assert_array_equal(read_offsets(path).dense(np.int32), off)
    moved = SparseOffsets.from_dense(off)
    back = read_offsets(path)
    order = np.argsort(back.index)
    np.testing.assert_array_equal(back.index[order], np.sort(moved.index))


def test_anything_else_is_left_to_scipy(tmp_path):
    rng = np.random.RandomState(2)
    assert read_int8_array(_mat({"other": np.ones(3)}), "mat") is None  # no such variable
    assert read_int8_array(b"not a mat file at all" * 10, "mat") is None
    assert read_int8_array(tmp_path / "absent.mat", "mat") is None
    wide = _offsets(rng) * 300  # values beyond int8: scipy reads them, read_offsets still works
    data = _mat({"mat": wide}, do_compression=True)
    assert read_int8_array(data, "mat") is None
    (tmp_path / "wide.mat").write_bytes(data)
    np.testing.assert_array_equal(read_offsets(tmp_path / "wide.mat").dense(np.int32), wide)
    assert read_int8_array(_mat({"mat": np.full((2, 2, 2), 0.5)}), "mat") is None
    assert read_int8_array(_mat({"mat": _offsets(rng).astype(complex)}), "mat") is None
    truncated = _mat({"mat": _offsets(rng)}, do_compression=True)[:-40]
    assert read_int8_array(truncated, "mat") is None


def test_written_files_read_back_with_scipy(tmp_path):
    from ocseg.io.matfile import write_mat

    rng = np.random.RandomState(3)
    off = _offsets(rng)
    depth = rng.randint(0, 251, size=(9, 13)).astype(np.uint8)
    write_mat(tmp_path / "a.mat", {"mat": off, "depth": depth, "deg_reduce": 2,
                                   "row": np.array([1.5, -2.0])})
    back = scipy.io.loadmat(tmp_path / "a.mat")
    assert back["mat"].dtype == np.int32 and back["depth"].dtype == np.uint8
    np.testing.assert_array_equal(back["mat"], off)
    np.testing.assert_array_equal(back["depth"], depth)
    assert back["deg_reduce"].tolist() == [[2]] and back["row"].tolist() == [[1.5, -2.0]]
    np.testing.assert_array_equal(read_int8_array(tmp_path / "a.mat", "mat"), off)
    with pytest.raises(TypeError, match="real numeric"):
        write_mat(tmp_path / "b.mat", {"x": np.array(["text"])})
