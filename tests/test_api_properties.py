"""Property-based bad input for the public Python API and the file readers behind every tool.

Each function gets odd arrays (any common dtype, 0-4 dimensions, empty sides, NaN/Inf),
damaged files (truncated, bytes flipped, garbage appended, random bytes) or files whose pickle
would run code, and must either return a result of the documented shape and type, or raise
``ValueError`` / ``TypeError`` / :class:`~ocseg.errors.OcsegError` (``FileNotFoundError`` among
them) with a one-line message; anything else (an ``IndexError``, a ``cv2.error``, numpy's
``TypeError`` about ``bitwise_or`` …) fails. No pickle payload may run. Examples per function are
in the ``harness_settings(...)`` lines; the file runs ≈1 minute on one core.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from hypothesis import given
from hypothesis import strategies as st

import ocseg
from helpers.checkpoints import make_checkpoint
from helpers.hostile import Payload, torch_file
from helpers.strategies import damaged, harness_settings, odd_arrays, png_of
from ocseg.errors import OcsegError

_ALLOWED = (ValueError, TypeError, OcsegError)


@contextlib.contextmanager
def refused_in_one_line():
    """The block either finishes or raises an allowed exception with a one-line message."""
    try:
        yield
    except _ALLOWED as exc:
        assert "\n" not in str(exc).strip() and str(exc).strip(), f"{type(exc).__name__}: {exc!r}"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("api_properties")


@pytest.fixture(scope="module")
def seg(files):
    return ocseg.load(make_checkpoint(files / "tiny.ckpt"))


@pytest.fixture(scope="module")
def segfix(files):
    return ocseg.load(make_checkpoint(files / "segfix.ckpt", kind="segfix"))


def _temp_file(folder: Path, suffix: str, data: bytes) -> Path:
    handle = tempfile.NamedTemporaryFile(dir=folder, suffix=suffix, delete=False)
    handle.write(data)
    handle.close()
    return Path(handle.name)


# ---- ocseg.segfix.refine ---------------------------------------------------------------------
@harness_settings(300)
@given(labels=odd_arrays(), offsets=odd_arrays(), scale=st.one_of(st.integers(-2, 4), st.floats(-2, 4)))
def test_refine_with_odd_arrays(labels, offsets, scale):
    from ocseg.segfix import refine

    with refused_in_one_line():
        out = refine(labels, offsets, scale)
        assert out.shape == labels.shape and out.dtype == labels.dtype


@harness_settings(150)
@given(data=st.data(), height=st.integers(1, 12), width=st.integers(1, 12), channels=st.sampled_from([0, 3]))
def test_refine_moves_labels_never_invents_them(data, height, width, channels):
    """With valid arguments every output value is an input value (an exact gather)."""
    from ocseg.segfix import refine

    shape = (height, width) + ((channels,) if channels else ())
    labels = np.asarray(data.draw(st.lists(st.integers(0, 65535), min_size=int(np.prod(shape)),
                                           max_size=int(np.prod(shape)))), np.uint16).reshape(shape)
    offsets = np.asarray(data.draw(st.lists(st.integers(-128, 127), min_size=height * width * 2,
                                            max_size=height * width * 2)), np.int8).reshape(height, width, 2)
    out = refine(labels, offsets, data.draw(st.integers(1, 3)))
    assert set(np.unique(out)) <= set(np.unique(labels))


# ---- Segmenter -------------------------------------------------------------------------------
IMAGE_FILES = st.one_of(
    st.tuples(st.just(".png"), damaged()),
    st.tuples(st.just(".jpg"), damaged()),
    st.tuples(st.sampled_from([".png", ".jpg", ".bmp", ".tiff"]), odd_arrays(max_side=24).map(lambda a: a)),
)
_VALID = cv2.imencode(".png", np.random.RandomState(0).randint(0, 255, (20, 24, 3), np.uint8))[1].tobytes()
_VALID_JPG = cv2.imencode(".jpg", np.random.RandomState(0).randint(0, 255, (20, 24, 3), np.uint8))[1].tobytes()


def _image_file(folder: Path, suffix: str, source) -> Path:
    if isinstance(source, np.ndarray):  # an odd array written by OpenCV where it can
        data = png_of(source) if suffix == ".png" else None
        if data is None:
            try:
                ok, buf = cv2.imencode(suffix, source)
                data = buf.tobytes() if ok else b""
            except cv2.error:
                data = b""
        return _temp_file(folder, suffix, data)
    return _temp_file(folder, suffix, source(_VALID if suffix == ".png" else _VALID_JPG))


@harness_settings(40)
@given(image=st.one_of(odd_arrays(max_side=24), IMAGE_FILES), channels=st.sampled_from([None, "rgb", "bgr"]))
def test_predict_with_odd_images(seg, files, image, channels):
    if isinstance(image, tuple):
        image = _image_file(files, *image)
    with refused_in_one_line():
        labels = seg.predict(image, channels=channels)
        assert labels.ndim == 2 and labels.dtype.kind in "iu"


@harness_settings(20)
@given(image=st.one_of(odd_arrays(max_side=20), IMAGE_FILES), mode=st.sampled_from(["sliding", "whole"]))
def test_predict_offsets_with_odd_images(segfix, files, image, mode):
    if isinstance(image, tuple):
        image = _image_file(files, *image)
    with refused_in_one_line():
        offsets = segfix.predict_offsets(image, mode=mode)
        assert offsets.ndim == 3 and offsets.shape[2] == 2 and offsets.dtype.kind == "i"


@harness_settings(150)
@given(labels=odd_arrays())
def test_colorize_with_odd_arrays(seg, labels):
    with refused_in_one_line():
        colours = seg.colorize(labels)
        assert colours.shape == (*labels.shape, 3) and colours.dtype == np.uint8


# ---- ocseg.load and the ImageNet file of build_model -----------------------------------------
@harness_settings(20)
@given(damage=st.one_of(damaged(), st.sampled_from(["checkpoint", "legacy"])))
def test_load_with_damaged_or_hostile_checkpoints(files, damage):
    folder = Path(tempfile.mkdtemp(dir=files))
    marker = folder / "marker"
    if isinstance(damage, str):
        path = torch_file(folder / "evil.ckpt", marker, damage)
    else:
        path = _temp_file(folder, ".ckpt", damage((files / "tiny.ckpt").read_bytes()))
    with refused_in_one_line():
        ocseg.load(path)
    assert not marker.exists()


@harness_settings(10)
@given(damage=st.one_of(damaged(), st.just("payload")))
def test_build_model_with_damaged_or_hostile_imagenet_files(files, damage):
    import torch

    from ocseg.models.backbones.hrnet import HRNet

    folder = Path(tempfile.mkdtemp(dir=files))
    marker = folder / "marker"
    path = folder / "w.pth"
    if damage == "payload":
        torch_file(path, marker, "state_dict")
    else:
        buffer = io.BytesIO()
        torch.save(HRNet("hrnet_tiny").state_dict(), buffer)
        path.write_bytes(damage(buffer.getvalue()))
    with refused_in_one_line():
        ocseg.build_model("tiny_fcn", 3, **{"backbone.pretrained": str(path)})
    assert not marker.exists()


# ---- the file readers behind the tools -------------------------------------------------------
def _mat_bytes(array: np.ndarray, key: str = "mat") -> bytes:
    buffer = io.BytesIO()
    try:
        scipy.io.savemat(buffer, {key: array}, do_compression=True)
    except Exception:  # noqa: BLE001 - scipy cannot write every odd array (0-d bools, …)
        return b""
    return buffer.getvalue()


def _npz_bytes(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


_VALID_MAT = _mat_bytes(np.random.RandomState(0).randint(-1, 2, (6, 7, 2)).astype(np.int8))
_VALID_NPZ = _npz_bytes({"ocseg_offsets_v1": np.array([6, 7]), "step": np.array([1, 3, 2], np.uint32),
                         "code": np.array([0, 4, 8], np.uint8)})

OFFSET_FILES = st.one_of(
    st.tuples(st.just(".mat"), damaged().map(lambda d: d(_VALID_MAT))),
    st.tuples(st.just(".npz"), damaged().map(lambda d: d(_VALID_NPZ))),
    st.tuples(st.just(".mat"), st.tuples(odd_arrays(max_side=8), st.sampled_from(["mat", "other"])).map(
        lambda a: _mat_bytes(*a))),
    st.tuples(st.just(".npz"), st.dictionaries(st.sampled_from(["ocseg_offsets_v1", "step", "code", "x"]),
                                               odd_arrays(max_side=8), max_size=4).map(_npz_bytes)),
    st.tuples(st.just(".npz"), st.just("pickle")),
)


@harness_settings(250)
@given(source=OFFSET_FILES)
def test_offset_reader_with_damaged_and_odd_files(files, source):
    """What refine.py reads from every offsets folder or archive."""
    from ocseg.segfix.offsets.files import offsets_size, read_offsets

    suffix, data = source
    marker = files / "offsets_marker"
    if data == "pickle":
        data = _npz_bytes({"ocseg_offsets_v1": np.array([2, 2]), "code": np.array([Payload(marker)], object)})
    for read in (lambda: read_offsets(f"x{suffix}", data=data), lambda: offsets_size(f"x{suffix}", data=data)):
        with refused_in_one_line():
            result = read()
            if not isinstance(result, tuple):
                assert result.index.size == result.dh.size == result.dw.size
    assert not marker.exists()


@harness_settings(250)
@given(source=IMAGE_FILES)
def test_image_and_label_readers_with_damaged_and_odd_files(files, source):
    """What every dataset, eval.py, predict_offsets.py, refine.py and segfix-gt read images and
    labels with, and the check they run before their first output."""
    from ocseg.data.preflight import check_inputs
    from ocseg.io.image_io import read_image, read_label, read_label_png

    path = _image_file(files, *source)
    for read in (read_image, read_label, read_label_png, lambda p: check_inputs([p], what="label")):
        with refused_in_one_line():
            read(path)
