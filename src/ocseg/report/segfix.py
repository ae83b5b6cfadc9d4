"""What SegFix did, for the evaluation page (``eval.py segfix.offsets=``) and the refinement page
(``refine.py … split=``): per-class IoU and boundary F before and after, the share of changed
pixels that became right or wrong, and crops where refinement changed the most pixels, fixed
pixels in blue and broken ones in orange.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ocseg.data.label_map import LabelMap
from ocseg.io.image_io import read_label_png
from ocseg.io.status import status_logger
from ocseg.metrics.scores import Scores
from ocseg.report import charts
from ocseg.report.page import Chart, Example, Panel, Table, number, write_page
from ocseg.report.thumbnails import BROKEN, FIXED, change_map, colorize, densest_window, relative_link, thumbnail

__all__ = ["segfix_example", "segfix_sections", "write_refine_report"]

log = status_logger(__name__)

CROP_WIDTH = 240   # CSS pixels of one crop panel


def _crop_size(shape: tuple[int, int]) -> int:
    """A third of the shorter side, at least 64 and at most 384 pixels."""
    return int(min(384, max(64, min(shape) // 3)))


def segfix_example(name: str, gt: np.ndarray, before: np.ndarray, after: np.ndarray,
                   palette: Sequence[Sequence[int]], ignore_index: int, image: np.ndarray | None = None,
                   links: dict[str, str | None] | None = None) -> Example:
    """The crop of one image where refinement changed most pixels: [image,] ground truth, before,
    after, and the changes (fixed blue, broken orange) on the faded refined labels."""
    links = links or {}
    changed = before != after
    rows, cols = densest_window(changed, _crop_size(gt.shape))
    scored = gt[rows, cols] != ignore_index
    fixed = int((changed[rows, cols] & scored & (after[rows, cols] == gt[rows, cols])).sum())
    broken = int((changed[rows, cols] & scored & (before[rows, cols] == gt[rows, cols])).sum())
    colours = [colorize(a[rows, cols], palette) for a in (gt, before, after)]
    background = image[rows, cols] if image is not None else colours[2]
    panels = []
    if image is not None:
        panels.append(Panel(thumbnail(image[rows, cols], CROP_WIDTH), "image", links.get("image")))
    panels += [Panel(thumbnail(colours[0], CROP_WIDTH, labels=True), "ground truth", links.get("gt"), True),
               Panel(thumbnail(colours[1], CROP_WIDTH, labels=True), "before", links.get("before"), True),
               Panel(thumbnail(colours[2], CROP_WIDTH, labels=True), "after", links.get("after"), True),
               Panel(thumbnail(change_map(background, before[rows, cols], after[rows, cols], gt[rows, cols],
                                          ignore_index), CROP_WIDTH, labels=True), "changes", None, True)]
    title = (f"{name} — pixels {cols.start}–{cols.stop} × {rows.start}–{rows.stop}: "
             f"{int(changed[rows, cols].sum())} changed, {fixed} fixed, {broken} broken")
    return Example(name=name, title=title, panels=panels)


def segfix_sections(before: Scores, after: Scores, totals: dict[str, int] | None,
                    examples: Sequence[Example], note: str = "") -> dict[str, Any]:
    """The SegFix part of a page (``templates/segfix.html``'s ``segfix`` variable)."""
    names = list(after.per_class_iou)
    with_bf = before.per_class_boundary_f is not None and after.per_class_boundary_f is not None
    rows = []
    for n in names:
        row: list[Any] = [n, before.per_class_iou.get(n), after.per_class_iou.get(n)]
        row.append(_delta(before.per_class_iou.get(n), after.per_class_iou.get(n)))
        if with_bf:
            b, a = before.per_class_boundary_f.get(n), after.per_class_boundary_f.get(n)
            row += [b, a, _delta(b, a)]
        rows.append(row)
    columns = ["class", "IoU before", "IoU after", "IoU change"]
    if with_bf:
        columns += ["boundary F before", "boundary F after", "boundary F change"]
    table = Table.of(columns, rows)
    for row in table.rows:
        for cell in row.cells[3::3]:
            cell.css += " up" if cell.text.startswith("+") and cell.text != "+0.00" else (
                " down" if cell.text.startswith("-") else "")
    series = [("IoU", [before.per_class_iou.get(n) for n in names], [after.per_class_iou.get(n) for n in names])]
    if with_bf:
        series.append(("boundary F", [before.per_class_boundary_f.get(n) for n in names],
                       [after.per_class_boundary_f.get(n) for n in names]))
    summary = [["mIoU", before.miou, after.miou, _delta(before.miou, after.miou)],
               ["pixel accuracy", before.pixel_accuracy, after.pixel_accuracy,
                _delta(before.pixel_accuracy, after.pixel_accuracy)]]
    if with_bf:
        summary.append(["boundary F (original: absent class = 100)", before.boundary_f, after.boundary_f,
                        _delta(before.boundary_f, after.boundary_f)])
        if before.boundary_f_present is not None and after.boundary_f_present is not None:
            summary.append(["boundary F, present classes (ocseg)", before.boundary_f_present,
                            after.boundary_f_present,
                            _delta(before.boundary_f_present, after.boundary_f_present)])
    out: dict[str, Any] = {
        "summary": Table.of(["score", "before %", "after %", "change"], summary, sortable=False),
        "table": table, "note": note, "examples": list(examples),
        "chart": Chart(charts.change_chart(names, series), "change of each class's scores"),
        "fixed": FIXED, "broken": BROKEN, "shares": None, "counts": None,
    }
    if totals and totals.get("changed"):
        still = totals["changed"] - totals["fixed"] - totals["broken"] - totals["ignored"]
        parts = [("became right", totals["fixed"], charts.BLUE), ("became wrong", totals["broken"], charts.ORANGE),
                 ("wrong before and after", still, charts.GREY), ("ignored ground truth", totals["ignored"], "#cccccc")]
        out["shares"] = Chart(charts.share_chart(parts, f"the {totals['changed']} pixels refinement changed"),
                              "share of changed pixels that became right or wrong")
        out["counts"] = Table.of(["changed pixels", "became right", "became wrong", "wrong before and after",
                                  "ignored ground truth", "net gain"],
                                 [[totals["changed"], totals["fixed"], totals["broken"], still,
                                   totals["ignored"], totals["fixed"] - totals["broken"]]], sortable=False)
    return out


def _delta(before: float | None, after: float | None) -> str:
    text = number(None if before is None or after is None else after - before)
    return text if text == "—" or text.startswith("-") else "+" + text


def _train_ids(path: Path, label_map: LabelMap | None) -> np.ndarray:
    raw, _ = read_label_png(path)
    return raw if label_map is None else label_map.to_train(raw, source=str(path))


def write_refine_report(folder: str | Path, metrics: dict, images: Sequence[dict], *,
                        palette: Sequence[Sequence[int]],
                        ignore_index: int, gt_map: LabelMap, pred_map: LabelMap | None,
                        examples: int = 8, facts: Sequence[tuple[str, Any]] = ()) -> Path | None:
    """``refine.py``'s page (with ground truth): ``metrics`` as written, ``images`` one dict per
    scored input (``source``, ``target``, ``gt``, ``changes`` as :data:`~ocseg.metrics.per_image.CHANGES`)."""
    unrefined = (metrics.get("segfix") or {}).get("unrefined")
    if not unrefined:
        return None
    before, after = Scores.from_json(unrefined), Scores.from_json(metrics)
    keys = ("changed", "fixed", "broken", "ignored")
    totals = {k: int(sum(im["changes"][i] for im in images)) for i, k in enumerate(keys)}
    shown = sorted((im for im in images if im["changes"][0] > 0), key=lambda im: -im["changes"][0])[:examples]
    cases = []
    for im in shown:
        gt = gt_map.to_train(read_label_png(im["gt"])[0], source=str(im["gt"]))
        links = {k: relative_link(im[key], folder) for k, key in (("gt", "gt"), ("before", "source"),
                                                                     ("after", "target"))}
        cases.append(segfix_example(Path(im["source"]).stem, gt, _train_ids(Path(im["source"]), pred_map),
                                    _train_ids(Path(im["target"]), pred_map), palette, ignore_index,
                                    links=links))
    moved = metrics.get("moved_fraction")
    segfix = segfix_sections(before, after, totals, cases)
    headline = [("mIoU after (before)", f"{number(after.miou)} ({number(before.miou)})"),
                ("boundary F after (before)", f"{number(after.boundary_f)} ({number(before.boundary_f)})"),
                ("pixels moved", f"{100 * moved:.2f}%" if moved is not None else "—"),
                ("images", str(after.num_images))]
    return write_page(folder, "refine.html", kind="SegFix refinement", title="SegFix refinement",
                      facts=list(facts), headline=headline, segfix=segfix,
                      sections=[("segfix-scores", "scores and changed pixels"),
                                ("segfix-examples", "examples")])
