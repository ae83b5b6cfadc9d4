"""report.html: one self-contained page per run, next to its ``metrics.json``.

* :mod:`~ocseg.report.page` — the page skeleton (Jinja2 templates in ``templates/``), tables,
  and writing the file; :mod:`~ocseg.report.provenance` — ocseg's version and git commit;
* :mod:`~ocseg.report.charts` — matplotlib charts as data: URIs;
  :mod:`~ocseg.report.thumbnails` — embedded pictures, error and change maps, relative links;
* one module per report: :mod:`~ocseg.report.evaluation` (``eval.py``),
  :mod:`~ocseg.report.segfix` (SegFix, in ``eval.py segfix.offsets=`` and ``refine.py``),
  :mod:`~ocseg.report.training` (``train.py``, from the run's CSV log) and
  :mod:`~ocseg.report.sweep` (multiruns, next to ``sweep_summary.csv``).

Rendering reads what a run wrote and never changes a score or another output file. Submodules
are imported where used (matplotlib loads only when a page is drawn).
"""

from ocseg.report.page import REPORT_NAME

__all__ = ["REPORT_NAME"]
