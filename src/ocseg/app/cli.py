"""The command-line tools: one Hydra app per tool, and one-line errors for what a user can fix.

Every tool is built the same way: :func:`hydra_app` runs the primary config ``conf/<name>.yaml``
and hands the composed config to a task function (``ocseg.tasks.<tool>``), which is imported only
after Hydra has handled ``--help``/``--cfg``, so those answer without loading torch or Lightning.
The console scripts (``ocseg-train`` …, ``pyproject.toml``) and the repository's ``train.py`` …
shims call the functions at the bottom. A problem the user can fix (:class:`OcsegError`, a bad
config key) ends as one line ``error: <message>`` on stderr with exit code 2, never a traceback.

A command line Hydra cannot compose (an unknown ``model=``, a misspelt key, bad override syntax)
is reported the same way, with the choices or the fix (:func:`composition_message`), and so is an
option whose value the tool does not accept (:mod:`ocseg.app.validation`, checked before Hydra
creates the run folder).

``ocseg-eval``, ``ocseg-predict-offsets`` and ``ocseg-export`` complete their command line from an
ocseg checkpoint or a ``zoo:<name>`` before Hydra composes it
(:func:`ocseg.checkpoints.identity.complete_from_checkpoint`), ``ckpt_path=last`` (eval,
predict_offsets) first becoming the newest training run's ``last.ckpt`` (:mod:`ocseg.app.last_run`);
a checkpoint file that does not exist is refused there, by the rule of the tool's schema, before
torch is imported (:mod:`ocseg.app.arguments`). A file read there is handed to the task, which
then does not read it again.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import sys
from typing import Any, Callable

from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from ocseg.app.console import error_line, exit_with_error
from ocseg.compat import hydra_errors_raised, raised_by_hydra, spawned_error_message, worker_error_message
from ocseg.errors import OcsegError

__all__ = ["run_task", "user_message", "composition_message", "hydra_app", "train", "evaluate", "predict_offsets",
           "refine", "prepare", "segfix_ground_truth", "export"]


def _chain(exc: BaseException | None):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _ocseg_text(exc: OcsegError) -> str:
    # re-raised from a DataLoader worker, the exception carries the worker's whole traceback
    return worker_error_message(exc) or str(exc).strip()


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
        spawned = spawned_error_message(item, OcsegError)
        if spawned is not None:
            return spawned
    for item in chain:
        # Lightning's own "this Trainer setting does not work here" (accelerator=gpu without one)
        if type(item).__name__ == "MisconfigurationException" and type(item).__module__.startswith("lightning"):
            return (f"trainer configuration error: {str(item).strip().splitlines()[0]} (check trainer.accelerator, "
                    "trainer.devices and trainer.precision for this machine)")
        if isinstance(item, MissingMandatoryValue):
            key = getattr(item, "full_key", None) or "the key"
            return f"configuration error: {str(item).splitlines()[0]}; pass {key}=<value>"
        if isinstance(item, OmegaConfBaseException):
            return (f"configuration error: {str(item).splitlines()[0]} "
                    "(check the key; --cfg job prints every key)")
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
    if isinstance(exc, (ValueError, TypeError)) and raised_by_hydra(exc):
        # a value Hydra's defaults list cannot take (``data=null``: use ~data to drop a group)
        return f"configuration error: {str(exc).splitlines()[0]} (see --help for the options)"
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
        from ocseg.app.failed_run import record_failure

        record_failure(message)   # the run log says why; an empty run folder is removed
        if _in_multirun():
            print(error_line(message), file=sys.stderr, flush=True)
            raise
        exit_with_error(message)


def _function(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _is_job_override(arg: str) -> bool:
    """``key=value`` (also ``+key=``, ``~key``) for the tool's config, not ``hydra.*``."""
    if arg.startswith("-") or not ("=" in arg or arg.startswith("~")):
        return False
    key = arg.lstrip("+~").split("=", 1)[0]
    return key != "hydra" and not key.startswith("hydra.")


