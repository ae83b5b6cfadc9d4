"""SegFix refinement chained into evaluation (``eval.py segfix.offsets=``, the original's
built-in ``segfix`` mode): the :class:`~ocseg.evaluation.EvaluationModule` ``refine`` function.

Every new prediction (train ids) is refined with the offset file of its image — the same exact
gather as ``refine.py`` (a per-pixel gather commutes with the train-id → label-id mapping, so the
written label files equal ``refine.py`` run on unrefined ones) — before it is written and scored.
The evaluation module scores the unrefined predictions too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from ocseg.errors import OcsegError
from ocseg.segfix.offsets.store import OffsetStore, load_offsets
from ocseg.segfix.refinement.gather import SEMANTIC_SCALE, refine_labels

__all__ = ["ChainedRefinement"]

_MISSING = ("error", "copy")


class ChainedRefinement:
    """``(prediction H×W, item) → refined prediction`` with the offsets under ``offsets``.

    Args:
        offsets: folder or ``.zip`` of ``.mat`` / ``.npz`` offset files, found by the item's
            ``name`` (the image stem) as in ``refine.py``.
        scale: offset multiplier (2 for semantic labels, the original's).
        missing: a prediction without offsets: ``error``, or ``copy`` (kept unrefined).
    """

    def __init__(self, offsets: str | Path, scale: int = SEMANTIC_SCALE,
                 missing: str = "error") -> None:
        if missing not in _MISSING:
            raise OcsegError(f"unknown segfix.missing={missing!r}; use one of {list(_MISSING)}")
        self.location = str(offsets)
        self.store = OffsetStore(offsets, mode="semantic")
        self.scale = int(scale)
        self.missing = missing

    def check_names(self, names: Sequence[str]) -> int:
        """Raise (``missing=error``) unless every name has offsets; returns how many lack them."""
        absent = [n for n in names if self.store.find(n) is None]
        if absent and self.missing == "error":
            listed = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
            raise OcsegError(f"no SegFix offsets in '{self.location}' for {len(absent)} of "
                             f"{len(names)} images: {listed}; predict them (python "
                             "predict_offsets.py ... output_dir=<that folder>) or set "
                             "segfix.missing=copy to keep those predictions unrefined")
        return len(absent)

    def __call__(self, pred: torch.Tensor, item: dict) -> torch.Tensor:
        ref = self.store.find(str(item["name"]))
        if ref is None:
            if self.missing == "error":
                self.check_names([str(item["name"])])
            return pred
        # a new array: the caller's prediction stays as it was (it may score it too)
        refined = refine_labels(pred.cpu().numpy(), load_offsets(ref), self.scale,
                                source=str(item.get("image_path", item["name"])))
        return torch.from_numpy(refined).to(pred.device)
