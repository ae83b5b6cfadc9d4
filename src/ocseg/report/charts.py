"""The reports' charts, drawn with matplotlib and embedded as data: URIs.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot, so no global state and no
GUI backend) under one style: matplotlib's bundled DejaVu Sans, text drawn as paths in SVG (the
page needs no font at all). Line and bar charts are SVG (sharp in print); the confusion heatmap
is a PNG (a raster, small at any class count).
"""

from __future__ import annotations

import base64
import io
import math
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np

__all__ = ["BLUE", "ORANGE", "bar_chart", "change_chart", "confusion_heatmap", "line_chart",
           "share_chart", "sweep_chart", "to_uri"]

# Okabe-Ito colours (told apart with colour-blind vision too)
BLUE, ORANGE, GREEN, GREY, RED = "#0072B2", "#E69F00", "#009E73", "#999999", "#D55E00"

_STYLE = {
    "font.family": "DejaVu Sans", "font.size": 9, "svg.fonttype": "path", "svg.hashsalt": "ocseg",
    "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 10,
    "axes.titleweight": "bold", "axes.grid": True, "grid.color": "#e6e6e6", "grid.linewidth": 0.6,
    "axes.axisbelow": True, "legend.frameon": False, "figure.dpi": 100,
}


@contextmanager
def _figure(width: float, height: float) -> Iterator:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_STYLE):
        yield Figure(figsize=(width, height), layout="constrained")


def to_uri(fig, fmt: str = "svg", dpi: int = 110) -> str:
    """``fig`` as a ``data:`` URI (``svg`` or ``png``)."""
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    mime = "image/svg+xml" if fmt == "svg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _finite(values: Sequence[float | None]) -> np.ndarray:
    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def bar_chart(names: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
              xlabel: str = "%", xmax: float | None = 100.0) -> str:
    """Horizontal bars per class, one colour per series, sorted by the first series (lowest on
    top), each labelled with its number; classes whose first value is missing are left out."""
    first = _finite(series[0][1])
    order = [i for i in np.argsort(first, kind="stable") if not math.isnan(first[i])]
    n, k = len(order), len(series)
    height = 0.55 + max(n, 1) * (0.16 + 0.13 * k)
    with _figure(7.2, height) as fig:
        ax = fig.subplots()
        bar = 0.8 / k
        y = np.arange(n)[::-1]   # the first (lowest) class at the top
        for j, (label, values) in enumerate(series):
            v = _finite(values)[order]
            offset = (j - (k - 1) / 2) * bar
            bars = ax.barh(y - offset, np.nan_to_num(v), height=bar, label=label,
                           color=(BLUE, ORANGE, GREEN)[j % 3])
            ax.bar_label(bars, labels=["—" if math.isnan(x) else f"{x:.1f}" for x in v],
                         padding=2, fontsize=7)
        ax.set_yticks(y, [names[i] for i in order])
        ax.set_ylim(-0.6, n - 0.4)
        ax.set_xlabel(xlabel)
        if xmax is not None:
            ax.set_xlim(0, xmax * 1.08)
        ax.grid(axis="y", visible=False)
        if k > 1:
            ax.legend(loc="lower right", ncols=k)
        return to_uri(fig)


def change_chart(names: Sequence[str], series: Sequence[tuple[str, Sequence[float | None],
                                                             Sequence[float | None]]]) -> str:
    """After minus before per class, one panel per score (``(label, before, after)``), sorted by
    the change; gains in blue, losses in orange."""
    n = len(names)
    with _figure(3.6 * len(series), 0.6 + max(n, 1) * 0.2) as fig:
        axes = fig.subplots(1, len(series), squeeze=False)[0]
        for ax, (label, before, after) in zip(axes, series):
            delta = _finite(after) - _finite(before)
            order = [i for i in np.argsort(delta, kind="stable") if not math.isnan(delta[i])]
            d = delta[order]
            y = np.arange(len(order))
            bars = ax.barh(y, d, color=[BLUE if v >= 0 else ORANGE for v in d], height=0.7)
            ax.bar_label(bars, labels=[f"{v:+.2f}" for v in d], padding=2, fontsize=7)
            ax.set_yticks(y, [names[i] for i in order])
            ax.axvline(0, color="#555", linewidth=0.8)
            span = max(float(np.abs(d).max()) if len(d) else 0.0, 0.5) * 1.35
            ax.set_xlim(-span, span)
            ax.set_title(f"{label}: after − before")
            ax.set_xlabel("percentage points")
            ax.grid(axis="y", visible=False)
        return to_uri(fig)