def hydra_app(config_name: str, task: str,
              complete: Callable[[list[str]], tuple[list[str], dict[str, Any]]] | None = None) -> Any:
    """Run the tool whose config is ``conf/<config_name>.yaml`` and whose work is ``task``
    (``"package.module:function"``) on the command line in ``sys.argv``, first completed by
    ``complete`` (``args -> (args, task keyword arguments)``) when given; the keyword arguments the
    task takes reach it in a single run (a sweep's jobs read for themselves). The options are
    checked (its schema in :mod:`ocseg.app.schemas`) before the run folder is created."""
    if "--help" in sys.argv[1:] or "-h" in sys.argv[1:]:
        # Hydra's own --help takes seconds to list the groups; a per-tool text, without Hydra
        from ocseg.app.tool_help import help_text

        print(help_text(config_name))
        return None

    import hydra

    from ocseg.app.arguments import renamed
    from ocseg.config import config_dir

    extra: dict[str, Any] = {}
    args = renamed(config_name, sys.argv[1:])
    if "--hydra-help" in args:
        # Hydra's own help composes only Hydra's config: a tool's key (ckpt_path=…) would stop it
        # with a traceback; nor is the checkpoint read (it answers without importing torch)
        args = [a for a in args if not _is_job_override(a)]
    elif complete is not None:
        try:
            args, extra = complete(args)
        except OcsegError as exc:
            exit_with_error(user_message(exc) or str(exc))
    sys.argv[1:] = args

    def app(cfg: DictConfig) -> Any:
        from ocseg.app.console import lightning_to_run_log
        from ocseg.app.validation import validate

        if _in_multirun():  # a job's own values (a single run was checked before it started)
            run_task(lambda job_cfg: validate(config_name, job_cfg), cfg)
        function = _function(task)  # imports the task's libraries (Lightning for most)
        lightning_to_run_log()
        accepted = {k: v for k, v in extra.items() if k in inspect.signature(function).parameters}
        if accepted and not _in_multirun():
            function = functools.partial(function, **accepted)
        return run_task(function, cfg)

    try:
        with hydra_errors_raised():
            return hydra.main(config_path=str(config_dir()), config_name=config_name,
                              version_base="1.3")(app)()
    except Exception as exc:  # noqa: BLE001 - classified below, real bugs re-raised
        # a command line Hydra could not compose, a refused option (ocseg.app.validation) or the
        # user error that failed a multirun's job; anything else keeps its traceback
        message = composition_message(exc) or user_message(exc)
        if message is None:
            raise
        exit_with_error(message)


def _segmentation_checkpoint(args: list[str]) -> tuple[list[str], dict[str, Any]]:
    from ocseg.app.arguments import from_checkpoint

    return from_checkpoint(args, "eval", last_of="segmentation", recipe=True)


def _segfix_checkpoint(args: list[str]) -> tuple[list[str], dict[str, Any]]:
    from ocseg.app.arguments import from_checkpoint

    return from_checkpoint(args, "predict_offsets", last_of="segfix")


def _any_checkpoint(args: list[str]) -> tuple[list[str], dict[str, Any]]:
    from ocseg.app.arguments import from_checkpoint

    return from_checkpoint(args, "export")


def train() -> Any:
    """``ocseg-train``: :func:`ocseg.tasks.train.train_and_score`."""
    return hydra_app("train", "ocseg.tasks.train:train_and_score")


def evaluate() -> Any:
    """``ocseg-eval``: :func:`ocseg.tasks.evaluate.evaluate`."""
    return hydra_app("eval", "ocseg.tasks.evaluate:evaluate", complete=_segmentation_checkpoint)


def predict_offsets() -> Any:
    """``ocseg-predict-offsets``: :func:`ocseg.tasks.predict_offsets.predict_offsets`."""
    return hydra_app("predict_offsets", "ocseg.tasks.predict_offsets:predict_offsets",
                     complete=_segfix_checkpoint)


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
    return hydra_app("export", "ocseg.tasks.export:export", complete=_any_checkpoint)


def segfix_ground_truth() -> Any:
    """``ocseg-segfix-gt``: :func:`ocseg.segfix.ground_truth.run.run`."""
    return hydra_app("segfix_ground_truth", "ocseg.segfix.ground_truth.run:run")
