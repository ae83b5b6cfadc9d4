"""The evaluation page (``eval.py``): what was evaluated, the scores per class as a sorted chart,
the row-normalised confusion matrix and its top confusions, and the images with the lowest
mIoU as image | ground truth | prediction | error map; for an unlabelled split a gallery of
predictions instead. With chained SegFix it adds the SegFix sections (:mod:`.segfix`).

:class:`EvaluationReport` is the :class:`~ocseg.evaluation.EvaluationModule`'s ``report``
function: built by ``tasks/evaluate.py`` from plain values (it is pickled to spawned DDP
processes), called on rank 0 with the metrics, the summed confusion matrix and the per-image
records, after every prediction is written. It reads only the few images it shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ocseg.data.label_map import LabelMap
from ocseg.io.image_io import read_image, read_label
from ocseg.io.status import status_logger
from ocseg.metrics.per_image import PerImage
from ocseg.metrics.scores import Scores
from ocseg.report import charts
from ocseg.report.page import Chart, Example, Panel, Table, number, write_page
from ocseg.report.segfix import segfix_example, segfix_sections
from ocseg.report.thumbnails import ERROR, IGNORE, colorize, error_map, relative_link, thumbnail

__all__ = ["EvaluationReport", "top_confusions"]

log = status_logger(__name__)

THUMB_WIDTH = 300      # pixels of one example panel
TOP_CONFUSIONS = 12


def row_normalised(confmat: np.ndarray) -> np.ndarray:
    """Percent of each ground-truth class's pixels predicted as each class (NaN rows: absent)."""
    cm = np.asarray(confmat, np.float64)
    rows = cm.sum(1, keepdims=True)
    return np.divide(100 * cm, rows, out=np.full_like(cm, np.nan), where=rows > 0)


def top_confusions(confmat: np.ndarray, names: Sequence[str], k: int = TOP_CONFUSIONS) -> list[tuple]:
    """The ``k`` largest off-diagonal cells: (ground truth, predicted as, % of the ground-truth
    class's pixels, pixels), by pixel count."""
    cm = np.asarray(confmat, np.int64)
    share = row_normalised(cm)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:k]   # ties in row order
    out = []
    for gt, pred in zip(*np.unravel_index(flat, off.shape)):
        if off[gt, pred] > 0:
            out.append((names[gt], names[pred], float(share[gt, pred]), int(off[gt, pred])))
    return out


