"""Refining a folder of predictions with a folder (or archive) of offsets, in parallel.

Semantic mode refines every label PNG under ``input`` (palette PNGs keep their palette) and
writes it to the same relative path under ``output``. Instance mode reads Cityscapes instance
submissions (``<name>_pred.txt`` with lines ``<mask.png> <classId> <score>``, mask paths relative
to the txt file), warps each mask and copies the txt. Offsets are found by stem
(:class:`~ocseg.segfix.offsets.store.OffsetStore`); inputs without offsets are an error listing
them, or copied unchanged with ``missing="copy"``. Before the first output is written every
offset file is checked complete and of its input's size from their headers (``_check``), so a
truncated or mismatched file stops the run with nothing written. Paths that come from the
inputs stay inside their folders (:mod:`ocseg.io.contained`): an instance list's mask paths
inside the submission's folder and the output folder, an input that is a symbolic link out of
``input`` is refused, as is an offsets entry leading out of ``offsets``, all before the first
output. Semantic outputs that exist are kept (an interrupted run resumes) unless
``overwrite``; with ground truth they are scored as they are. With ground truth, each worker
also returns the confusion matrix and per-class boundary F of the input and of the refined
labels, and how refinement changed the image's pixels
(:func:`~ocseg.metrics.per_image.change_counts`, for the report).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np

from ocseg.data.label_map import LabelMap
from ocseg.errors import OcsegError, require_dir, require_output_dir
from ocseg.io.atomic import atomic_path
from ocseg.io.contained import contained, links_inside
from ocseg.io.image_io import read_label_png, write_label_png
from ocseg.io.parallel import run_parallel
from ocseg.segfix.offsets.store import OffsetRef, OffsetStore, load_offsets, match_key, offsets_size_of
from ocseg.segfix.refinement.gather import INSTANCE_SCALE, SEMANTIC_SCALE, refine_labels, refine_masks

__all__ = ["MODES", "Evaluation", "refine_folder"]

MODES = ("semantic", "instance")


def _copy(source: Path, target: Path) -> None:
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


@dataclass(frozen=True)
class Evaluation:
    """How to score semantic labels: ids → train ids for predictions and ground truth.

    ``pred_map`` None: predictions already hold train ids. ``bound_th`` None: the boundary
    F-score's default tolerance (:data:`ocseg.metrics.boundary.DEFAULT_BOUND_TH`).
    """

    num_classes: int
    gt_map: LabelMap
    pred_map: LabelMap | None = None
    ignore_index: int = 255
    bound_th: float | None = None


@dataclass(frozen=True)
class _Job:
    source: Path
    target: Path
    offsets: OffsetRef | None
    scale: int
    gt: Path | None = None
    evaluation: Evaluation | None = None
    keep: bool = False  # the output exists from an earlier run: only scored
    mode: str = "semantic"


@dataclass
class _Result:
    moved: int = 0
    pixels: int = 0
    scores: dict = field(default_factory=dict)
    changes: list[int] | None = None


def _score(pred: np.ndarray, gt: np.ndarray, ev: Evaluation) -> tuple:
    from ocseg.metrics.boundary import boundary_f_score
    from ocseg.metrics.scores import confusion_counts

    cm = confusion_counts(pred, gt, ev.num_classes, ev.ignore_index)
    tolerance = {} if ev.bound_th is None else {"bound_th": ev.bound_th}
    return cm, boundary_f_score(pred, gt, ev.num_classes, ev.ignore_index, **tolerance)


def _listed_masks(job: _Job) -> list[str]:
    """The mask paths an instance submission lists, each checked to stay inside the
    submission's folder and, written, inside the output folder (:mod:`ocseg.io.contained`)."""
    try:
        text = job.source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OcsegError(f"instance submission '{job.source}' cannot be read as text ({exc}); "
                         "replace it") from None
    names: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            parts = line.split()
            if len(parts) != 3:
                raise OcsegError(f"'{job.source}' line {number} is not '<mask.png> <classId> <score>'")
            what = f"mask path (line {number})"
            contained(job.source.parent, parts[0], job.source, what)
            contained(job.target.parent, parts[0], job.source, what)
            names.append(parts[0])
    return names


