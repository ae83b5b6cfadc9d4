"""The docs stay in step with the code: the generated model tables are what the cards give, the
zoo page names every experiment, and README stays short and points only at pages that exist.

(Links and anchors between the pages are checked by ``mkdocs build --strict`` in ``make lint``.)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from helpers.config import CONF, REPO
from ocseg.models import available_models

DOCS = REPO / "docs"
README = (REPO / "README.md").read_text()
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


@pytest.fixture(scope="module")
def tables():
    """``bench/model_tables.py``, which renders the tables (imports no torch)."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import model_tables
    finally:
        sys.path.remove(str(REPO / "bench"))
    return model_tables


def _model_of(path: Path) -> str | None:
    """The ``override /model:`` an experiment picks, itself or through its ``base/`` fragments
    (the last one wins, as in Hydra's defaults list)."""
    found = None
    for entry in yaml.safe_load(path.read_text()).get("defaults", []):
        if isinstance(entry, str) and entry.startswith("base/"):
            found = _model_of(CONF / "experiment" / f"{entry}.yaml") or found
        elif isinstance(entry, dict) and "override /model" in entry:
            found = entry["override /model"]
    return found


def test_model_tables_are_what_the_cards_give(tables):
    """docs/models.md and README's glance table list every user-facing model in the cards' order,
    with the cards' originals, files and scores; README's params are the docs table's."""
    docs_block = tables.read_block((DOCS / "models.md").read_text(), tables.DOCS_TABLE)
    rows = tables.measured_rows(docs_block)
    assert [row["model"] for row in rows] == available_models()
    assert docs_block == tables.docs_table(rows), "regenerate: python bench/models.py --flops --no-time --docs"
    experiments = {name: _model_of(CONF / "experiment" / f"{name}.yaml") for name in EXPERIMENTS}
    assert set(experiments.values()) <= set(available_models())
    glance = tables.read_block(README, tables.README_TABLE)
    assert glance == tables.glance_table(rows, experiments), \
        "regenerate: python bench/models.py --flops --no-time --docs"


def test_glance_table_names_the_experiment_of_a_released_model(tables):
    glance = tables.read_block(README, tables.README_TABLE)
    row = next(line for line in glance.splitlines() if line.startswith("| `hrnet48_ocr` |"))
    assert "81.09 Cityscapes val (81.73 w/ SegFix)" in row and "`cityscapes_hrnet48_ocr` (+14)" in row


def test_zoo_page_names_every_experiment():
    """Every zoo row's experiment is in docs/zoo.md's table; ocseg's own CPU recipe is on the
    SegFix page."""
    zoo = (DOCS / "zoo.md").read_text()
    table = zoo[zoo.index("| zoo row (original script, branch) |"):]
    table = table[:table.index("\n\n")]
    named = re.findall(r"^\| [^|]+ \| `(\w+)` \|", table, re.M)
    assert len(named) == len(set(named)) == 29
    assert set(named) | {"segfix_synthetic"} == set(EXPERIMENTS)
    assert "experiment=segfix_synthetic" in (DOCS / "segfix.md").read_text()


def test_readme_is_short_and_maps_every_page():
    assert len(README.splitlines()) <= 250
    linked = set(re.findall(r"\]\(docs/([\w/-]+\.md)(?:#[\w-]+)?\)", README))
    assert all((DOCS / page).is_file() for page in linked), linked
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")} - {"index.md"}
    top = {p for p in pages if "/" not in p} | {"api/index.md"}
    assert top <= linked, f"pages README's map leaves out: {sorted(top - linked)}"


def test_readme_states_how_to_run_the_tools_and_the_ci_command():
    install = README[README.index("## Installation"):README.index("## Quick start")]
    for way in ("source .venv/bin/activate", ".venv/bin/ocseg-eval", "make eval ARGS="):
        assert way in install
    assert "make test" in README and ".ci/run" in README
    ci = (REPO / ".ci" / "run").read_text()
    assert "make lint" in ci and "make test" in ci


def test_code_points_at_the_docs_not_at_readme_sections():
    """Messages and comments that send a user to a section name a docs page (README is short)."""
    stale = []
    for folder in ("src", "conf", "scripts", "bench", "tests"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix not in (".py", ".yaml", ".sh") or "fixtures" in path.parts:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"README[,:]? [\"A-Z]", line) and "upstream README" not in line:
                    stale.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not stale, "\n".join(stale)
