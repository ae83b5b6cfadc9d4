"""Reading images and label maps with errors that name the file.

Images are read by OpenCV in BGR order, as the original project does; label maps are read
unchanged (8 or 16 bit). Palette PNGs (PASCAL/Mapillary style) are read as their palette
indices, which is what their pixels mean, not as the colours OpenCV would expand them to.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ocseg.errors import OcsegError

__all__ = ["CorruptFileError", "read_image", "read_label", "check_same_size"]


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
        raise OcsegError(f"image '{p}' not found; check dataset.root and the split's file list")
    image = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if image is None:
        raise CorruptFileError(p, "image")
    return image


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
        raise OcsegError(f"label '{p}' not found; every image needs its label file")
    label = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if label is None:
        raise CorruptFileError(p, "label")
    if label.ndim == 3:
        indices = _palette_indices(p)
        if indices is not None:
            return indices
        raise OcsegError(
            f"label '{p}' has {label.shape[2]} channels; ocseg expects a single-channel id map "
            "(for Cityscapes the *_gtFine_labelIds.png files, not *_color.png)"
        )
    return label


def check_same_size(image: np.ndarray, label: np.ndarray, image_path, label_path) -> None:
    if image.shape[:2] != label.shape[:2]:
        raise OcsegError(
            f"label '{label_path}' is {label.shape[1]}×{label.shape[0]} but its image "
            f"'{image_path}' is {image.shape[1]}×{image.shape[0]}; labels must have the image's size"
        )
