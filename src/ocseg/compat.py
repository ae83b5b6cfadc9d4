"""Every use of a third-party name or behaviour that is not public API, in one place.

A library upgrade that changes one of these breaks this file, loudly, instead of a user's run
somewhere else: each shim first checks that the library's installed version is one it was
tested with (:func:`require_tested`; outside that range it stops with one :class:`CompatError`
line naming the library, the version found and the pin). ``tests/test_compat.py`` tests each shim
against the installed library. One section per library; where a public route exists it is used
and the shim only documents the behaviour it relies on. A private name (a leading underscore) is
resolved once, when ocseg imports it (:func:`private_name`): a library that lost it fails here,
in one line naming the name and the versions, not at a user's resume or evaluation.

What moved out of the code to public routes instead:

- **Lightning**: none left. ``last.ckpt`` is written by ``ModelCheckpoint(save_last=True,
  every_n_train_steps=…)`` and :class:`~ocseg.lightning.LastCheckpoint` (an
  ``OnExceptionCheckpoint``) through public hooks and ``Trainer.save_checkpoint``; the atomic
  writer tells local paths apart itself (:mod:`ocseg.lightning.checkpoint_io`).
- **torch**: BatchNorm layers of any dimension are the public classes of
  :data:`ocseg.models.layers.norm_act.BATCH_NORMS` (not ``nn.modules.batchnorm._BatchNorm``);
  BN folding traces with the public ``torch.overrides.TorchFunctionMode``.
- **Hydra**: ``HYDRA_FULL_ERROR`` instead of patching ``run_and_report``; ``GlobalHydra``'s public
  methods instead of its backup helpers.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import re
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from ocseg.errors import OcsegError

__all__ = ["CompatError", "TESTED", "require_tested", "private_name", "NUMPY_SCALAR", "hydra_errors_raised",
           "raised_by_hydra", "compose_apart", "job_outcome", "worker_error_message", "spawned_error_message"]


class CompatError(OcsegError):
    """An installed library outside the versions a shim of this module was tested with."""


#: library → (lowest version accepted, first version not accepted, the pin in pyproject.toml):
#: the release series of the pin, which the shims were tested with
TESTED: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = {
    "hydra-core": ((1, 3), (1, 4), "1.3.8"),
    "torch": ((2, 13), (2, 14), "2.13.0"),
    "numpy": ((2, 0), (2, 4), "2.3.5"),
}


def _release(version: str) -> tuple[int, ...]:
    """``"2.13.0+cpu"`` → ``(2, 13, 0)``; ``"1.4.0.dev1"`` → ``(1, 4, 0)``."""
    match = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


@functools.cache
def _installed(dist: str) -> str:
    return importlib.metadata.version(dist)


def require_tested(dist: str, shim: str, version: str | None = None) -> None:
    """Raise :class:`CompatError` unless ``dist`` (installed, or ``version``) is in :data:`TESTED`."""
    low, high, pin = TESTED[dist]
    found = version or _installed(dist)
    if not low <= _release(found) < high:
        tested = f"{'.'.join(map(str, low))} to below {'.'.join(map(str, high))}"
        raise CompatError(f"{shim} (ocseg.compat) was tested with {dist} {tested}, but {found} is "
                          f"installed; install {dist}=={pin} (pyproject.toml pins it) or update "
                          "ocseg/compat.py for this version")


def private_name(dotted: str, dist: str) -> Any:
    """The object at ``dotted`` (``"numpy._core.multiarray.scalar"``), or one :class:`CompatError`
    naming it, the installed version of ``dist`` and the pin."""
    module, _, attr = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        pin = TESTED[dist][2]
        raise CompatError(f"{dist} {_installed(dist)} has no {dotted} (ocseg.compat was tested with "
                          f"{dist} {pin}); install {dist}=={pin} (pyproject.toml pins it) or update "
                          "ocseg/compat.py for this version") from None


# ---- numpy ---------------------------------------------------------------------------------
#: How a pickled numpy scalar is rebuilt (the original's checkpoints hold one in
#: ``config_dict["performance"]``): ``torch.load(weights_only=True)`` must be allowed this exact
#: global, and numpy 2 has no public name for it (torch's own docs allow-list it the same way).
NUMPY_SCALAR = private_name("numpy._core.multiarray.scalar", "numpy")


# ---- Hydra ---------------------------------------------------------------------------------
@contextmanager
def hydra_errors_raised() -> Iterator[None]:
    """While inside, an exception in ``hydra.main`` (a composition error, a failing callback)
    reaches the caller instead of Hydra's multi-line report and exit code 1.

    Public route: Hydra's documented ``HYDRA_FULL_ERROR=1`` makes its reporter re-raise (its
    ``run_and_report`` reads the variable at the time of the error). The previous value is put
    back on exit. Child processes started meanwhile inherit it; they are ocseg tools too."""
    require_tested("hydra-core", "hydra_errors_raised")
    before = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = before


def raised_by_hydra(exc: BaseException) -> bool:
    """Whether ``exc`` was raised by Hydra's own code (composing the command line: ``data=null``
    is a ValueError of its defaults list), not by code Hydra called (a task, a target it
    instantiated): the innermost frame of its traceback is in Hydra's private ``hydra._internal``
    package."""
    require_tested("hydra-core", "raised_by_hydra")
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and str(tb.tb_frame.f_globals.get("__name__", "")).startswith("hydra._internal")


def compose_apart(config_dir: str, config_name: str, overrides: Sequence[str] = ()) -> Any:
    """Compose ``config_name`` from ``config_dir`` with Hydra's compose API, also inside a running
    Hydra app (a tool composing the network of a checkpoint, a user's own app calling
    ``ocseg.build_model``): the app's global Hydra is set aside and put back afterwards.

    Uses ``GlobalHydra``'s public methods (``hydra``, ``clear``, ``initialize``) instead of
    ``hydra.initialize``'s undocumented ``get_gh_backup``/``restore_gh_from_backup``."""
    require_tested("hydra-core", "compose_apart")
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    running = GlobalHydra.instance().hydra
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
            return compose(config_name=config_name, overrides=list(overrides))
    finally:
        GlobalHydra.instance().clear()
        if running is not None:
            GlobalHydra.instance().initialize(running)


