"""What a config file says about its keys: each key's value as written and its comment.

``--help`` shows a tool's keys with their defaults and one-line meanings taken from the comments
of its config files, so the meaning lives in one place, next to the value. The comment of a key
is the one on its line (``mode: semantic   # semantic | instance``), else the block of comment
lines right above it. Read line by line, without YAML's loader: ``--help`` stays fast, and a
comment is something YAML's loader drops anyway.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Entry", "read_entries", "defaults_of"]

_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z_][\w-]*)\s*:(?:\s+(?P<rest>.*)|\s*)$")
_BLOCK = ("|", "|-", "|+", ">", ">-", ">+")


@dataclass(frozen=True)
class Entry:
    """One key of a config file: ``key`` (dotted), ``value`` as written ('' for a node or a
    block list), ``comment`` (one line; '' when none) and ``line`` (1-based)."""

    key: str
    value: str
    comment: str
    line: int

    @property
    def is_node(self) -> bool:
        return self.value == ""


def _split_comment(rest: str) -> tuple[str, str]:
    """``value  # comment`` → (value, comment), a ``#`` inside quotes being part of the value."""
    quote = None
    for i, char in enumerate(rest):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or rest[i - 1].isspace()):
            return rest[:i].strip(), rest[i + 1:].strip()
    return rest.strip(), ""


@functools.cache
def read_entries(path: Path) -> dict[str, Entry]:
    """Every key of the YAML file at ``path``, dotted (``segfix.scale``), in file order; the
    ``defaults`` list's items and block scalars' lines are not keys."""
    entries: dict[str, Entry] = {}
    stack: list[tuple[int, str]] = []       # (indent, key) of the nodes enclosing the line
    above: list[str] = []                   # the comment block right above the line
    block_indent: int | None = None         # inside a block scalar (|, >) deeper than this
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if block_indent is not None:
            if not stripped or indent > block_indent:
                continue
            block_indent = None
        if not stripped:
            above = []
            continue
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if match is None:                   # a list item or a flow continuation
            above = []
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = ".".join([*(k for _, k in stack), match.group("key")])
        value, comment = _split_comment(match.group("rest") or "")
        entries[key] = Entry(key, value, comment or " ".join(above), number)
        above = []
        if value in _BLOCK:
            block_indent = indent
        elif value == "":
            stack.append((indent, match.group("key")))
    return entries


@functools.cache
def defaults_of(path: Path) -> tuple[tuple[str, str | None], ...]:
    """The ``defaults`` list of the YAML file at ``path``: ``(entry, option)`` per item —
    ``("dataset", "synthetic_city")`` for ``- dataset: synthetic_city``, ``("base/test@_here_",
    None)`` for ``- base/test@_here_``."""
    items: list[tuple[str, str | None]] = []
    inside = False
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.strip().startswith("#"):
            continue
        if line.startswith("defaults:"):
            inside = True
            continue
        if inside and not line.startswith((" ", "-")):
            break
        if inside and line.strip().startswith("- "):
            item = line.strip()[2:].strip()
            name, colon, option = item.partition(":")
            items.append((name.strip(), option.strip() or "null") if colon else (item, None))
    return tuple(items)
