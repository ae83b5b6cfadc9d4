"""The original SegFix ground truth for a folder of labels (``ocseg-segfix-gt``
runs it from the command line): writes ``<output>/<stem>.mat`` (``dir_deg``, ``depth``,
``deg_reduce``) for every ``<stem>.png`` matched by ``glob`` under ``input``, as the original's
``dt_offset_generator.py`` (semantic: label ids → train ids, classes with ≥ 100 pixels) and
``instance_dt_offset_generator.py`` (instance: 16-bit instanceIds, every segment) write them:
identical ``depth``, identical ``dir_deg`` except ±1 where an angle sits exactly on a 2°
truncation boundary (see :mod:`~ocseg.segfix.encoding.distance_direction`). The dataset config
supplies the label table. Files are processed in parallel; each ``.mat`` is written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ocseg.data.preflight import check_inputs
from ocseg.errors import OcsegError, require_dir, require_output_dir, require_unique_stems
from ocseg.io.image_io import read_label_png
from ocseg.io.parallel import run_parallel
from ocseg.segfix.encoding.distance_direction import (
    MIN_CLASS_PIXELS,
    DTOffsets,
    instance_ground_truth,
    semantic_ground_truth,
)
from ocseg.segfix.ground_truth.files import write_ground_truth

__all__ = ["KINDS", "dataset_label_ids", "label_to_ground_truth", "generate_ground_truth"]

KINDS = ("semantic", "instance")


def dataset_label_ids(dataset) -> list[int]:
    """The original id of each train id, from a dataset config.

    ``train_id_to_original`` when given (Cityscapes); else the dataset's own ``label_map`` (a
    ``folder`` dataset's ``classes.yaml`` id_map, ADE20K's ``1..150``); else label files already
    hold train ids.
    """
    table = dataset.get("train_id_to_original")
    if table:
        return [int(v) for v in table]
    spec = dataset.get("label_map")
    if spec is not None and spec.get("_target_"):
        from hydra.utils import instantiate

        return [int(v) for v in instantiate(spec).train_id_to_original]
    return list(range(int(dataset.num_classes)))


def _to_train_ids(label: np.ndarray, label_ids: Sequence[int]) -> np.ndarray:
    """Label ids → train ids; ids outside the table become 255, as in the original."""
    size = max(int(label.max(initial=0)), max(label_ids)) + 1
    lut = np.full(size, 255, np.uint8)
    lut[np.asarray(label_ids, np.int64)] = np.arange(len(label_ids), dtype=np.uint8)
    return lut[label]


def label_to_ground_truth(label: np.ndarray, kind: str, label_ids: Sequence[int],
                          min_pixels: int = MIN_CLASS_PIXELS) -> DTOffsets:
    """Ground truth of one label map as read from disk (label ids or instance ids)."""
    if kind == "semantic":
        return semantic_ground_truth(_to_train_ids(label, label_ids), len(label_ids), min_pixels)
    if kind == "instance":
        return instance_ground_truth(label, label_ids)
    raise OcsegError(f"unknown kind={kind!r}; use one of {list(KINDS)}")


@dataclass(frozen=True)
class _Job:
    source: Path
    target: Path
    kind: str
    label_ids: tuple[int, ...]
    min_pixels: int


def _run(job: _Job) -> None:
    # 8-bit ids or palette indices (the original's Image.open(...).convert("P")), or 16-bit
    # values (Cityscapes instanceIds)
    label, _ = read_label_png(job.source)
    if label.ndim != 2:
        raise OcsegError(
            f"label '{job.source}' is a colour image ({label.shape[2]} channels); SegFix ground "
            "truth needs a single-channel id map (Cityscapes: *_gtFine_labelIds.png, or "
            "*_gtFine_instanceIds.png for kind=instance)")
    write_ground_truth(job.target, label_to_ground_truth(label, job.kind, job.label_ids,
                                                         job.min_pixels))


def generate_ground_truth(input_dir: str | Path, output_dir: str | Path, kind: str,
                          label_ids: Sequence[int], glob: str = "*.png",
                          min_pixels: int = MIN_CLASS_PIXELS, skip_existing: bool = False,
                          workers: int | None = None, progress: bool | None = None) -> dict:
    """Write ``<output_dir>/<stem>.mat`` for each label under ``input_dir``; returns a summary."""
    if kind not in KINDS:
        raise OcsegError(f"unknown kind={kind!r}; use one of {list(KINDS)}")
    source_dir = require_dir(input_dir, "label folder", "set input=<folder of label PNGs>")
    files = sorted(p for p in source_dir.glob(glob) if p.is_file() and p.suffix.lower() == ".png"
                   and not p.name.startswith("."))  # not a killed run's temporary files
    if not files:
        raise OcsegError(f"no PNG files match '{glob}' under '{source_dir}'; check input= and glob= "
                         "(e.g. glob='**/*_gtFine_labelIds.png' for a Cityscapes gtFine/<split>/ folder)")
    by_stem = require_unique_stems(files, "labels", "narrow glob= or input=")
    out = require_output_dir(output_dir, "output=")
    jobs = [_Job(path, out / f"{stem}.mat", kind, tuple(int(v) for v in label_ids), int(min_pixels))
            for stem, path in by_stem.items()]
    skipped = 0
    if skip_existing:
        todo = [job for job in jobs if not job.target.is_file()]
        skipped = len(jobs) - len(todo)
        jobs = todo
    # every label opens (PNG chunks and checksums) before the first .mat is written
    check_inputs([job.source for job in jobs], what="label")
    run_parallel(_run, jobs, workers, desc=f"SegFix {kind} ground truth", progress=progress)
    return {"written": len(jobs), "skipped": skipped, "output": str(out)}