def _check(job: _Job) -> None:
    """Raise :class:`OcsegError` now for what would stop the job half-way, or write where it
    must not: an instance list naming masks outside its folder or missing, an input that does
    not decode, offsets that cannot be read, or of another size than the input; a ground truth
    to score against of another size than the input."""
    masks = []
    if job.mode == "instance":
        masks = [job.source.parent / name for name in _listed_masks(job)]
        for mask in masks:
            if not mask.is_file():
                raise OcsegError(f"instance mask '{mask}' listed in '{job.source}' not found")
    from ocseg.data.preflight import image_size

    sized = [(job.source, "label")] if job.mode == "semantic" else [(m, "instance mask") for m in masks]
    # every input decodes: a PNG's chunks and checksums, without inflating it (~1 ms)
    sizes = [(source, what, image_size(source, what)) for source, what in sized]
    if job.evaluation is not None and job.gt is not None and sizes:
        width, height = sizes[0][2]
        gt_width, gt_height = image_size(job.gt, "label", verify=False)
        if (gt_height, gt_width) != (height, width):
            raise OcsegError(f"ground truth '{job.gt}' is {gt_width}×{gt_height} but prediction "
                             f"'{job.source}' is {width}×{height}; score predictions of the split's "
                             "own images (check split=, dataset= and dataset.root=)")
    if job.offsets is None:
        return
    size = offsets_size_of(job.offsets)
    for source, what, (width, height) in sizes:
        if (height, width) != size:
            raise OcsegError(f"{what} '{source}' is {width}×{height} but its offset map "
                             f"'{job.offsets}' is {size[1]}×{size[0]}; offsets "
                             "must be predicted at the label's size (predict offsets for the same "
                             "images)")


def _semantic(job: _Job) -> _Result:
    label, palette = read_label_png(job.source)
    result = _Result(pixels=label.shape[0] * label.shape[1])
    if job.keep:
        refined, _ = read_label_png(job.target)
        result.pixels = 0
    elif job.offsets is None:
        _copy(job.source, job.target)
        refined = label
    else:
        offsets = load_offsets(job.offsets)
        refined = refine_labels(label, offsets, job.scale, source=str(job.source),
                                in_place=job.evaluation is None)
        result.moved = int(offsets.index.size)
        write_label_png(job.target, refined, palette)
    if job.evaluation is not None and job.gt is not None:
        ev = job.evaluation
        raw_gt, _ = read_label_png(job.gt)
        if raw_gt.shape[:2] != label.shape[:2]:
            raise OcsegError(f"ground truth '{job.gt}' is {raw_gt.shape[1]}×{raw_gt.shape[0]} but "
                             f"prediction '{job.source}' is {label.shape[1]}×{label.shape[0]}")
        from ocseg.metrics.per_image import change_counts

        gt = ev.gt_map.to_train(raw_gt, source=str(job.gt))
        before, after = ((ev.pred_map.to_train(a, source=str(job.source)) if ev.pred_map else a)
                         for a in (label, refined))
        result.scores["before"] = _score(before, gt, ev)
        result.scores["after"] = _score(after, gt, ev)
        result.changes = change_counts(before, after, gt, ev.ignore_index)
    return result


def _instance(job: _Job) -> _Result:
    folder, out_folder = job.source.parent, job.target.parent
    names = _listed_masks(job)
    result = _Result()
    if job.offsets is None:
        for name in names:
            _copy(folder / name, out_folder / name)
    elif names:
        masks = []
        for name in names:
            if not (folder / name).is_file():
                raise OcsegError(f"instance mask '{folder / name}' listed in '{job.source}' not "
                                 "found")
            mask, _ = read_label_png(folder / name)
            masks.append(mask if mask.ndim == 2 else mask.max(axis=2))
        offsets = load_offsets(job.offsets)
        refined = refine_masks(np.stack(masks), offsets, job.scale, source=str(job.source))
        for name, mask in zip(names, refined):
            write_label_png(out_folder / name, mask * np.uint8(255))
        result.moved, result.pixels = int(offsets.index.size), int(offsets.size[0] * offsets.size[1])
    _copy(job.source, job.target)
    return result


def _inputs(input_dir: Path, mode: str, glob: str | None) -> list[Path]:
    pattern = glob or ("**/*.png" if mode == "semantic" else "**/*_pred.txt")
    # hidden files left out: a killed run's temporary files (ocseg.io.atomic) are not inputs
    files = sorted(p for p in input_dir.glob(pattern) if p.is_file() and not p.name.startswith("."))
    if not files:
        what = "label PNGs" if mode == "semantic" else "instance submissions (*_pred.txt)"
        raise OcsegError(f"no {what} match '{pattern}' under '{input_dir}'; check input= and glob=")
    return files


def _sum_scores(results: list[_Result], ev: Evaluation) -> dict:
    out = {}
    for stage in ("before", "after"):
        scored = [r.scores[stage] for r in results if stage in r.scores]
        if not scored:
            return {}
        confmat = np.sum([cm for cm, _ in scored], axis=0)
        out[stage] = {"confmat": confmat, "boundary_f": np.mean([f for _, f in scored], axis=0)}
    out["images"] = len([r for r in results if r.scores])
    return out


