"""The scores table people read: IoU per class, then mIoU, pixel accuracy and boundary F.

One column of :class:`~ocseg.metrics.scores.Scores`, or — for SegFix refinement — the scores
before and after with the change. Classes without an IoU in any column (in neither ground truth
nor prediction) are counted in a note under the table, not listed: a 65-class dataset scored on
a few images would print a page of dashes (``metrics.json`` keeps them, as ``null``). Boundary F
shows the original's number, labelled with its convention, and ocseg's over the present classes.
Built with rich (imported when a table is made) and rendered as plain text, which the tools log
so the table reaches the run's log file as well as the console.
"""

from __future__ import annotations

import io
import math

from ocseg.metrics.scores import Scores

__all__ = ["scores_table", "scores_text", "table_text", "BOUNDARY_F_ORIGINAL", "BOUNDARY_F_PRESENT"]

#: the row labels of the two boundary F means (metrics.json: boundary_f, boundary_f_present)
BOUNDARY_F_ORIGINAL = "boundary F (original: absent class = 100)"
BOUNDARY_F_PRESENT = "boundary F, present classes (ocseg)"


def _cell(value: float | None) -> str:
    return "—" if _missing(value) else f"{value:.2f}"


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def _change(before: float | None, after: float | None) -> str:
    if _missing(before) or _missing(after):
        return "—"
    return f"{after - before:+.2f}"


def _absent(scores: Scores, before: Scores | None) -> list[str]:
    """Classes without an IoU in any column."""
    columns = [scores] if before is None else [before, scores]
    return [n for n in scores.per_class_iou if all(_missing(s.per_class_iou.get(n)) for s in columns)]


def scores_table(scores: Scores, title: str, before: Scores | None = None):
    """A rich ``Table`` of ``scores`` (percent); with ``before``, the columns are before / after /
    change (the SegFix comparison)."""
    from rich.table import Table

    columns = [scores] if before is None else [before, scores]
    absent = _absent(scores, before)
    table = Table(title=title)
    table.add_column("class")
    for name in (["%"] if before is None else ["before %", "after %", "change"]):
        table.add_column(name, justify="right")

    def row(name: str, values: list[float | None]) -> None:
        cells = [_cell(v) for v in values]
        if before is not None:
            cells.append(_change(*values))
        table.add_row(name, *cells)

    for name in scores.per_class_iou:
        if name not in absent:
            row(name, [s.per_class_iou.get(name) for s in columns])
    table.add_section()
    row("mIoU", [s.miou for s in columns])
    row("pixel accuracy", [s.pixel_accuracy for s in columns])
    if any(s.boundary_f is not None for s in columns):
        row(BOUNDARY_F_ORIGINAL, [s.boundary_f for s in columns])
        row(BOUNDARY_F_PRESENT, [s.boundary_f_present for s in columns])
    return table


def table_text(table) -> str:
    """``table`` as plain text (no colour codes), as wide as its content."""
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None, force_terminal=False).print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


def scores_text(scores: Scores, title: str, before: Scores | None = None) -> str:
    """:func:`scores_table` as plain text, with the count of the classes it leaves out: what the
    tools log."""
    text = table_text(scores_table(scores, title, before))
    absent = _absent(scores, before)
    if absent:
        text += (f"\n{len(absent)} of {len(scores.per_class_iou)} classes are in neither ground "
                 "truth nor prediction: not listed (null in metrics.json)")
    return text
