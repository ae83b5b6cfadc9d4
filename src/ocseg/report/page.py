"""The page every report is: a Jinja2 template under ``report/templates/`` (the skeleton
``base.html`` with its inline CSS and sorting script, one template per report kind), the values
it shows (:class:`Table`, :class:`Chart`, :class:`Example`) and the one way of writing it
(:func:`write_page`: atomically, as ``report.html``).

The page is self-contained: charts and thumbnails are data: URIs, style and script are inline,
and its Content-Security-Policy forbids every other load, so it opens from a cluster file
system, an e-mail or a CI artifact without any request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from ocseg.io.atomic import write_text
from ocseg.report.provenance import provenance

__all__ = ["REPORT_NAME", "Cell", "Chart", "Column", "Example", "Panel", "Row", "Table", "number",
           "write_page"]

REPORT_NAME = "report.html"


def number(value: Any, digits: int = 2) -> str:
    """A score as the page shows it: fixed decimals, ``—`` for None / NaN."""
    if value is None:
        return "—"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "—" if math.isnan(v) else f"{v:.{digits}f}"


@dataclass
class Cell:
    text: str
    sort: str | None = None     # the sorting key when it differs from the text
    css: str = ""
    title: str = ""

    @classmethod
    def of(cls, value: Any, digits: int = 2) -> "Cell":
        """A cell of ``value``: numbers right-aligned with :func:`number`, missing ones sort last."""
        if isinstance(value, Cell):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) and value is not None:
            return cls(str(value))
        text = str(value) if isinstance(value, int) else number(value, digits)
        return cls(text, sort=None if text != "—" else "", css="num")


@dataclass
class Column:
    name: str
    numeric: bool = False
    title: str = ""


@dataclass
class Row:
    cells: list[Cell]
    css: str = ""


@dataclass
class Table:
    columns: list[Column]
    rows: list[Row]
    sortable: bool = True

    @classmethod
    def of(cls, columns: Sequence[str | Column], rows: Sequence[Sequence[Any]], digits: int = 2,
           row_css: Sequence[str] | None = None, sortable: bool = True) -> "Table":
        """A table of plain values (see :meth:`Cell.of`); a column is numeric when its cells are."""
        body = [Row([Cell.of(v, digits) for v in values], css=(row_css or [""] * len(rows))[i])
                for i, values in enumerate(rows)]
        cols = []
        for j, column in enumerate(columns):
            if isinstance(column, str):
                column = Column(column, numeric=bool(body) and all(
                    r.cells[j].css == "num" or r.cells[j].text == "—" for r in body))
            cols.append(column)
        return cls(cols, body, sortable)


@dataclass
class Chart:
    uri: str
    alt: str
    caption: str = ""
    width: int | None = None    # CSS pixels; None: the column's width


@dataclass
class Panel:
    uri: str
    caption: str
    href: str | None = None     # the full-size file, relative to the page
    labels: bool = False        # a label map: scaled without smoothing


@dataclass
class Example:
    name: str
    title: str
    panels: list[Panel] = field(default_factory=list)


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("ocseg.report", "templates"),
                       autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def write_page(folder: str | Path, template: str, *, kind: str, title: str,
               facts: Sequence[tuple[str, Any]], headline: Sequence[tuple[str, str]] = (),
               sections: Sequence[tuple[str, str]] = (), **context: Any) -> Path:
    """Render ``template`` into ``<folder>/report.html`` (atomically); returns its path.

    ``facts``: the header's (label, value) pairs (None values left out); ``headline``: the big
    numbers; ``sections``: (anchor, name) of the page's sections for the navigation line.
    """
    info = provenance()
    generated = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    facts = [(k, v) for k, v in facts if v not in (None, "")]
    facts += [("generated", generated), ("ocseg", info["version"] + (
        f" (commit {info['commit']})" if info["commit"] else ""))]
    footer = f"ocseg {info['version']}" + (f" · commit {info['commit']}" if info["commit"] else "") + \
        f" · {generated} · self-contained page: no external requests"
    html = _environment().get_template(template).render(
        kind=kind, title=title, facts=facts, headline=list(headline), sections=list(sections),
        footer=footer, **context)
    path = Path(folder) / REPORT_NAME
    write_text(path, html)
    return path