def confusion_heatmap(matrix: np.ndarray, names: Sequence[str]) -> str:
    """A row-normalised confusion matrix (rows: ground truth, percent) as a PNG heatmap, the
    percentages written in the cells when there are few classes."""
    n = len(names)
    side = min(max(3.0, 0.3 * n + 1.7), 14.0)
    with _figure(side + 0.9, side) as fig:
        ax = fig.subplots()
        shown = np.ma.masked_invalid(matrix)
        image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=100, interpolation="nearest")
        ticks = np.arange(n)
        size = 8 if n <= 25 else max(3, 8 - n // 25)
        ax.set_xticks(ticks, names, rotation=90, fontsize=size)
        ax.set_yticks(ticks, names, fontsize=size)
        ax.set_xlabel("predicted")
        ax.set_ylabel("ground truth")
        ax.grid(False)
        if n <= 25:
            for (i, j), value in np.ndenumerate(matrix):
                if not math.isnan(value) and value >= 0.5:
                    ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=6.5,
                            color="white" if value > 55 else "#222")
        fig.colorbar(image, ax=ax, shrink=0.6, label="% of the ground-truth class's pixels")
        return to_uri(fig, "png", dpi=100)


def line_chart(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], title: str,
               ylabel: str = "", xlabel: str = "step", log: bool = False) -> str:
    """One line per ``(label, x, y)``; a series of one point is drawn as a marker."""
    with _figure(5.6, 3.0) as fig:
        ax = fig.subplots()
        for label, x, y in series:
            ax.plot(x, y, label=label, marker="o" if len(x) < 12 else None, markersize=3.5,
                    linewidth=1.4)
        from matplotlib.ticker import MaxNLocator

        if log:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if len(series) > 1:   # beside the axes: never over a line
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return to_uri(fig)


def share_chart(parts: Sequence[tuple[str, int, str]], total_label: str) -> str:
    """One stacked horizontal bar of ``(label, count, colour)`` parts, in percent of their sum."""
    total = sum(c for _, c, _ in parts) or 1
    with _figure(5.6, 1.7) as fig:
        ax = fig.subplots()
        left = 0.0
        for label, count, colour in parts:
            share = 100 * count / total
            ax.barh([0], [share], left=left, color=colour, label=f"{label} ({share:.1f}%)", height=0.6)
            if share >= 7:
                ax.text(left + share / 2, 0, f"{share:.0f}%", ha="center", va="center", color="white",
                        fontsize=8, fontweight="bold")
            left += share
        ax.set_xlim(0, 100)
        ax.set_yticks([])
        ax.set_xlabel(f"% of {total_label}")
        ax.grid(False)
        fig.legend(loc="outside lower center", ncols=2, fontsize=7.5)
        return to_uri(fig)


def sweep_chart(param: str, values: Sequence[str], scores: Sequence[float | None],
                failed: Sequence[bool], metric: str) -> str:
    """``metric`` of each job against its value of ``param``: numbers on a numeric axis (log when
    they span decades), anything else as categories; failed jobs as red crosses on the axis."""
    numeric = all(_is_number(v) for v in values)
    xs = [float(v) for v in values] if numeric else None
    if not numeric:
        categories = list(dict.fromkeys(values))
        xs = [categories.index(v) for v in values]
    y = _finite(scores)
    ok = [i for i in range(len(xs)) if not failed[i] and not math.isnan(y[i])]
    bad = [i for i in range(len(xs)) if failed[i]]
    with _figure(4.2, 2.8) as fig:
        ax = fig.subplots()
        ax.scatter([xs[i] for i in ok], y[ok], color=BLUE, zorder=3, label="completed")
        means = {}
        for i in ok:
            means.setdefault(xs[i], []).append(y[i])
        if len(means) > 1:
            line = sorted((x, float(np.mean(v))) for x, v in means.items())
            ax.plot([p[0] for p in line], [p[1] for p in line], color=BLUE, alpha=0.45,
                    label="mean per value")
        low = float(np.nanmin(y[ok])) if ok else 0.0
        if bad:
            ax.scatter([xs[i] for i in bad], [low] * len(bad), marker="x", color=RED, s=60, zorder=4,
                       label="failed", clip_on=False)
        if numeric:
            positive = [x for x in xs if x > 0]
            if positive and len(positive) == len(xs) and max(positive) / min(positive) >= 50:
                ax.set_xscale("log")
        else:
            ax.set_xticks(range(len(categories)), categories, rotation=30 if len(categories) > 4 else 0)
            ax.set_xlim(-0.5, len(categories) - 0.5)
        ax.set_xlabel(param)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} against {param}")
        ax.legend(fontsize=7)
        return to_uri(fig)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
