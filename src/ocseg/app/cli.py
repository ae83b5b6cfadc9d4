"""The command-line tools: one Hydra app per tool, and one-line errors for what a user can fix.

Every tool is built the same way: :func:`hydra_app` runs the primary config ``conf/<name>.yaml``
and hands the composed config to a task function (``ocseg.tasks.<tool>``), which is imported only
after Hydra has handled ``--help``/``--cfg``, so those answer without loading torch or Lightning.
The console scripts (``ocseg-train`` …, ``pyproject.toml``) and the repository's ``train.py`` …
shims call the functions at the bottom. A problem the user can fix (:class:`OcsegError`, a bad
config key) ends as one line ``error: <message>`` on stderr with exit code 2, never a traceback.

A command line Hydra cannot compose (an unknown ``model=``, a misspelt key, bad override syntax)
is reported the same way, with the choices or the fix (:func:`composition_message`).

``ocseg-eval``, ``ocseg-predict-offsets`` and ``ocseg-export`` complete their command line from an
ocseg checkpoint or a ``zoo:<name>`` before Hydra composes it
(:func:`ocseg.checkpoints.identity.checkpoint_overrides`).
"""

from __future__ import annotations

import importlib
import re
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from ocseg.errors import OcsegError

__all__ = ["run_task", "user_message", "composition_message", "hydra_app", "train", "evaluate", "predict_offsets",
           "refine", "prepare", "segfix_ground_truth", "export"]

EXIT_USER_ERROR = 2
# model=/dataset= of an ocseg checkpoint added to the command line (predict_offsets, export);
# eval takes a zoo:<name>'s experiment= (the row's recipe and test protocol) instead
_FROM_CHECKPOINT = "ocseg.checkpoints.identity:checkpoint_overrides"
_FROM_CHECKPOINT_OR_RECIPE = "ocseg.checkpoints.identity:recipe_overrides"


_SPAWNED_ERROR = f"{OcsegError.__module__}.{OcsegError.__name__}: "


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
    for item in chain:  # raised in a ddp_spawn worker: torch re-raises only its traceback text
        if type(item).__name__ == "ProcessRaisedException" and _SPAWNED_ERROR in str(item):
            return str(item).rsplit(_SPAWNED_ERROR, 1)[1].strip().splitlines()[0]
    for item in chain:
        if isinstance(item, OmegaConfBaseException):
            return (f"configuration error: {str(item).splitlines()[0]} "
                    "(check the key or add it with +key=value)")
    return None


def composition_message(exc: BaseException) -> str | None:
    """The one-line message for a command line Hydra could not compose, or None for anything
    else: an unknown option lists the choices, an unknown key says how to add one."""
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
        SearchPathException,
    )

    if isinstance(exc, MissingConfigException) and exc.options and exc.missing_cfg_file:
        group, _, name = str(exc.missing_cfg_file).rpartition("/")
        if group:
            return (f"{group}={name} is not an option of '{group}'; use {group}= one of: "
                    f"{', '.join(sorted(exc.options))}")
    if not isinstance(exc, (ConfigCompositionException, OverrideParseException,
                            SearchPathException)):
        return None
    text = str(exc)
    added = re.search(r"To append to your config use (\+\S+)", text)
    override = re.search(r"Could not override '([^']+)'", text)
    if added and override:
        return (f"unknown config key '{override.group(1)}'; check its spelling (--cfg job prints "
                f"every key), or add it as a new key with {added.group(1)}")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if isinstance(exc.__cause__, OmegaConfBaseException):
        lines.append(str(exc.__cause__).splitlines()[0])
    keep = [ln for ln in lines if not ln.startswith(("full_key:", "object_type", "Set the environment",
                                                      "Config search path", "provider="))]
    return "configuration error: " + "; ".join(keep) + " (see --help for the options)"