def refine_folder(input_dir: str | Path, offsets: str | Path, output_dir: str | Path,
                  mode: str = "semantic", scale: int | None = None, missing: str = "error",
                  glob: str | None = None, ground_truth: Mapping[str, Path] | None = None,
                  evaluation: Evaluation | None = None, workers: int | None = None,
                  progress: bool | None = None, overwrite: bool = False) -> dict:
    """Refine every input under ``input_dir``; returns counts and, with ``ground_truth`` (key →
    label file, see :func:`~ocseg.segfix.offsets.store.match_key`) and ``evaluation``, summed
    confusion matrices and per-class boundary F before and after. Semantic outputs that exist
    are kept (and scored as they are) unless ``overwrite``."""
    if mode not in MODES:
        raise OcsegError(f"unknown mode={mode!r}; use one of {list(MODES)}")
    if evaluation is not None:
        # scoring's modules (numpy, OpenCV, SciPy): loaded once here, before the workers fork
        import ocseg.metrics.boundary  # noqa: F401
        import ocseg.metrics.per_image  # noqa: F401
        import ocseg.metrics.scores  # noqa: F401
    if missing not in ("error", "copy"):
        raise OcsegError(f"unknown missing={missing!r}; use 'error' or 'copy'")
    source_dir = require_dir(input_dir, "input folder", "set input=<folder of predictions>")
    out_dir = Path(output_dir)
    if out_dir.resolve() == source_dir.resolve():
        raise OcsegError(f"output= '{out_dir}' is the input folder; choose another folder")
    require_output_dir(out_dir, "output=")
    store = OffsetStore(offsets, mode=mode)
    scale = int(scale) if scale is not None else (SEMANTIC_SCALE if mode == "semantic" else INSTANCE_SCALE)
    files = _inputs(source_dir, mode, glob)
    links_inside(source_dir, files, "input", "input=")
    refs = {path: store.find(path.stem) for path in files}
    absent = [p for p, ref in refs.items() if ref is None]
    if absent and missing == "error":
        listed = ", ".join(str(p.relative_to(source_dir)) for p in absent[:5])
        more = f" and {len(absent) - 5} more" if len(absent) > 5 else ""
        raise OcsegError(f"no offsets in '{offsets}' for {len(absent)} of {len(files)} inputs: "
                         f"{listed}{more}; predict offsets for these images, or set missing=copy "
                         "to copy them unchanged")
    gt = ground_truth or {}
    jobs = [_Job(path, contained(out_dir, path.relative_to(source_dir).as_posix(), path, "output path"),
                 refs[path], scale, gt.get(match_key(path.stem)),
                 evaluation if mode == "semantic" else None, mode=mode)
            for path in files]
    if evaluation is not None and mode == "semantic" and jobs and all(j.gt is None for j in jobs):
        # before the first output: scores of no image are no scores
        raise OcsegError(f"no input under '{source_dir}' matches a ground-truth label of the split to "
                         "score against; the prediction file names must contain the image names "
                         "(check split= and dataset=, or leave split= out)")
    if mode == "semantic" and not overwrite:
        jobs = [replace(j, keep=j.target.is_file()) for j in jobs]
        if evaluation is None:
            jobs = [j for j in jobs if not j.keep]  # nothing to score: kept files are not read
    kept = sum(j.keep for j in jobs) + len(files) - len(jobs)
    todo = [j for j in jobs if not j.keep]
    # every offset file readable and of its input's size before the first output is written
    run_parallel(_check, todo, workers, desc="checking offsets", progress=False)
    work = _semantic if mode == "semantic" else _instance
    results = run_parallel(work, jobs, workers, desc=f"SegFix {mode} refinement", progress=progress)
    pixels = sum(r.pixels for r in results)
    summary = {
        "files": len(files), "kept": kept,
        "refined": sum(j.offsets is not None for j in todo), "copied": sum(j.offsets is None for j in todo),
        "moved_fraction": (sum(r.moved for r in results) / pixels) if pixels else 0.0,
        "output": str(out_dir), "scale": scale,
    }
    if evaluation is not None and mode == "semantic":
        summary["scores"] = _sum_scores(results, evaluation)
        summary["unmatched_ground_truth"] = sum(j.gt is None for j in jobs)
        summary["images"] = [{"source": str(j.source), "target": str(j.target), "gt": str(j.gt),
                              "changes": r.changes} for j, r in zip(jobs, results) if r.changes is not None]
    return summary
