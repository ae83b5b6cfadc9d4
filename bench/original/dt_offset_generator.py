"""The original semantic SegFix ground-truth generator, re-stated step by step for the benchmark.

Re-states ``lib/datasets/preprocess/cityscapes/dt_offset_generator.py`` of
openseg-group/openseg.pytorch (the same file on the ``master`` and ``pytorch-1.7`` branches;
line numbers are that file's). Written for ``bench/segfix.py``, which runs :func:`process` in a
``Pool(cpu_count // 2)`` as the original's main does (line 131); the per-segment maths is the
plain re-statement the tests use (``tests/segfix_original.py``). Per label file:

* lines 58-60: print the job, ``Image.open(...).convert("P")`` as int16, label ids → train ids
  (``_encode_label``, lines 49-54);
* lines 61-95: ``+ 1``; per class with ≥ 100 pixels the whole-image EDT and float32 conv2d,
  kept inside the class; depth capped at 250, ``dir_deg = uint8((deg + 180) / 2)``, a print of
  the angle range;
* lines 97-111: compressed ``savemat`` of ``dir_deg``, ``depth``, ``deg_reduce``, then a
  ``loadmat`` of the file as a check (re-saved uncompressed if that fails).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from helpers.segfix_original import CITYSCAPES_IDS, encode_label_ids, reference_semantic  # noqa: E402

__all__ = ["process"]


def process(job: tuple[Path, Path]) -> None:
    """One label PNG → one ``.mat`` (lines 56-111)."""
    source, target = job
    print(job)
    train = encode_label_ids(np.array(Image.open(source).convert("P")))
    depth, dir_deg = reference_semantic(train, len(CITYSCAPES_IDS))
    print(dir_deg.min(), dir_deg.max())
    data = {"dir_deg": dir_deg, "depth": depth, "deg_reduce": 2}
    scipy.io.savemat(str(target), data, do_compression=True)
    try:
        scipy.io.loadmat(str(target))
    except Exception as exc:  # noqa: BLE001 - the original's check, kept as it is
        print(exc)
        scipy.io.savemat(str(target), data, do_compression=False)
