"""Every option of a tool checked before any work starts: one line naming the key, its value and
what it accepts.

Why a small validation layer and not Hydra/OmegaConf structured configs: OmegaConf checks a
field's type when a value is merged, but not ranges (``batch_size=0``, ``test.scales=[]``), globs
or files; its enum fields turn a value into a Python ``Enum`` member, which every task, the
checkpoint's stored config and ``metrics.json`` would then see instead of the string; and a
schema for the composed config would have to type every group a tool composes (the Lightning
Trainer's keys, each dataset's), where ocseg only needs to check the keys a user sets. So each
tool has a table of :class:`ocseg.app.rules.Rule` (:mod:`ocseg.app.schemas`), checked here on the
config Hydra composed, and printed by ``--help``; the values the tasks see stay as Hydra parsed
them.

:class:`ValidateOptions` is a Hydra callback (``conf/hydra/default.yaml``): Hydra calls it after
composing and before it creates the run folder, so a refused option leaves nothing behind: it prints
``error: <key>=<value>: <allowed>`` and exits with code 2. In a multirun each job is checked again with its own values
(:func:`validate`, from the job), so one bad value fails that job, not the sweep.
"""

from __future__ import annotations

import re
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ocseg.app.console import exit_with_error
from ocseg.app.rules import show
from ocseg.app.schemas import ALIASES, SCHEMAS
from ocseg.errors import OcsegError

__all__ = ["OptionError", "validate", "ValidateOptions"]

_ABSENT = object()


class OptionError(OcsegError):
    """An option whose value the tool does not accept: ``<key>=<value>: <allowed values>``."""


def _required(node: DictConfig, prefix: str = "") -> list[str]:
    """The keys still ``???`` (mandatory and not given) under ``node``; Hydra's own node, and
    interpolations (checked where they point), are not followed."""
    keys = []
    for key in (str(k) for k in node):
        if not prefix and key == "hydra":
            continue
        try:
            if OmegaConf.is_missing(node, key):
                keys.append(prefix + key)
            elif not OmegaConf.is_interpolation(node, key) and isinstance(node[key], DictConfig):
                keys.extend(_required(node[key], f"{prefix}{key}."))
        except OmegaConfBaseException:
            continue
    return keys


def _aliased(cfg: DictConfig, key: str, schema: dict) -> str | None:
    """The option to ask for when the mandatory ``key`` is missing: ``key`` itself, or the option
    it stands for (:data:`ALIASES`), or None when that option was given its own value or the
    tool has no such option."""
    option = ALIASES.get(key)
    if option is None:
        return key
    if option not in schema:
        return None
    raw = _raw(cfg, option)
    pointing = raw is not None and key in raw
    return option if pointing else None


def _raw(cfg: DictConfig, key: str) -> str | None:
    """The interpolation ``key`` holds, unresolved (``"${paths.output_dir}"``), else None."""
    parent, _, leaf = key.rpartition(".")
    try:
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if not isinstance(node, DictConfig) or leaf not in node or not OmegaConf.is_interpolation(node, leaf):
            return None
        return str(OmegaConf.to_container(OmegaConf.masked_copy(node, [leaf]), resolve=False)[leaf])
    except OmegaConfBaseException:
        return None


def _value(cfg: DictConfig, key: str) -> Any:
    """The resolved value of ``key``, or ``_ABSENT`` when the config has no such key or it cannot
    be resolved yet (``${hydra:runtime.output_dir}`` before the run starts; a broken
    interpolation is reported when the task reads it). A node is returned as its DictConfig."""
    seen = set()
    raw = _raw(cfg, key)
    while raw is not None and key not in seen:
        # a value known only once the run starts (``${hydra:runtime.output_dir}``, which reads
        # None, not an error, whenever Hydra's config of an earlier run is still set)
        if raw.startswith("${hydra:"):
            return _ABSENT
        target = re.fullmatch(r"\$\{([\w.]+)\}", raw)
        if target is None:
            break
        seen.add(key)
        key = target.group(1)
        raw = _raw(cfg, key)
    try:
        value = OmegaConf.select(cfg, key, default=_ABSENT, throw_on_missing=True)
    except OmegaConfBaseException:
        return _ABSENT
    return value


def validate(tool: str | None, cfg: DictConfig) -> None:
    """Raise :class:`OptionError` for what ``cfg`` lacks or sets wrongly, the first problem only:
    a config group the tool needs (``dataset=`` of ocseg-prepare), the mandatory keys (``???``) not
    given, then each option of ``tool``'s schema in its order. A tool without a schema gets the
    mandatory-key check alone."""
    schema = SCHEMAS.get(tool or "", {})
    for key, rule in schema.items():
        if rule.kind == "group" and not isinstance(_value(cfg, key), DictConfig):
            raise OptionError(f"{key}=null: {rule.allowed(cfg)}")
    missing = [_aliased(cfg, key, schema) for key in _required(cfg)]
    missing = [key for key in missing if key is not None]
    if missing:
        given = " ".join(f"{k}=<value>" for k in missing)
        raise OptionError(f"{', '.join(f'{k}=???' for k in missing)}: required; pass {given} "
                          "(--help says what each is)")
    for key, rule in schema.items():
        value = _value(cfg, key)
        if value is _ABSENT or rule.kind == "group":
            continue
        problem = rule.problem(value, cfg)
        if problem is not None:
            raise OptionError(f"{key}={show(value)}: {problem}")


class ValidateOptions(Callback):
    """Checks the composed config of a run (and a multirun's shared one) before Hydra starts it.

    Hydra turns an exception raised in a callback into a warning and goes on; a refused option
    therefore ends the tool here (``error:`` line, exit code 2: :func:`exit_with_error`)."""

    def _check(self, config: DictConfig, config_name: str | None) -> None:
        try:
            validate(config_name, config)
        except OptionError as exc:
            exit_with_error(str(exc))

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, kwargs.get("config_name"))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, kwargs.get("config_name"))
