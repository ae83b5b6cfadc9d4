"""Writing predictions the way users and tools consume them, and reading them back on resume.

``label/<name>.png``: the dataset's original ids (Cityscapes labelIds — a valid Cityscapes
submission and SegFix refinement input); ``color/<name>.png``: palette PNG of the train ids;
``overlay/<name>.jpg``: image blended with the colours. Every file is written atomically and
the label file last, so an existing label file means the image is finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ocseg.data.label_map import LabelMap
from ocseg.errors import OcsegError
from ocseg.io.atomic import atomic_path, write_png
from ocseg.io.image_io import read_image, read_label, write_label_png

__all__ = ["PredictionWriter", "color_image"]


def color_image(train_ids: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """H×W×3 uint8 BGR colours of a train-id map (ignore and unknown ids black)."""
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = np.asarray(palette, np.uint8)[:, ::-1]
    return lut[np.asarray(train_ids, dtype=np.uint8)]


class PredictionWriter:
    """Args:
        output_dir: where ``label/``, ``color/`` and ``overlay/`` go.
        label_map: train ids → the dataset's original ids.
        palette: RGB colour of each train id.
        save_color, save_overlay: also write the palette PNG / the JPEG overlay.
        overlay_alpha: weight of the colours in the overlay.
    """

    def __init__(self, output_dir: str | Path, label_map: LabelMap, palette: Sequence[Sequence[int]],
                 save_color: bool = True, save_overlay: bool = False, overlay_alpha: float = 0.5) -> None:
        self.output_dir = Path(output_dir)
        self.label_map = label_map
        self.palette = [list(map(int, rgb)) for rgb in palette]
        self.save_color = bool(save_color)
        self.save_overlay = bool(save_overlay)
        self.overlay_alpha = float(overlay_alpha)

    def label_path(self, name: str) -> Path:
        return self.output_dir / "label" / f"{name}.png"

    def color_path(self, name: str) -> Path:
        return self.output_dir / "color" / f"{name}.png"

    def overlay_path(self, name: str) -> Path:
        return self.output_dir / "overlay" / f"{name}.jpg"

    def write(self, name: str, train_ids: np.ndarray, image_path: str | Path | None = None) -> None:
        """Write every requested file of one prediction (H×W train ids), the label file last."""
        train_ids = np.asarray(train_ids)
        if self.save_color:
            write_label_png(self.color_path(name), train_ids.astype(np.uint8), self.palette)
        if self.save_overlay and image_path is not None:
            image = read_image(image_path)
            blended = cv2.addWeighted(image, 1.0 - self.overlay_alpha,
                                      color_image(train_ids, self.palette), self.overlay_alpha, 0.0)
            with atomic_path(self.overlay_path(name)) as tmp:
                if not cv2.imwrite(str(tmp), blended, [cv2.IMWRITE_JPEG_QUALITY, 90]):
                    raise OSError(f"could not write '{self.overlay_path(name)}'")
        write_png(self.label_path(name), self.label_map.to_original(train_ids, ignore_as=0))

    def read(self, name: str, size: tuple[int, int] | None = None) -> np.ndarray | None:
        """The train ids of an existing ``label/<name>.png``; None when it is absent, unreadable,
        holds unknown ids or is not ``size`` (H, W) — then the image is predicted again."""
        path = self.label_path(name)
        if not path.is_file():
            return None
        try:
            train_ids = self.label_map.to_train(read_label(path), source=str(path))
        except OcsegError:
            return None
        if size is not None and tuple(train_ids.shape) != tuple(size):
            return None
        return train_ids
