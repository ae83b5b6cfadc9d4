"""Property tests of the tools' option values: hypothesis draws values for the keys of each tool's
schema (``ocseg.app.schemas``) — values the rule accepts and values of any other kind — and runs
the tool as a user runs it (the fork server). Whatever the values, the tool either succeeds or
stops with exit code 2 and exactly one ``error:`` line, never a traceback, and a refused run
leaves no output file behind.

Bounded for CI: a fixed number of examples per tool (``OCSEG_PROPERTY_SCALE=<n>`` multiplies
them, and then draws new examples each run instead of the same ones), about a minute on two
cores. The files and names users hand the tools are ``tests/test_bad_input_properties.py``'s.
"""

from __future__ import annotations

import itertools
import math
import os
import string
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.checkpoints import make_checkpoint
from helpers.data_fakes import write_png
from helpers.tool_args import FUNCTIONS, tool_args
from ocseg.app.rules import Rule
from ocseg.app.schemas import SCHEMAS

SCALE = int(os.environ.get("OCSEG_PROPERTY_SCALE", "1"))
#: examples per tool: more where a run that succeeds is cheap
EXAMPLES = {"refine": 12, "segfix_ground_truth": 10, "prepare": 5, "eval": 6, "predict_offsets": 5, "train": 4,
            "export": 4}
#: keys not drawn: they choose hardware or processes (devices, nodes, accelerator, precision,
#: synchronised BatchNorm across processes), or a crop size a valid value of which can still be
#: too small for the model (a check of the data, not of the option)
SKIPPED = ("trainer.devices", "trainer.num_nodes", "trainer.accelerator", "trainer.precision",
           "trainer.sync_batchnorm", "dataset.crop_size")
_TEXT = string.ascii_letters + string.digits + "._-"
_SIZES = st.lists(st.integers(16, 48), min_size=2, max_size=2)
#: accepted values of the keys whose small accepted values make a run slow (a window stride of
#: one pixel: thousands of forward passes): typical ones instead, and no lists among the others
COSTLY = {"predictor.stride": _SIZES, "predictor.crop_size": _SIZES, "test.stride": _SIZES,
          "test.crop_size": _SIZES, "test.input_size": _SIZES, "test.short_side": st.integers(16, 64),
          "test.scales": st.lists(st.floats(0.25, 1.5), min_size=1, max_size=2),
          "test.scale_weights": st.lists(st.floats(0.0, 2.0), min_size=1, max_size=2)}


# ---- values --------------------------------------------------------------------------------
def accepted(rule: Rule) -> st.SearchStrategy:
    """Values ``rule`` accepts, kept small (a count of 1–3, a short name): a run that succeeds
    stays quick."""
    kind = rule.kind
    extras = [st.sampled_from(rule.words)] if rule.words else []
    if rule.nullable:
        extras.append(st.none())
    if kind == "integer":
        low = -2 if rule.low is None else int(rule.low)
        base = st.integers(low, low + 2 if rule.high is None else min(int(rule.high), low + 2))
    elif kind == "number":
        low = 0.0 if rule.low is None else float(rule.low)
        high = low + 2.0 if rule.high is None else float(rule.high)
        base = st.floats(low, high, exclude_min=rule.above, allow_nan=False)
    elif kind == "flag":
        base = st.booleans()
    elif kind in ("choice", "group"):
        base = st.sampled_from(rule.choices)
    elif kind == "text":
        base = st.text(_TEXT, min_size=1, max_size=6)
    elif kind == "glob":
        base = st.sampled_from(["*.png", "**/*.png", "**/*_labelIds.png", "nothing*"])
    elif kind == "split":
        base = st.sampled_from(["train", "val", "test"])
    elif kind == "file":
        base = st.sampled_from(["missing.ckpt", "notes.txt"])
    elif kind == "list":
        item = accepted(rule.item) if rule.item else st.integers(1, 3)
        base = st.lists(item, min_size=rule.length or 1, max_size=rule.length or 3)
    else:  # any
        base = st.one_of(*(accepted(a) for a in rule.alternatives))
    return st.one_of(base, *extras)


