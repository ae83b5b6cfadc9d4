"""The scores table people read: IoU per class, then mIoU, pixel accuracy and boundary F.

One column of :class:`~ocseg.metrics.scores.Scores`, or — for SegFix refinement — the scores
before and after with the change. Built with rich (imported when a table is made) and rendered
as plain text, which the tools log so the table reaches the run's log file as well as the console.
"""

from __future__ import annotations

import io
import math

from ocseg.metrics.scores import Scores

__all__ = ["scores_table", "scores_text", "table_text"]


def _cell(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:.2f}"


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None or math.isnan(before) or math.isnan(after):
        return "—"
    return f"{after - before:+.2f}"


def scores_table(scores: Scores, title: str, before: Scores | None = None):
    """A rich ``Table`` of ``scores`` (percent); with ``before``, the columns are before / after /
    change (the SegFix comparison)."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("class")
    columns = [scores] if before is None else [before, scores]
    for name in (["%"] if before is None else ["before %", "after %", "change"]):
        table.add_column(name, justify="right")

    def row(name: str, values: list[float | None]) -> None:
        cells = [_cell(v) for v in values]
        if before is not None:
            cells.append(_change(*values))
        table.add_row(name, *cells)

    for name in scores.per_class_iou:
        row(name, [s.per_class_iou.get(name) for s in columns])
    table.add_section()
    row("mIoU", [s.miou for s in columns])
    row("pixel accuracy", [s.pixel_accuracy for s in columns])
    if any(s.boundary_f is not None for s in columns):
        row("boundary F", [s.boundary_f for s in columns])
    return table


def table_text(table) -> str:
    """``table`` as plain text (no colour codes), as wide as its content."""
    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None, force_terminal=False).print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


def scores_text(scores: Scores, title: str, before: Scores | None = None) -> str:
    """:func:`scores_table` as plain text: what the tools log."""
    return table_text(scores_table(scores, title, before))