@contextmanager
def _one_line_composition_errors() -> Iterator[None]:
    """Hydra prints composition errors itself (several lines, exit code 1) from
    ``hydra._internal.utils.run_and_report``; while a tool starts, that reporter is wrapped so
    they end as one ``error:`` line and exit code 2 like every other user error. Anything else
    (a real bug) keeps Hydra's report."""
    from hydra._internal import utils as hydra_utils

    original = hydra_utils.run_and_report

    def report(func: Callable[[], Any]) -> Any:
        def guarded() -> Any:
            try:
                return func()
            except Exception as exc:  # noqa: BLE001 - classified, everything else re-raised
                message = composition_message(exc)
                if message is None:
                    raise
                print(f"error: {message}", file=sys.stderr, flush=True)
                sys.exit(EXIT_USER_ERROR)
        return original(guarded)

    hydra_utils.run_and_report = report
    try:
        yield
    finally:
        hydra_utils.run_and_report = original


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def run_task(task: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run ``task(cfg)``; a user-facing error becomes ``error: <message>`` and exit code 2. In a
    multirun the error is raised after its line, so the sweep records that job as failed and
    goes on with the others (an exit would end the whole sweep)."""
    try:
        return task(cfg)
    except Exception as exc:  # noqa: BLE001 - classified below, real bugs re-raised
        message = user_message(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr, flush=True)
        from ocseg.app.failed_run import record_failure

        record_failure(message)   # the run log says why; an empty run folder is removed
        if _in_multirun():
            raise
        sys.exit(EXIT_USER_ERROR)


def _function(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _is_job_override(arg: str) -> bool:
    """``key=value`` (also ``+key=``, ``~key``) for the tool's config, not ``hydra.*``."""
    if arg.startswith("-") or not ("=" in arg or arg.startswith("~")):
        return False
    key = arg.lstrip("+~").split("=", 1)[0]
    return key != "hydra" and not key.startswith("hydra.")


def hydra_app(config_name: str, task: str, complete: str | None = None) -> Any:
    """Run the tool whose config is ``conf/<config_name>.yaml`` and whose work is ``task``
    (``"package.module:function"``) on the command line in ``sys.argv``, first completed by
    ``complete`` (``"package.module:function"``, ``args -> args``) when given."""
    if "--help" in sys.argv[1:] or "-h" in sys.argv[1:]:
        # Hydra's own --help takes seconds to list the groups; the same text, without Hydra
        from ocseg.app.tool_help import help_text

        print(help_text(config_name))
        return None

    import hydra

    from ocseg.config import config_dir

    if "--hydra-help" in sys.argv[1:]:
        # Hydra's own help composes only Hydra's config: a tool's key (ckpt_path=…) would stop it
        # with a traceback; nor is the checkpoint read (it answers without importing torch)
        sys.argv[1:] = [a for a in sys.argv[1:] if not _is_job_override(a)]
    elif complete is not None:
        sys.argv[1:] = _function(complete)(sys.argv[1:])

    def app(cfg: DictConfig) -> Any:
        from ocseg.app.console import lightning_to_run_log

        function = _function(task)  # imports the task's libraries (Lightning for most)
        lightning_to_run_log()
        return run_task(function, cfg)

    with _one_line_composition_errors():
        return hydra.main(config_path=str(config_dir()), config_name=config_name,
                          version_base="1.3")(app)()


def train() -> Any:
    """``ocseg-train``: :func:`ocseg.tasks.train.train_and_score`."""
    return hydra_app("train", "ocseg.tasks.train:train_and_score")


def evaluate() -> Any:
    """``ocseg-eval``: :func:`ocseg.tasks.evaluate.evaluate`."""
    return hydra_app("eval", "ocseg.tasks.evaluate:evaluate", complete=_FROM_CHECKPOINT_OR_RECIPE)


def predict_offsets() -> Any:
    """``ocseg-predict-offsets``: :func:`ocseg.tasks.predict_offsets.predict_offsets`."""
    return hydra_app("predict_offsets", "ocseg.tasks.predict_offsets:predict_offsets",
                     complete=_FROM_CHECKPOINT)


def refine() -> Any:
    """``ocseg-refine``: :func:`ocseg.tasks.refine.refine`."""
    return hydra_app("refine", "ocseg.tasks.refine:refine")


def prepare() -> Any:
    """``ocseg-prepare``: :func:`ocseg.data.prepare.run.prepare`; a first bare word is taken as
    the dataset (``ocseg-prepare lip raw_dir=…`` is ``ocseg-prepare dataset=lip raw_dir=…``)."""
    if len(sys.argv) > 1 and "=" not in sys.argv[1] and not sys.argv[1].startswith("-"):
        sys.argv[1] = f"dataset={sys.argv[1]}"
    return hydra_app("prepare", "ocseg.data.prepare.run:prepare")


def export() -> Any:
    """``ocseg-export``: :func:`ocseg.tasks.export.export`."""
    return hydra_app("export", "ocseg.tasks.export:export", complete=_FROM_CHECKPOINT)


def segfix_ground_truth() -> Any:
    """``ocseg-segfix-gt``: :func:`ocseg.segfix.ground_truth.run.run`."""
    return hydra_app("segfix_ground_truth", "ocseg.segfix.ground_truth.run:run")