#: values of any kind: numbers at and beyond the edges, non-finite ones, texts that look like
#: paths, words or interpolations, lists, null and booleans
ANYTHING = st.one_of(
    st.integers(-5, 5), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " ", "abc", "/abs/x", "../x", "~/x", "null", "true", "1", "last", "${nope}",
                     "${oc.env:OCSEG_NOT_SET}"]),
    st.text(string.printable, max_size=8),   # newlines and tabs too
    st.lists(st.one_of(st.integers(-2, 3), st.floats(-1, 2), st.text(_TEXT, max_size=3)), max_size=3),
    st.none(), st.booleans())


def override(value) -> str:
    """``value`` written as Hydra's override grammar parses it back (strings quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, list):
        return "[" + ",".join(override(v) for v in value) + "]"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def drawn(tool: str) -> st.SearchStrategy:
    """One to three ``key=value`` overrides for keys of ``tool``'s schema."""
    keys = sorted(k for k, rule in SCHEMAS[tool].items() if k not in SKIPPED)

    def overrides(values) -> st.SearchStrategy:
        key_value = st.sampled_from(keys).flatmap(lambda key: st.tuples(st.just(key), values(key)))
        return st.lists(key_value, min_size=1, max_size=3, unique_by=lambda kv: kv[0])

    def good(key: str) -> st.SearchStrategy:
        return COSTLY[key] if key in COSTLY else accepted(SCHEMAS[tool][key])

    def anything(key: str) -> st.SearchStrategy:
        return ANYTHING.filter(lambda v: not isinstance(v, list)) if key in COSTLY else ANYTHING

    # half the examples only accepted values (most of those runs succeed), half any values
    return st.one_of(overrides(good), overrides(lambda key: st.one_of(good(key), anything(key))))


# ---- the world the tools run in --------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory, synthetic_root) -> dict:
    """Checkpoints, and for refine a folder of predictions with their offsets."""
    from ocseg.segfix.offsets.files import write_offsets

    base = tmp_path_factory.mktemp("properties")
    preds, offsets = base / "preds", base / "offsets"
    rng = np.random.RandomState(0)
    for label in sorted((synthetic_root / "gtFine" / "val").glob("*/*_labelIds.png")):
        stem = label.name.replace("_gtFine_labelIds.png", "")
        write_png(preds / f"{stem}.png", rng.choice([7, 8, 26], (64, 128)).astype(np.uint8))
        write_offsets(offsets / f"{stem}.mat", rng.randint(-1, 2, (64, 128, 2)).astype(np.int8))
    (base / "notes.txt").write_text("not a checkpoint\n")
    return {"base": base, "preds": preds, "offsets": offsets,
            "ckpts": {"segmentation": make_checkpoint(base / "tiny.ckpt"),
                      "segfix": make_checkpoint(base / "segfix.ckpt", kind="segfix")}}


_NUMBERS = itertools.count()


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def check(tool: str, options: list[tuple[str, object]], world: dict, synthetic_root: Path, server) -> None:
    case = Path(os.path.realpath(world["base"])) / f"case{next(_NUMBERS)}"
    case.mkdir()
    (case / "notes.txt").write_text("not a checkpoint\n")
    logs = case / "console"
    logs.mkdir()
    args = [*tool_args(tool, case, synthetic_root, world["ckpts"], world["preds"], world["offsets"]),
            *(f"{key}={override(value)}" for key, value in options)]
    rc, stderr = server.run(FUNCTIONS[tool], args, case, logs)
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert rc in (0, 2), (args, stderr[-3000:])
    assert "Traceback" not in stderr, (args, stderr[-3000:])
    if rc == 2:
        assert len(errors) == 1, (args, stderr[-3000:])
        assert stderr.split(errors[0], 1)[1].strip() == "", (args, stderr[-3000:])  # the last line, whole
        assert _files(case / "out") == [], (args, errors)   # refused: no partial output
    else:
        assert errors == [], (args, stderr[-3000:])



def _settings(tool: str):
    return settings(max_examples=EXAMPLES[tool] * SCALE, deadline=None, database=None, derandomize=SCALE == 1,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


@pytest.mark.parametrize("tool", sorted(EXAMPLES))
def test_any_option_values_succeed_or_give_one_error_line(tool, world, synthetic_root, cli_server):
    @_settings(tool)
    @given(drawn(tool))
    def run(options):
        check(tool, options, world, synthetic_root, cli_server)

    run()
