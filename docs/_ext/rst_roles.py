"""A griffe extension for the API pages: Sphinx roles in docstrings become code spans.

ocseg's docstrings name other objects the Sphinx way (``:func:`ocseg.load```, ``:class:`~a.B```),
which Markdown would print literally. This turns each role into a code span (``~`` keeps the last
name only, as Sphinx does) before mkdocstrings renders the docstring. It is not a link: a
cross-reference to an object that no API page renders would fail ``mkdocs build --strict``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const):`(~?)([^`]+)`")


def _code(match: re.Match) -> str:
    short, target = match.group(1), match.group(2)
    return f"``{target.rsplit('.', 1)[-1] if short else target}``"


class SphinxRolesToCode(griffe.Extension):
    """Rewrite ``:role:`target``` in every docstring to a code span."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_code, obj.docstring.value)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """The top-level package itself (``on_object`` does not see it)."""
        self.on_object(obj=pkg)
