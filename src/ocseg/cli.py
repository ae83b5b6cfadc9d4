"""The command-line tools: one Hydra app per tool, and one-line errors for what a user can fix.

Every tool is built the same way: :func:`hydra_app` runs the primary config ``conf/<name>.yaml``
and hands the composed config to a task function (``ocseg.tasks.<tool>``), which is imported only
after Hydra has handled ``--help``/``--cfg``, so those answer without loading torch or Lightning.
The console scripts (``ocseg-train`` …, ``pyproject.toml``) and the repository's ``train.py`` …
shims call the functions at the bottom. A problem the user can fix (:class:`OcsegError`, a bad
config key) ends as one line ``error: <message>`` on stderr with exit code 2, never a traceback.

``ocseg-eval`` and ``ocseg-predict-offsets`` complete their command line from an ocseg
checkpoint: when ``ckpt_path=`` names one and the command line gives no ``model=``,
``dataset=`` or ``experiment=``, the checkpoint's own ``model=`` / ``dataset=`` are added before
Hydra composes, so the run's config (and ``.hydra/overrides.yaml``) says what was used and
``dataset.root=`` applies to the checkpoint's dataset. Given ones are checked against the file
by the task.
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import Any, Callable, Sequence

from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from ocseg.errors import OcsegError

__all__ = ["run_task", "user_message", "hydra_app", "checkpoint_overrides", "train", "evaluate",
           "predict_offsets", "refine", "prepare", "segfix_ground_truth"]

EXIT_USER_ERROR = 2


def _chain(exc: BaseException | None):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _ocseg_text(exc: OcsegError) -> str:
    text = str(exc).strip()
    if "Traceback" in text:  # re-raised from a DataLoader worker: the message is the last line
        last = [ln for ln in text.splitlines() if ln.strip()][-1]
        text = last.split(f"{type(exc).__name__}: ", 1)[-1]
    return text


def user_message(exc: BaseException) -> str | None:
    """The one-line message for an exception a user can fix, or None for a real bug.

    An :class:`OcsegError` anywhere in the chain wins (Hydra and OmegaConf wrap errors raised
    while instantiating or resolving); a bare configuration error comes next.
    """
    chain = list(_chain(exc))
    for item in chain:
        if isinstance(item, OcsegError):
            return _ocseg_text(item)
    for item in chain:
        if isinstance(item, OmegaConfBaseException):
            return (f"configuration error: {str(item).splitlines()[0]} "
                    "(check the key or add it with +key=value)")
    return None


def run_task(task: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run ``task(cfg)``; a user-facing error becomes ``error: <message>`` and exit code 2."""
    try:
        return task(cfg)
    except Exception as exc:  # noqa: BLE001 - classified below, real bugs re-raised
        message = user_message(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr, flush=True)
        sys.exit(EXIT_USER_ERROR)


_OVERRIDE = re.compile(r"^[+~]{0,2}([\w.]+)=(.*)$")
_HELP = ("--help", "-h", "--hydra-help")


def checkpoint_overrides(args: Sequence[str]) -> list[str]:
    """``args`` plus ``model=`` / ``dataset=`` of the ocseg checkpoint in ``ckpt_path=``, for
    each of the two the command line does not give (nothing when it gives ``experiment=``, which
    chooses both, or when the file is not a readable ocseg checkpoint: the task reports that)."""
    values = {m.group(1): m.group(2).strip("'\"") for m in map(_OVERRIDE.match, args) if m}
    path = values.get("ckpt_path", "")
    if any(a in _HELP for a in args) or "experiment" in values or not path or "," in path:
        return list(args)
    missing = [group for group in ("model", "dataset") if group not in values]
    if not missing:
        return list(args)
    from ocseg.checkpoints.files import read_checkpoint
    from ocseg.checkpoints.identity import checkpoint_choices

    try:
        obj = read_checkpoint(path, trust=values.get("trust_checkpoint", "").lower() == "true")
    except OcsegError:
        return list(args)
    choices = checkpoint_choices(obj)
    return list(args) + [f"{group}={choices[group]}" for group in missing if group in choices]


def hydra_app(config_name: str, task: str, from_checkpoint: bool = False) -> Any:
    """Run the tool whose config is ``conf/<config_name>.yaml`` and whose work is ``task``
    (``"package.module:function"``) on the command line in ``sys.argv`` (first completed by
    :func:`checkpoint_overrides` with ``from_checkpoint``)."""
    import hydra

    from ocseg.config import config_dir

    if from_checkpoint:
        sys.argv[1:] = checkpoint_overrides(sys.argv[1:])

    def app(cfg: DictConfig) -> Any:
        module, _, name = task.partition(":")
        return run_task(getattr(importlib.import_module(module), name), cfg)

    return hydra.main(config_path=str(config_dir()), config_name=config_name,
                      version_base="1.3")(app)()


def train() -> Any:
    """``ocseg-train``: :func:`ocseg.tasks.train.train_and_score`."""
    return hydra_app("train", "ocseg.tasks.train:train_and_score")


def evaluate() -> Any:
    """``ocseg-eval``: :func:`ocseg.tasks.evaluate.evaluate`."""
    return hydra_app("eval", "ocseg.tasks.evaluate:evaluate", from_checkpoint=True)


def predict_offsets() -> Any:
    """``ocseg-predict-offsets``: :func:`ocseg.tasks.predict_offsets.predict_offsets`."""
    return hydra_app("predict_offsets", "ocseg.tasks.predict_offsets:predict_offsets",
                     from_checkpoint=True)


def refine() -> Any:
    """``ocseg-refine``: :func:`ocseg.tasks.refine.refine`."""
    return hydra_app("refine", "ocseg.tasks.refine:refine")


def prepare() -> Any:
    """``ocseg-prepare``: :func:`ocseg.data.prepare.run.prepare`."""
    return hydra_app("prepare", "ocseg.data.prepare.run:prepare")


def segfix_ground_truth() -> Any:
    """``ocseg-segfix-gt``: :func:`ocseg.segfix.ground_truth.run`."""
    return hydra_app("segfix_ground_truth", "ocseg.segfix.ground_truth:run")
