"""A tool's command line rewritten before Hydra composes it: old spellings of renamed keys, and
for the tools that read a trained network, ``ckpt_path=last`` and the checkpoint's own
``model=``/``dataset=``.

Renamed keys keep working with one warning line (:data:`RENAMED`): the data loader's workers and
batch are ``data.num_workers``/``data.batch_size`` in every tool since train, eval and
predict_offsets share one spelling. A checkpoint that does not exist is refused before Hydra
composes the command line (by the rule of the tool's schema that the option check applies
later), so the error comes in a fraction of a second rather than after importing torch.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

from ocseg.app.last_run import given, resolve_last
from ocseg.app.schemas import SCHEMAS
from ocseg.app.validation import OptionError

__all__ = ["RENAMED", "renamed", "from_checkpoint"]

#: per tool (primary config name): old key → the key every tool now uses
RENAMED: dict[str, dict[str, str]] = {
    "eval": {"num_workers": "data.num_workers", "batch_size": "data.batch_size"},
    "predict_offsets": {"num_workers": "data.num_workers"},
}


def renamed(config_name: str, args: Sequence[str]) -> list[str]:
    """``args`` with the old spelling of each renamed key of the tool replaced (``num_workers=0``
    → ``data.num_workers=0``; also ``+``/``~`` forms), one warning line per old key used."""
    renames = RENAMED.get(config_name, {})
    out = []
    for arg in args:
        body = arg.lstrip("+~")
        key, eq, value = body.partition("=")
        if key in renames:
            print(f"warning: {key}= is now {renames[key]}= (one spelling in every tool); the old "
                  "spelling will be removed in a later release", file=sys.stderr, flush=True)
            arg = f"{arg[:len(arg) - len(body)]}{renames[key]}{eq}{value}"
        out.append(arg)
    return out


def from_checkpoint(args: Sequence[str], tool: str, last_of: str | None = None,
                    recipe: bool = False) -> tuple[list[str], dict[str, Any]]:
    """``args`` of ``tool`` (its primary config name) with ``ckpt_path=last`` resolved to the newest
    training run of ``last_of`` (``"segmentation"`` or ``"segfix"``; None: no ``last`` for this
    tool) and the ``model=``/``dataset=`` of the ocseg checkpoint added where not given, or for
    ``zoo:<name>`` its ``experiment=`` when ``recipe``
    (:func:`ocseg.checkpoints.identity.complete_from_checkpoint`), with the task's keyword
    arguments (the checkpoint read here: the task does not read it again). A ``ckpt_path=`` that
    the tool's schema refuses is refused here already, before Hydra composes and torch is imported
    (:class:`~ocseg.app.validation.OptionError`); a sweep (``a,b``) or an interpolation is left
    to the option check of each job and to the task."""
    if last_of is not None:
        args = resolve_last(args, segfix=last_of == "segfix")
    path = given(args, "ckpt_path")
    if not path or path == "null" or "," in path or "${" in path:
        return list(args), {}
    problem = SCHEMAS[tool]["ckpt_path"].problem(path)
    if problem is not None:
        raise OptionError(f"ckpt_path={path}: {problem}")
    from ocseg.checkpoints.identity import complete_from_checkpoint  # torch

    return complete_from_checkpoint(args, recipe=recipe)
