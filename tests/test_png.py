"""The label-PNG codec (ocseg.io.png): decoding equals OpenCV's / Pillow's on files they
write, encoded files read back identically with OpenCV and Pillow, and layouts it does not
handle are handed back (None)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from ocseg.io.png import decode_png, encode_png


def _labels(rng, height=37, width=53, top=40, dtype=np.uint8):
    small = rng.randint(0, top, size=(height // 6 + 1, width // 6 + 1))
    label = np.kron(small, np.ones((6, 6), np.int64))[:height, :width]
    noise = rng.rand(height, width) < 0.05
    label[noise] = rng.randint(0, top, size=noise.sum())
    return label.astype(dtype)


def _cv2_png(array, *flags) -> bytes:
    ok, buf = cv2.imencode(".png", array, list(flags))
    assert ok
    return buf.tobytes()


def _pil_png(image: Image.Image, **kw) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", **kw)
    return out.getvalue()


@pytest.mark.parametrize("seed", [0, 1])
def test_decodes_what_opencv_and_pillow_write(seed):
    rng = np.random.RandomState(seed)
    grey, wide = _labels(rng), _labels(rng, top=60000, dtype=np.uint16)
    bgr = np.stack([_labels(rng), _labels(rng), _labels(rng)], axis=2)
    sub_rows = _cv2_png(grey)  # OpenCV's default: Sub rows
    for data, expected in [(sub_rows, grey), (_cv2_png(wide), wide), (_cv2_png(bgr), bgr),
                           (_cv2_png(grey, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP), grey),
                           (_cv2_png(grey, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE), grey)]:
        array, palette = decode_png(data)
        assert palette is None and array.dtype == expected.dtype
        np.testing.assert_array_equal(array, expected)
        np.testing.assert_array_equal(array, cv2.imdecode(np.frombuffer(data, np.uint8),
                                                          cv2.IMREAD_UNCHANGED))
    # Pillow's palette PNGs (Up rows after a Sub row), as the original tester wrote predictions
    image = Image.frombytes("P", grey.shape[::-1], grey.tobytes())
    image.putpalette([v for i in range(256) for v in (i, 255 - i, 3)])
    data = _pil_png(image)
    array, palette = decode_png(data)
    with Image.open(io.BytesIO(data)) as back:
        np.testing.assert_array_equal(array, np.array(back))
        assert palette == back.getpalette()


def test_mixed_filters_restart_the_up_sums():
    """Rows filtered None, Sub and Up in any order (a hand-made stream)."""
    import zlib

    rng = np.random.RandomState(2)
    image = _labels(rng, 9, 12)
    kinds = [2, 0, 2, 2, 1, 2, 0, 1, 2]  # starts with Up (the row above is zeros)
    rows, above = [], np.zeros(12, np.uint8)
    for kind, row in zip(kinds, image):
        if kind == 1:
            raw = row - np.concatenate([[0], row[:-1]]).astype(np.uint8)
        elif kind == 2:
            raw = row - above
        else:
            raw = row
        rows.append(np.concatenate([[kind], raw]).astype(np.uint8))
        above = row
    ihdr = (12).to_bytes(4, "big") + (9).to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])

    def chunk(kind, body):
        return len(body).to_bytes(4, "big") + kind + body + \
            zlib.crc32(body, zlib.crc32(kind)).to_bytes(4, "big")

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(np.concatenate(rows).tobytes())) + chunk(b"IEND", b""))
    np.testing.assert_array_equal(decode_png(data)[0], image)
    np.testing.assert_array_equal(decode_png(data)[0],
                                  cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED))
    corrupt = bytearray(data)
    corrupt[40] ^= 0xFF  # inside IDAT: the CRC no longer matches
    assert decode_png(bytes(corrupt)) is None


def test_unsupported_layouts_are_handed_back():
    rng = np.random.RandomState(3)
    grey = _labels(rng)
    paeth = _cv2_png(grey, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_PAETH)
    assert decode_png(paeth) is None
    assert decode_png(_cv2_png(np.dstack([grey] * 4))) is None  # alpha
    assert decode_png(_pil_png(Image.fromarray(grey > 20))) is None  # 1 bit
    assert decode_png(b"not a png") is None
    assert encode_png(grey.astype(np.int32)) is None and encode_png(np.zeros((2, 2, 4), np.uint8)) is None


def test_encoded_files_read_back_everywhere():
    rng = np.random.RandomState(4)
    grey, wide = _labels(rng), _labels(rng, top=60000, dtype=np.uint16)
    bgr = np.stack([_labels(rng), _labels(rng), _labels(rng)], axis=2)
    for array in (grey, wide, bgr):
        data = encode_png(array)
        np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(data, np.uint8),
                                                   cv2.IMREAD_UNCHANGED), array)
        np.testing.assert_array_equal(decode_png(data)[0], array)
    palette = [v for i in range(256) for v in (i, 7, 255 - i)]
    data = encode_png(grey, palette)
    with Image.open(io.BytesIO(data)) as back:
        assert back.mode == "P" and back.getpalette() == palette
        np.testing.assert_array_equal(np.array(back), grey)
    with Image.open(io.BytesIO(encode_png(bgr))) as back:
        np.testing.assert_array_equal(np.array(back), bgr[:, :, ::-1])  # stored as RGB
