"""Regenerate the per-tool option tables of ``docs/cli.md`` from the configs and the schemas.

    python scripts/cli_docs.py            # rewrite the tables in place
    python scripts/cli_docs.py --check    # exit 1 when a table is out of date (tests/test_tool_help.py)

Each table sits between ``<!-- options:<tool> -->`` and ``<!-- /options -->`` and is
:func:`ocseg.app.tool_help.options_table` of that tool: the keys ``--help`` lists, their
defaults and comments (``conf/<tool>.yaml``) and the values their rules accept
(``ocseg.app.schemas``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ocseg.app.tool_help import options_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
_BLOCK = re.compile(r"(<!-- options:(?P<tool>\w+) -->\n).*?(<!-- /options -->)", re.S)


def regenerated(text: str) -> str:
    """``text`` with every options block replaced by the current table of its tool."""
    return _BLOCK.sub(lambda m: f"{m.group(1)}{options_table(m.group('tool'))}\n{m.group(3)}", text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether the tables are current")
    args = parser.parse_args()
    text = DOC.read_text()
    new = regenerated(text)
    if args.check:
        if new != text:
            print(f"error: the option tables of {DOC} are out of date; run python scripts/cli_docs.py",
                  file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
