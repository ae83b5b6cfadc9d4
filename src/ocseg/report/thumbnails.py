"""The reports' pictures: photos, label maps and error maps scaled down and embedded as data: URIs,
and relative links from the page to the full-size files a run already wrote.

Photos are JPEG (small), label and error maps PNG, scaled without smoothing so their pixels stay
one class each. Everything is RGB uint8 here; OpenCV (BGR) is only used to scale and encode.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

import cv2
import numpy as np

__all__ = ["ERROR", "FIXED", "BROKEN", "IGNORE", "change_map", "colorize", "densest_window",
           "error_map", "relative_link", "thumbnail"]

# the error and change maps: wrong pixels, ignored ground truth, SegFix's fixes and breaks
ERROR = (230, 25, 75)
IGNORE = (170, 170, 170)
FIXED = (0, 114, 178)      # blue (Okabe-Ito)
BROKEN = (230, 159, 0)     # orange


def thumbnail(rgb: np.ndarray, width: int = 320, labels: bool = False) -> str:
    """``rgb`` (H×W×3 uint8) at ``width`` pixels wide as a data: URI: PNG for label maps
    (nearest-neighbour), JPEG for photos (area averaging)."""
    h, w = rgb.shape[:2]
    if w != width:
        height = max(1, round(h * width / w))
        interpolation = cv2.INTER_NEAREST if labels else (cv2.INTER_AREA if width < w else cv2.INTER_LINEAR)
        rgb = cv2.resize(rgb, (width, height), interpolation=interpolation)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    if labels:
        ok, data = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
        mime = "image/png"
    else:
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 82])
        mime = "image/jpeg"
    if not ok:
        raise ValueError("could not encode a thumbnail")
    return f"data:{mime};base64,{base64.b64encode(data.tobytes()).decode('ascii')}"


def colorize(train_ids: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """RGB colours of a train-id map; ignored and unknown ids black (as ``color/*.png``)."""
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = np.asarray(palette, np.uint8)
    return lut[np.asarray(train_ids, dtype=np.uint8)]


def _faded(image: np.ndarray) -> np.ndarray:
    """The image in light grey: the background the marked pixels stand out on."""
    grey = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat((140 + 0.45 * grey).astype(np.uint8)[..., None], 3, axis=2)


def error_map(image: np.ndarray, pred: np.ndarray, gt: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """Wrong pixels in red on the faded image; ignored ground truth flat grey."""
    out = _faded(image)
    ignored = gt == ignore_index
    out[(pred != gt) & ~ignored] = ERROR
    out[ignored] = IGNORE
    return out


def change_map(background: np.ndarray, before: np.ndarray, after: np.ndarray, gt: np.ndarray,
               ignore_index: int = 255) -> np.ndarray:
    """SegFix's changes on the faded ``background``: pixels it fixed in blue, broke in orange;
    other changed pixels (wrong before and after, or ignored) dark grey."""
    out = _faded(background)
    changed = before != after
    scored = gt != ignore_index
    out[changed] = (80, 80, 80)
    out[changed & scored & (after == gt)] = FIXED
    out[changed & scored & (before == gt)] = BROKEN
    return out


def densest_window(mask: np.ndarray, size: int) -> tuple[slice, slice]:
    """The ``size``×``size`` window (clipped to the image) holding the most ``True`` pixels."""
    h, w = mask.shape
    sh, sw = min(size, h), min(size, w)
    integral = cv2.integral(mask.astype(np.uint8))            # (h+1)×(w+1)
    counts = (integral[sh:, sw:] - integral[:-sh, sw:] - integral[sh:, :-sw] + integral[:-sh, :-sw])
    y, x = np.unravel_index(int(np.argmax(counts)), counts.shape)
    return slice(y, y + sh), slice(x, x + sw)


def relative_link(target: str | Path, page_folder: str | Path) -> str:
    """``target`` relative to the page's folder, URL-quoted (an absolute path when on another drive)."""
    try:
        rel = os.path.relpath(Path(target).resolve(), Path(page_folder).resolve())
    except ValueError:
        return Path(target).resolve().as_uri()
    return quote(Path(rel).as_posix())
