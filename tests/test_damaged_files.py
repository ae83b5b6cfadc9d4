"""Damaged and odd files: one line, never a traceback; accepted where their meaning is clear.

* Undecodable images and labels of every kind (0 bytes, random bytes, truncated PNG and JPEG, a
  text file named ``.png``) are :class:`~ocseg.io.image_io.CorruptFileError`, which
  ``data.on_bad_file=skip`` skips and counts (the defect: a 0-byte image was a ``cv2.error``
  traceback, and skip did not skip it).
* Odd but meaningful files are read: 16-bit, grey(+alpha) and RGBA PNG images and grey JPEGs
  become 8-bit BGR (as OpenCV reads them); 16-bit label PNGs are 16-bit ids. A colour label
  PNG is refused (by its header, before the first output in eval and segfix-gt).
* A damaged offsets archive (a member with a bad CRC) is one line naming the archive and the
  member, before refine writes anything (the defect: ``zipfile.BadZipFile`` tracebacks).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers.config import REPO, compose
from helpers.data_fakes import folder_raw, write_png
from helpers.hostile import break_crc
from ocseg.errors import OcsegError

H, W = 24, 32


def _png(array: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", array)
    assert ok
    return data.tobytes()


def _jpeg(array: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", array)
    assert ok
    return data.tobytes()


RNG = np.random.RandomState(0)
COLOUR = RNG.randint(0, 256, (H, W, 3)).astype(np.uint8)
UNDECODABLE = {
    "0 bytes.png": b"",
    "random bytes.png": RNG.bytes(500),
    "text.png": b"this is not an image\n",
    "truncated.png": _png(COLOUR)[:200],
    "signature only.png": b"\x89PNG\r\n\x1a\n",
    "truncated.jpg": _jpeg(COLOUR)[:300],
    "0 bytes.jpg": b"",
    "random bytes.bmp": b"BM" + RNG.bytes(100),
}


@pytest.mark.parametrize("name", list(UNDECODABLE))
def test_undecodable_files_are_corrupt_file_errors(tmp_path, name):
    from ocseg.io.image_io import CorruptFileError, read_image, read_label

    path = tmp_path / name
    path.write_bytes(UNDECODABLE[name])
    for read in (read_image, read_label):
        with pytest.raises(CorruptFileError) as exc:
            read(path)
        assert str(path) in str(exc.value) and "\n" not in str(exc.value)


ACCEPTED_IMAGES = {
    "16-bit RGB PNG": lambda: _png((COLOUR.astype(np.uint16) * 257)),
    "16-bit grey PNG": lambda: _png(COLOUR[:, :, 0].astype(np.uint16) * 257),
    "RGBA PNG": lambda: _png(np.dstack([COLOUR, np.full((H, W), 128, np.uint8)])),
    "grey PNG": lambda: _png(COLOUR[:, :, 0]),
    "grey JPEG": lambda: _jpeg(COLOUR[:, :, 0]),
    "palette PNG": lambda: _pil_png(Image.fromarray(COLOUR[:, :, 0] % 4, mode="L").convert("P")),
}


def _pil_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", list(ACCEPTED_IMAGES))
def test_odd_images_are_read_as_8_bit_bgr(tmp_path, kind):
    from ocseg.data.preflight import check_inputs
    from ocseg.io.image_io import read_image

    path = tmp_path / ("image.jpg" if "JPEG" in kind else "image.png")
    path.write_bytes(ACCEPTED_IMAGES[kind]())
    image = read_image(path)
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    check_inputs([path])  # and eval's / predict_offsets' check before the first output agrees


def test_label_kinds(tmp_path):
    """16-bit ids are ids; colour (RGB/RGBA) and float labels are one line, also in the check
    that eval and segfix-gt run before their first output."""
    from ocseg.data.preflight import check_inputs
    from ocseg.io.image_io import read_label

    ids16 = (COLOUR[:, :, 0].astype(np.uint16) * 100)
    (tmp_path / "ids16.png").write_bytes(_png(ids16))
    assert np.array_equal(read_label(tmp_path / "ids16.png"), ids16)
    check_inputs([tmp_path / "ids16.png"], what="label")
    for name, array in (("colour.png", COLOUR), ("rgba.png", np.dstack([COLOUR, COLOUR[:, :, 0]]))):
        (tmp_path / name).write_bytes(_png(array))
        with pytest.raises(OcsegError, match=rf"label '.*{name}' has [34] channels"):
            read_label(tmp_path / name)
        with pytest.raises(OcsegError, match=rf"label '.*{name}' is a colour image \(RGBA? PNG\)"):
            check_inputs([tmp_path / name], what="label")
    cv2.imwrite(str(tmp_path / "float.tiff"), COLOUR[:, :, 0].astype(np.float32))
    with pytest.raises(OcsegError, match="holds float32 values"):
        read_label(tmp_path / "float.tiff")


def test_on_bad_file_skip_covers_every_undecodable_kind(tmp_path, caplog):
    """Every undecodable image or label of a training folder is skipped and counted, and the
    count is logged when the data module is torn down."""
    from hydra.utils import instantiate

    folder_raw(tmp_path / "data")
    images = tmp_path / "data" / "images" / "train" / "sub"
    for i, name in enumerate(UNDECODABLE):
        write_png(images / f"ok{i}.png", COLOUR)
        write_png(tmp_path / "data" / "labels" / "train" / "sub" / f"ok{i}.png", np.zeros((H, W), np.uint8))
        target = images / f"bad{i}.png"
        write_png(target, COLOUR)
        write_png(tmp_path / "data" / "labels" / "train" / "sub" / f"bad{i}.png", np.zeros((H, W), np.uint8))
        if i % 2:  # alternately the image and the label is the broken file
            target = tmp_path / "data" / "labels" / "train" / "sub" / f"bad{i}.png"
        target.write_bytes(UNDECODABLE[name])
    cfg = compose("train", ["dataset=folder", f"dataset.root={tmp_path / 'data'}", "paths.output_dir=x",
                            "data.on_bad_file=skip", "data.num_workers=0", "data.batch_size=1",
                            "dataset.crop_size=[8,8]"])
    dm = instantiate(cfg.data)
    ds = dm.dataset("train")
    with caplog.at_level("WARNING"):
        names = [ds[i]["name"] for i in range(len(ds))]  # a bad index is replaced by the next good one
    assert not any("bad" in n for n in names)
    skipped = {Path(r.getMessage().split("'")[1]).name for r in caplog.records if "skipping corrupt" in r.getMessage()}
    assert skipped == {f"bad{i}.png" for i in range(len(UNDECODABLE))}
    caplog.clear()
    with caplog.at_level("WARNING"):
        dm.teardown("fit")
    assert f"skipped {ds.skipped} corrupt file(s) in the train split" in caplog.text


def test_default_dataset_root_that_is_a_file_is_one_error(tmp_path):
    from ocseg.data.synthetic_city import ensure_generated

    (tmp_path / "file").write_text("x")
    with pytest.raises(OcsegError, match=r"dataset.root='.*file' is a file, not a folder"):
        ensure_generated(tmp_path / "file")


def _refine(tmp: Path, *args: str) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    done = subprocess.run([sys.executable, str(REPO / "refine.py"), *args, f"hydra.run.dir={tmp / 'run'}",
                           f"metrics_file={tmp / 'out' / 'metrics.json'}"],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_offsets_archive_with_a_bad_crc_is_one_line_before_any_output(tmp_path, workers):
    """The defect: zipfile.BadZipFile tracebacks from the worker and the main process."""
    from ocseg.io.matfile import write_mat

    preds = tmp_path / "preds"
    archive = tmp_path / "offset_semantic.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for i in range(3):
            write_png(preds / f"img{i}.png", (COLOUR[:, :, 0] % 3).astype(np.uint8))
            write_mat(tmp_path / "m.mat", {"mat": np.ones((H, W, 2), np.int32)})
            zf.write(tmp_path / "m.mat", f"val/semantic/offset_hrnext/img{i}.mat")
    break_crc(archive, "val/semantic/offset_hrnext/img2.mat")
    rc, stderr = _refine(tmp_path, f"input={preds}", f"offsets={archive}", f"output={tmp_path / 'out'}",
                         f"workers={workers}")
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert rc == 2 and len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert "offset_semantic.zip:val/semantic/offset_hrnext/img2.mat" in errors[0] and "CRC" in errors[0]
    assert not any((tmp_path / "out").rglob("*.png"))
