"""Each tool's --help: only the groups it composes, every key of its config with its default and
meaning (from the config's comments), the values the schema accepts, and three examples."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers.config import CONF, REPO
from ocseg.app.config_comments import read_entries
from ocseg.app.schemas import SCHEMAS
from ocseg.app.tool_help import composed_groups, help_text, option_rows, options_table
from ocseg.config import compose

TOOLS = {"train": "ocseg-train", "eval": "ocseg-eval", "predict_offsets": "ocseg-predict-offsets",
         "refine": "ocseg-refine", "prepare": "ocseg-prepare", "segfix_ground_truth": "ocseg-segfix-gt",
         "export": "ocseg-export"}


def _listed(text: str, key: str) -> bool:
    """``key`` has a row (``key=…`` or a node ``key``) or is a group line (``key: …``)."""
    return any(line.strip().split()[0] in (key, f"{key}:", f"{key} (required):") or
               line.strip().startswith(f"{key}=") for line in text.splitlines() if line.strip())


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_top_level_key_of_the_tools_config_is_in_its_help(tool):
    text = help_text(tool)
    cfg = compose(tool)
    missing = [key for key in cfg if not _listed(text, str(key))]
    assert not missing, (tool, missing)
    assert text.startswith(TOOLS[tool])
    examples = text.split("Examples:")[1].splitlines()
    assert sum(line.strip().startswith(TOOLS[tool]) for line in examples) == 3


@pytest.mark.parametrize("tool", ["refine", "prepare", "segfix_ground_truth"])
def test_tools_without_a_network_list_only_their_groups(tool):
    assert list(composed_groups(tool)) == ["dataset", "paths"]
    groups = help_text(tool).split("Config groups")[1].split("Examples:")[0]
    for other in ("trainer:", "backbone:", "hparams_search:", "model:", "loss:"):
        assert other not in groups, (tool, other)


def test_the_groups_follow_the_options_defaults_lists():
    """model= names backbone, head, normalize and task; eval also composes test= and recipes;
    train's embedded demo schedule is chosen by dataset=, so it is no user choice."""
    train, evaluate = composed_groups("train"), composed_groups("eval")
    assert {"backbone", "head", "normalize", "task", "hparams_search", "debug", "logger"} <= set(train)
    assert "embedded" not in train and "hydra" not in train and "dataset/base" not in train
    assert {"test", "experiment", "model", "backbone"} <= set(evaluate)
    assert not {"hparams_search", "logger", "callbacks", "schedule", "debug"} & set(evaluate)
    assert evaluate["test"] == ["ms", "sliding", "ss"]
    assert "prepare" not in composed_groups("prepare") and "dataset (required):" in help_text("prepare")


def test_a_key_shows_its_default_its_comment_and_the_values_it_accepts():
    mat = {key: row for key, *row in option_rows("predict_offsets", terse=True)}["mat_dtype"]
    # the default and comment of conf/predict_offsets.yaml, then the schema's choices
    assert mat == ["int32", "integer type of the .mat arrays: int32 as the original tester wrote, or int8",
                   "one of int32, int16, int8"]
    flat = " ".join(help_text("predict_offsets").split())
    assert "mat_dtype=int32 integer type of the .mat arrays: int32 as the original tester wrote, or int8 " \
           "[one of int32, int16, int8]" in flat
    refine = help_text("refine")
    assert any(ln.startswith("  input=???") and "folder of predicted label PNGs" in ln for ln in refine.splitlines())
    # a key of a group (data=default): its meaning from conf/data/default.yaml
    rows = {key: (default, meaning, allowed) for key, default, meaning, allowed in option_rows("train")}
    assert rows["data.global_batch_size"][1].startswith("the total batch of one optimizer step")
    assert rows["data.global_batch_size"][2] == "an integer ≥ 1"
    assert rows["seed"][0] == "1234" and rows["seed"][2] == "an integer"


def test_every_schema_key_is_in_the_options_table():
    for tool, schema in SCHEMAS.items():
        table = options_table(tool)
        for key, rule in schema.items():
            if rule.kind != "group":
                assert f"| `{key}` |" in table, (tool, key)


def test_the_option_tables_of_the_docs_are_current():
    """docs/cli.md's tables are scripts/cli_docs.py's output for today's configs and schemas."""
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "cli_docs.py"), "--check"], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(REPO / "src")), timeout=120)
    assert done.returncode == 0, done.stderr


def test_comments_are_read_from_the_line_or_the_block_above(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("# header\ndefaults:\n  - a: b\n\n# two lines\n# of meaning\nkey: 1\n"
                    "node:\n  leaf: '#not a comment'   # inline\n  text: |-\n    fake: key\n"
                    "after: 2\n")
    entries = read_entries(path)
    assert entries["key"].comment == "two lines of meaning" and entries["key"].value == "1"
    assert entries["node.leaf"].value == "'#not a comment'" and entries["node.leaf"].comment == "inline"
    assert "node.text.fake" not in entries and "fake" not in entries
    assert entries["after"].value == "2" and entries["node"].is_node
    assert list(read_entries(CONF / "refine.yaml"))[:3] == ["defaults", "task_name", "input"]
