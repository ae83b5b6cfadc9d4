"""Mapping between a dataset's original label ids and ocseg's contiguous train ids.

Train ids are ``0 .. num_classes-1`` with ``ignore_index`` (255) for everything not evaluated.
The mapping is a lookup table, so converting a whole label map is one vectorised indexing.
Ids that the dataset never defines are an error (a wrong file, or a wrong ``dataset=``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ocseg.errors import OcsegError

__all__ = ["LabelMap"]

_UNKNOWN = -1


class LabelMap:
    """Original ids ↔ train ids.

    Args:
        train_id_to_original: the original id of each train id, in train-id order
            (Cityscapes: ``[7, 8, 11, ...]``).
        valid_ids: every original id that may appear in a label file (mapped to a train id or
            to ignore); defaults to ``0 .. max(train_id_to_original)``. Anything else is an error.
        ignore_index: train id of pixels that are not evaluated.
        reduce_zero_label: ADE20K style, original 0 is "other" (ignored) and ``k`` is train id ``k-1``;
            when set, ``train_id_to_original`` may be left empty.
    """

    def __init__(
        self,
        train_id_to_original: Sequence[int],
        valid_ids: Sequence[int] | None = None,
        ignore_index: int = 255,
        reduce_zero_label: bool = False,
        num_classes: int | None = None,
    ) -> None:
        ids = [int(i) for i in train_id_to_original]
        if reduce_zero_label and not ids:
            if num_classes is None:
                raise ValueError("reduce_zero_label needs num_classes when no ids are given")
            ids = list(range(1, num_classes + 1))
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate original ids in the label map: {ids}")
        self.train_id_to_original = np.asarray(ids, dtype=np.int64)
        self.num_classes = len(ids)
        self.ignore_index = int(ignore_index)
        valid = list(range(0, max(ids) + 1)) if valid_ids is None else [int(v) for v in valid_ids]
        if reduce_zero_label:
            valid = sorted(set(valid) | {0})
        self.valid_ids = np.asarray(sorted(set(valid) | set(ids)), dtype=np.int64)
        size = int(self.valid_ids.max()) + 1
        lut = np.full(max(size, 256), _UNKNOWN, dtype=np.int64)
        lut[self.valid_ids] = self.ignore_index
        lut[self.train_id_to_original] = np.arange(self.num_classes)
        self._to_train = lut

    def to_train(self, label: np.ndarray, source: str = "label") -> np.ndarray:
        """Original ids → train ids (uint8). ``source`` names the file in error messages."""
        lab = np.asarray(label)
        if lab.size and (int(lab.min()) < 0 or int(lab.max()) >= len(self._to_train)):
            bad = int(lab.max()) if int(lab.max()) >= len(self._to_train) else int(lab.min())
            raise OcsegError(self._unknown_message(source, [bad]))
        out = self._to_train[lab]
        if (out == _UNKNOWN).any():
            bad = np.unique(lab[out == _UNKNOWN])[:8].tolist()
            raise OcsegError(self._unknown_message(source, bad))
        return out.astype(np.uint8)

    def to_original(self, train: np.ndarray, ignore_as: int = 0) -> np.ndarray:
        """Train ids → original ids; ignore pixels become ``ignore_as`` (Cityscapes: 0, unlabeled)."""
        t = np.asarray(train).astype(np.int64)
        out = np.full(t.shape, ignore_as, dtype=np.int64)
        valid = (t >= 0) & (t < self.num_classes)
        out[valid] = self.train_id_to_original[t[valid]]
        dtype = np.uint8 if out.max(initial=0) < 256 else np.uint16
        return out.astype(dtype)

    def _unknown_message(self, source: str, bad: list[int]) -> str:
        return (
            f"label file '{source}' contains ids {bad} that this dataset does not define "
            f"(valid: {self.valid_ids.min()}..{self.valid_ids.max()}); check that dataset= matches "
            "the data and that the file is a label-id map, not a colour or train-id image"
        )