def job_outcome(job_return: Any) -> tuple[str, Any]:
    """``(status name, value)`` of a Hydra ``JobReturn``: what a completed job's task returned, or
    the exception a failed job raised. The public ``return_value`` re-raises a failed job's
    exception and writes "Error executing job" to stderr first, so the stored value is read from
    the private ``_return_value`` (hydra/core/utils.py, ``JobReturn``)."""
    require_tested("hydra-core", "job_outcome")
    status = getattr(job_return.status, "name", str(job_return.status))
    return status, job_return._return_value


# ---- torch ---------------------------------------------------------------------------------
def worker_error_message(exc: BaseException) -> str | None:
    """The original one-line message of an exception re-raised from a DataLoader worker, else None.

    torch re-raises a worker's exception in the main process as the same type built from one
    text, ``"Caught <Type> in DataLoader worker process <n>.\\nOriginal Traceback ..."`` whose
    last line is ``<module>.<Type>: <message>`` (``torch._utils.ExceptionWrapper.reraise``); the
    original object does not cross the process boundary, so the message is read back from that
    text, recognised by its first line."""
    text = str(exc)
    name = type(exc).__name__
    if not text.startswith(f"Caught {name} ") or "\nOriginal Traceback" not in text:
        return None
    require_tested("torch", "worker_error_message")
    last = [line for line in text.splitlines() if line.strip()][-1]
    prefix = f"{type(exc).__module__}.{type(exc).__qualname__}: "
    return last[len(prefix):] if last.startswith(prefix) else last.split(f"{name}: ", 1)[-1]


def spawned_error_message(exc: BaseException, error_type: type) -> str | None:
    """The one-line message of an ``error_type`` raised in a process that torch.multiprocessing
    started (``strategy=ddp_spawn``), else None.

    torch re-raises a spawned process's exception in the parent as ``ProcessRaisedException``,
    whose text is the child's traceback (``torch/multiprocessing/spawn.py``); its last
    ``<module>.<Type>: <message>`` line holds the message."""
    if type(exc).__name__ != "ProcessRaisedException":
        return None
    marker = f"{error_type.__module__}.{error_type.__name__}: "
    text = str(exc)
    if marker not in text:
        return None
    require_tested("torch", "spawned_error_message")
    return text.rsplit(marker, 1)[1].strip().splitlines()[0]