@dataclass
class EvaluationReport:
    """Args:
        output_dir: the run's folder (``label/``, ``color/``, ``metrics.json``): the page goes there.
        facts: the header's (label, value) pairs: checkpoint, model, dataset, split, protocol.
        class_names, palette, ignore_index: the dataset's classes, colours and ignore id.
        names: output name of every dataset sample (``label/<name>.png``).
        images, labels: every sample's image file and label file (None when unlabelled).
        label_map: the dataset's original ids ↔ train ids (label files are original ids).
        examples: how many worst images (or gallery images) to show.
        color: ``color/<name>.png`` were written (the prediction panel links to them).
    """

    output_dir: Path
    facts: list[tuple[str, Any]]
    class_names: list[str]
    palette: list[list[int]]
    ignore_index: int
    names: list[str]
    images: list[str]
    labels: list[str | None]
    label_map: LabelMap
    examples: int = 8
    color: bool = True

    def __call__(self, metrics: dict | None, confmat: np.ndarray | None, records: tuple) -> None:
        start = time.perf_counter()
        try:
            path = self.write(metrics, confmat, *records)
        except Exception as exc:  # noqa: BLE001 - the scores and predictions are written already
            log.warning("report.html not written (%s: %s); the scores and predictions are complete",
                        type(exc).__name__, exc)
            return
        log.info("report: %s (%.1f s)", path, time.perf_counter() - start)

    # -- reading what the run wrote ------------------------------------------------------------
    def _rgb(self, index: int) -> np.ndarray:
        return read_image(self.images[index])[..., ::-1]

    def _gt(self, index: int) -> np.ndarray:
        return self.label_map.to_train(read_label(self.labels[index]), source=str(self.labels[index]))

    def _pred(self, index: int) -> np.ndarray:
        path = self.output_dir / "label" / f"{self.names[index]}.png"
        return self.label_map.to_train(read_label(path), source=str(path))

    def _link(self, path: str | Path | None) -> str | None:
        return None if path is None else relative_link(path, self.output_dir)

    def _pred_link(self, index: int) -> str:
        folder = "color" if self.color else "label"
        return self._link(self.output_dir / folder / f"{self.names[index]}.png")

    # -- the page --------------------------------------------------------------------------------
    def write(self, metrics: dict | None, confmat: np.ndarray | None, per_image: PerImage,
              unrefined: dict[int, np.ndarray], indices: list[int]) -> Path:
        """Write ``<output_dir>/report.html``; returns its path."""
        context: dict[str, Any] = {"scores": None, "confusion": None, "worst": None, "gallery": None,
                                   "segfix": None, "error_legend": [("wrong", ERROR),
                                                                    ("ignored ground truth", IGNORE)]}
        sections, headline = [], []
        if metrics and confmat is not None:
            scores = Scores.from_json(metrics)
            headline = [("mIoU %", number(scores.miou)), ("pixel accuracy %", number(scores.pixel_accuracy))]
            if scores.boundary_f is not None:   # the original's, and ocseg's over present classes
                headline.append(("boundary F % (original: absent class = 100)", number(scores.boundary_f)))
                if scores.boundary_f_present is not None:
                    headline.append(("boundary F %, present classes (ocseg)",
                                     number(scores.boundary_f_present)))
            headline.append(("images", str(scores.num_images)))
            context["scores"] = self._scores(scores, confmat)
            context["confusion"] = self._confusion(confmat)
            context["worst"] = self._worst(per_image)
            sections = [("scores", "scores per class"), ("confusion", "confusion matrix"),
                        ("worst", "worst images")]
            unrefined_scores = (metrics.get("segfix") or {}).get("unrefined")
            if unrefined_scores:
                context["segfix"] = self._segfix(Scores.from_json(unrefined_scores), scores,
                                                 per_image, unrefined)
                sections += [("segfix-scores", "SegFix"), ("segfix-examples", "SegFix examples")]
        else:
            context["gallery"] = self._gallery(indices)
            headline = [("images predicted", str(len(indices)))]
            sections = [("gallery", "predictions")]
        split = dict(self.facts).get("split", "")
        return write_page(self.output_dir, "evaluation.html", kind="evaluation",
                          title=f"Evaluation of {dict(self.facts).get('model', 'a model')} on "
                                f"{dict(self.facts).get('dataset', '')} {split}".strip(),
                          facts=self.facts, headline=headline, sections=sections, **context)

    def _scores(self, scores: Scores, confmat: np.ndarray) -> dict[str, Any]:
        names = self.class_names
        share = row_normalised(confmat)
        gt_pixels = np.asarray(confmat).sum(1)
        total = max(int(gt_pixels.sum()), 1)
        rows = []
        for i, n in enumerate(names):
            off = share[i].copy()
            off[i] = np.nan
            worst = "—" if np.all(np.isnan(off)) or np.nanmax(off) <= 0 else \
                f"{names[int(np.nanargmax(off))]} ({np.nanmax(off):.1f}%)"
            rows.append([n, scores.per_class_iou.get(n),
                         (scores.per_class_boundary_f or {}).get(n), 100 * gt_pixels[i] / total, worst])
        columns = ["class", "IoU %", "boundary F %", "ground-truth pixels %", "most often predicted as"]
        if scores.per_class_boundary_f is None:
            columns.pop(2)
            rows = [r[:2] + r[3:] for r in rows]
        series = [("IoU", [scores.per_class_iou.get(n) for n in names])]
        if scores.per_class_boundary_f is not None:
            series.append(("boundary F", [scores.per_class_boundary_f.get(n) for n in names]))
        absent = [n for n in names if np.isnan(scores.per_class_iou.get(n, np.nan))]
        note = (f"Not in the ground truth nor predicted (no IoU): {', '.join(absent)}." if absent else "")
        return {"table": Table.of(columns, rows),
                "chart": Chart(charts.bar_chart(names, series), "IoU and boundary F per class, sorted"),
                "note": note}

    def _confusion(self, confmat: np.ndarray) -> dict[str, Any]:
        matrix = row_normalised(confmat)
        top = top_confusions(confmat, self.class_names)
        return {"chart": Chart(charts.confusion_heatmap(matrix, self.class_names),
                               "row-normalised confusion matrix"),
                "top": Table.of(["ground truth", "predicted as", "% of its pixels", "pixels"],
                                [list(t) for t in top])}

    def _worst(self, per_image: PerImage) -> list[Example]:
        miou = per_image.miou()
        accuracy = np.divide(100 * per_image.tp.sum(1), per_image.gt.sum(1),
                             out=np.full(len(miou), np.nan), where=per_image.gt.sum(1) > 0)
        order = [int(i) for i in np.argsort(miou, kind="stable") if not np.isnan(miou[i])][: self.examples]
        out = []
        for row in order:
            index = int(per_image.index[row])
            image, gt, pred = self._rgb(index), self._gt(index), self._pred(index)
            name = self.names[index]
            out.append(Example(name=name, title=f"{name} — mIoU {miou[row]:.2f}%, pixel accuracy "
                                                 f"{accuracy[row]:.2f}%", panels=[
                Panel(thumbnail(image, THUMB_WIDTH), "image", self._link(self.images[index])),
                Panel(thumbnail(colorize(gt, self.palette), THUMB_WIDTH, labels=True), "ground truth",
                      self._link(self.labels[index]), True),
                Panel(thumbnail(colorize(pred, self.palette), THUMB_WIDTH, labels=True), "prediction",
                      self._pred_link(index), True),
                Panel(thumbnail(error_map(image, pred, gt, self.ignore_index), THUMB_WIDTH, labels=True),
                      "errors", None, True)]))
        return out

    def _gallery(self, indices: list[int]) -> list[Example]:
        if not indices:
            return []
        picks = sorted({indices[int(round(i))] for i in np.linspace(0, len(indices) - 1,
                                                                      min(self.examples, len(indices)))})
        out = []
        for index in picks:
            name = self.names[index]
            out.append(Example(name=name, title=name, panels=[
                Panel(thumbnail(self._rgb(index), THUMB_WIDTH), "image", self._link(self.images[index])),
                Panel(thumbnail(colorize(self._pred(index), self.palette), THUMB_WIDTH, labels=True),
                      "prediction", self._pred_link(index), True)]))
        return out

    def _segfix(self, before: Scores, after: Scores, per_image: PerImage,
                unrefined: dict[int, np.ndarray]) -> dict[str, Any]:
        cases = []
        for index, before_ids in unrefined.items():
            cases.append(segfix_example(self.names[index], self._gt(index), before_ids.astype(np.int64),
                                        self._pred(index), self.palette, self.ignore_index,
                                        image=self._rgb(index),
                                        links={"image": self._link(self.images[index]),
                                               "gt": self._link(self.labels[index]),
                                               "after": self._pred_link(index)}))
        note = ""
        if per_image.refined_images < len(per_image.index):
            note = (f"Changed pixels are counted over the {per_image.refined_images} images refined in "
                    f"this run; the other {len(per_image.index) - per_image.refined_images} were "
                    "predicted by an earlier, resumed run.")
        return segfix_sections(before, after, per_image.change_totals(), cases, note)
