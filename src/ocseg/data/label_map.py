"""Mapping between a dataset's original label ids and ocseg's contiguous train ids.

Train ids are ``0 .. num_classes-1`` with ``ignore_index`` (255) for everything not evaluated.
The mapping is a lookup table, so converting a whole label map is one vectorised indexing
(8-bit maps: one OpenCV table look-up). Ids that the dataset never defines are an error (a wrong
file, or a wrong ``dataset=``).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import cv2
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
        num_classes: the class count when ``reduce_zero_label`` builds the ids.

    Several original ids may share one train id (Mapillary → Cityscapes); build such a map with
    :meth:`from_table`. ``to_original`` then returns the first original id of each train id.
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
        if num_classes is not None and num_classes != len(ids):
            raise ValueError(f"num_classes={num_classes} but {len(ids)} original ids are given")
        valid = list(range(0, max(ids) + 1)) if valid_ids is None else [int(v) for v in valid_ids]
        if reduce_zero_label:
            valid = sorted(set(valid) | {0})
        table = {v: int(ignore_index) for v in valid}
        table.update({orig: train for train, orig in enumerate(ids)})
        self._build(table, len(ids), ignore_index)

    @classmethod
    def from_table(cls, original_to_train: Sequence[int] | Mapping[int, int],
                   ignore_index: int = 255, num_classes: int | None = None) -> "LabelMap":
        """A map given per original id: its train id, or ``ignore_index``. A sequence lists ids
        ``0 .. len-1``; a mapping may skip ids. Ids not in the table are invalid."""
        items = original_to_train.items() if isinstance(original_to_train, Mapping) \
            else enumerate(original_to_train)
        table = {int(orig): int(t) for orig, t in items}
        used = sorted({t for t in table.values() if t != ignore_index})
        n = num_classes if num_classes is not None else (used[-1] + 1 if used else 0)
        if used and (used[0] < 0 or used[-1] >= n):
            raise ValueError(f"train ids {used} do not fit num_classes={n}")
        self = cls.__new__(cls)
        self._build(table, n, ignore_index)
        return self

    def _build(self, table: dict[int, int], num_classes: int, ignore_index: int) -> None:
        if min(table) < 0:
            raise ValueError("original label ids must be non-negative")
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.valid_ids = np.asarray(sorted(table), dtype=np.int64)
        lut = np.full(max(int(self.valid_ids.max()) + 1, 256), _UNKNOWN, dtype=np.int64)
        lut[self.valid_ids] = [table[int(v)] for v in self.valid_ids]
        self._to_train = lut
        # 8-bit maps: the same table as uint8, unknown ids marked by a value no id maps to
        known = lut[:256] != _UNKNOWN
        used = set(lut[:256][known].astype(np.uint8).tolist())
        free = [v for v in range(256) if v not in used]
        self._unknown8 = free[0] if free and not known.all() else None
        self._table8 = np.where(known, lut[:256], free[0] if free else 0).astype(np.uint8)
        self._fast8 = known.all() or self._unknown8 is not None
        # canonical original id of each train id: the smallest one that maps to it
        canonical = np.full(self.num_classes, -1, dtype=np.int64)
        for orig in self.valid_ids[::-1]:
            t = table[int(orig)]
            if 0 <= t < self.num_classes:
                canonical[t] = orig
        missing = np.flatnonzero(canonical < 0).tolist()
        if missing:
            raise ValueError(f"train ids {missing} have no original id")
        self.train_id_to_original = canonical

    @property
    def lookup(self) -> np.ndarray:
        """The original id → train id table (−1 for undefined ids)."""
        return self._to_train.copy()

    def to_train(self, label: np.ndarray, source: str = "label") -> np.ndarray:
        """Original ids → train ids (uint8). ``source`` names the file in error messages."""
        lab = np.asarray(label)
        if self._fast8 and lab.dtype == np.uint8 and lab.ndim == 2 and lab.flags.c_contiguous \
                and lab.size:
            out = cv2.LUT(lab, self._table8)
            if self._unknown8 is None or not (out == self._unknown8).any():
                return out
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
            f"(valid: {_ranges(self.valid_ids)}); check that dataset= matches the data and that "
            "the file is a label-id map, not a colour or train-id image"
        )


def _ranges(ids: np.ndarray) -> str:
    """``[0, 1, 2, 5, 255]`` → ``'0..2, 5, 255'`` for short error messages."""
    parts, start, prev = [], None, None
    for v in [int(i) for i in ids]:
        if start is None:
            start = prev = v
        elif v == prev + 1:
            prev = v
        else:
            parts.append(f"{start}..{prev}" if prev > start else str(start))
            start = prev = v
    if start is not None:
        parts.append(f"{start}..{prev}" if prev > start else str(start))
    return ", ".join(parts)
