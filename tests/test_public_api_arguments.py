"""The public Python API refuses bad arguments with a standard exception and one line naming the
argument and what is allowed: ``ValueError`` / ``TypeError`` / ``FileNotFoundError`` (ocseg's
:class:`~ocseg.errors.ArgumentError`, :class:`~ocseg.errors.ArgumentTypeError` and
:class:`~ocseg.errors.MissingFileError` are those and :class:`~ocseg.errors.OcsegError` too), or a
documented ``OcsegError`` subclass for a damaged file. Never a silently broken object: before,
``build_model(name, 0)`` returned a 0-class network, ``-3`` gave Hydra's multi-line
``InstantiationException``, ``refine`` on float offsets a numpy ``TypeError`` about
``bitwise_or``, ``predict`` on an empty array an ``IndexError`` and on a 0-byte file a ``cv2.error``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ocseg
from helpers.checkpoints import make_checkpoint
from ocseg.errors import OcsegError
from ocseg.io.image_io import CorruptFileError


def _one_line(exc: pytest.ExceptionInfo, *fragments: str) -> None:
    text = str(exc.value)
    assert "\n" not in text and isinstance(exc.value, OcsegError), text
    for fragment in fragments:
        assert fragment in text, (fragment, text)


@pytest.mark.parametrize("args, kind, fragments", [
    (("tiny_fcn", 0), ValueError, ("num_classes", "≥ 1", "0")),
    (("tiny_fcn", -3), ValueError, ("num_classes", "≥ 1", "-3")),
    (("tiny_fcn", 2.5), TypeError, ("num_classes", "integer", "float")),
    (("tiny_fcn", True), TypeError, ("num_classes", "bool")),
    (("tiny_fcn", "3"), TypeError, ("num_classes", "str")),
    (("no_such_model", 3), ValueError, ("no_such_model", "available", "hrnet48_ocr")),
    ((None, 3), TypeError, ("model name", "NoneType")),
])
def test_build_model_refuses_bad_arguments(args, kind, fragments):
    with pytest.raises(kind) as exc:
        ocseg.build_model(*args)
    _one_line(exc, *fragments)


def test_build_model_overrides_that_do_not_build_are_one_line():
    with pytest.raises(ValueError) as exc:
        ocseg.build_model("tiny_fcn", 3, **{"head.mid_channels": -5})
    _one_line(exc, "tiny_fcn", "head.mid_channels=-5")
    with pytest.raises(ValueError) as exc:
        ocseg.build_model("tiny_fcn", 3, backbone="no_such_backbone")
    _one_line(exc, "backbone=no_such_backbone")
    net = ocseg.build_model("tiny_fcn", np.int64(2)).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 32, 32))["out"].shape[1] == 2


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("api") / "tiny.ckpt")


@pytest.mark.parametrize("kwargs, kind, fragments", [
    ({"path": None}, TypeError, ("path", "NoneType")),
    ({"path": 3}, TypeError, ("path", "int")),
    ({"path": "missing.ckpt"}, FileNotFoundError, ("missing.ckpt", "not found")),
    ({"num_classes": 0}, ValueError, ("num_classes", "≥ 1")),
    ({"model": 3}, TypeError, ("model", "int")),
    ({"device": "gpu7"}, ValueError, ("device='gpu7'", "cpu")),
])
def test_load_refuses_bad_arguments(ckpt, kwargs, kind, fragments):
    kwargs = {"path": ckpt, **kwargs}
    with pytest.raises(kind) as exc:
        ocseg.load(**kwargs)
    _one_line(exc, *fragments)


@pytest.fixture(scope="module")
def seg(ckpt):
    return ocseg.load(ckpt)


@pytest.mark.parametrize("image, kind, fragments", [
    (np.zeros((0, 0, 3), np.uint8), ValueError, ("image is empty", "0×0")),
    (np.zeros((5, 0, 3), np.uint8), ValueError, ("image is empty",)),
    (np.array([], np.uint8), ValueError, ("H×W×3", "(0,)")),
    (np.zeros((8, 8, 3), np.float32), TypeError, ("H×W×3 uint8", "float32")),
    (np.zeros((8, 8, 5), np.uint8), ValueError, ("H×W×3", "(8, 8, 5)")),
    ([[1, 2], [3, 4]], TypeError, ("image", "list")),
    (None, TypeError, ("image", "NoneType")),
])
def test_predict_refuses_bad_images(seg, image, kind, fragments):
    with pytest.raises(kind) as exc:
        seg.predict(image)
    _one_line(exc, *fragments)


def test_predict_files_and_options(seg, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(CorruptFileError) as exc:
        seg.predict(empty)
    _one_line(exc, "empty.png", "cannot be decoded")
    with pytest.raises(FileNotFoundError) as exc:
        seg.predict(tmp_path / "missing.png")
    _one_line(exc, "missing.png", "not found")
    image = np.zeros((16, 16, 3), np.uint8)
    for kwargs, kind, fragment in (({"test": "xx"}, ValueError, "test='xx'"),
                                   ({"flip": "yes"}, TypeError, "flip"),
                                   ({"channels": "hsv"}, ValueError, "channels='hsv'")):
        with pytest.raises(kind) as exc:
            seg.predict(image, **kwargs)
        _one_line(exc, fragment)
    # grey and RGBA arrays are read as a grey or RGBA file is: the same labels as the RGB image
    grey = np.random.RandomState(0).randint(0, 256, (16, 16), np.uint8)
    expected = seg.predict(np.dstack([grey] * 3))
    assert np.array_equal(seg.predict(grey), expected)
    assert np.array_equal(seg.predict(np.dstack([grey] * 3 + [grey])), expected)


def test_colorize_and_predict_offsets_refuse_bad_arguments(seg):
    for labels, kind, fragment in ((np.zeros((4, 4), np.float32), ValueError, "float32"),
                                   (np.zeros((4, 4, 3), np.uint8), ValueError, "H×W integer"),
                                   ([[0, 1]], TypeError, "list")):
        with pytest.raises(kind) as exc:
            seg.colorize(labels)
        _one_line(exc, "labels", fragment)
    with pytest.raises(OcsegError, match="not SegFix"):
        seg.predict_offsets(np.zeros((8, 8, 3), np.uint8))


def test_predict_offsets_refuses_an_unknown_mode(tmp_path):
    seg = ocseg.load(make_checkpoint(tmp_path / "segfix.ckpt", kind="segfix"))
    with pytest.raises(ValueError) as exc:
        seg.predict_offsets(np.zeros((8, 8, 3), np.uint8), mode="tiles")
    _one_line(exc, "mode='tiles'", "'sliding'", "'whole'")
    with pytest.raises(ValueError) as exc:
        seg.predict_offsets(np.zeros((0, 8, 3), np.uint8))
    _one_line(exc, "image is empty")


@pytest.mark.parametrize("labels, offsets, scale, kind, fragments", [
    (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 2), np.float32), 2, TypeError, ("offsets", "integers", "float32")),
    (np.zeros((4, 4), np.uint8), np.zeros((4, 5, 2), np.int8), 2, ValueError, ("labels", "(4, 5)", "(4, 4)")),
    (np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.int8), 2, ValueError, ("offsets", "H×W×2")),
    (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 2), np.int8), 0, ValueError, ("scale", "≥ 1")),
    (np.zeros((4, 4), np.uint8), np.zeros((4, 4, 2), np.int8), 1.5, TypeError, ("scale", "float")),
    ([[0]], np.zeros((1, 1, 2), np.int8), 2, TypeError, ("labels", "numpy array", "list")),
])
def test_segfix_refine_refuses_bad_arguments(labels, offsets, scale, kind, fragments):
    from ocseg.segfix import refine

    with pytest.raises(kind) as exc:
        refine(labels, offsets, scale)
    _one_line(exc, *fragments)


def test_segfix_refine_still_refines():
    from ocseg.segfix import refine

    labels = np.zeros((4, 4), np.uint8)
    labels[:, 2:] = 1
    offsets = np.zeros((4, 4, 2), np.int8)
    offsets[:, 1, 1] = 1  # column 1 copies from column 1 + 2·1 = 3
    assert refine(labels, offsets)[:, 1].tolist() == [1, 1, 1, 1]
