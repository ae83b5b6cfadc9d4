"""What values one command-line option accepts: a :class:`Rule` decides and says so in words.

A rule is data (its kind, bounds, choices), so the same object checks a value
(:meth:`Rule.problem`), describes the allowed values in an error line and in ``--help``
(:attr:`Rule.allowed`), and lets the property tests generate values for the option
(``tests/test_options_properties.py`` reads :attr:`Rule.kind` and its fields). The constructors
at the bottom are what the tools' tables (:mod:`ocseg.app.schemas`) are written with.

Values are checked as Hydra parsed them from the command line: ``batch_size=2`` is an int,
``scale=abc`` a string, ``x=null`` None; a quoted ``'2'`` is a string and refused where an integer
is wanted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig

__all__ = ["Rule", "show", "integer", "count", "positive", "number", "flag", "choice", "text",
           "glob", "existing_file", "sizes", "nonempty_list", "dataset_split", "group"]

_KINDS = ("integer", "number", "flag", "choice", "text", "glob", "file", "list", "split", "any", "group")


def show(value: Any) -> str:
    """A value as it is written on the command line (``null``, ``true``, ``[0.5, 1.0]``, ``''``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, ListConfig)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, str) and (value == "" or not value.isprintable()):
        return repr(value)          # '' and line breaks or tabs visible, on one line
    return str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _fmt(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


@dataclass(frozen=True)
class Rule:
    """The values one option accepts.

    Args:
        kind: one of ``integer``, ``number``, ``flag`` (true/false), ``choice``, ``text``
            (a non-empty string), ``glob`` (a relative pattern), ``file`` (an existing file),
            ``list`` (a non-empty list of ``item``), ``split`` (a split of the run's dataset),
            ``any`` (what one of ``alternatives`` accepts), ``group`` (a config group that must be
            chosen: ``dataset=<name>``).
        low, high: inclusive bounds of an integer or number; ``above``: ``low`` is exclusive.
        choices: the values of a ``choice``.
        nullable: ``null`` is accepted too.
        item, length: a list's item rule and exact length (None: any non-zero length).
        words: strings accepted besides the kind's values (``last``, ``auto``).
        prefixes: strings starting with one of these are accepted too (``zoo:<name>`` of a
            checkpoint; the task checks the name).
        note: said after the allowed values (what null or a word means).
        alternatives: the rules of an ``any``.
        say: the allowed values in words, instead of the words made from the fields.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    above: bool = False
    choices: tuple[Any, ...] = ()
    nullable: bool = False
    item: Rule | None = None
    length: int | None = None
    words: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    note: str = ""
    alternatives: tuple[Rule, ...] = ()
    say: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown rule kind {self.kind!r}; one of {_KINDS}")

    # -- words -------------------------------------------------------------------------------
    def _range(self) -> str:
        low = None if self.low is None else _fmt(self.low)
        high = None if self.high is None else _fmt(self.high)
        if low is not None and high is not None:
            return f"in {'(' if self.above else '['}{low}, {high}]"
        if low is not None:
            return f"{'>' if self.above else '≥'} {low}"
        return "" if high is None else f"≤ {high}"

    def _base(self, cfg: DictConfig | None = None) -> str:
        if self.say:
            return self.say
        if self.kind == "any":
            return " or ".join(a.allowed(cfg) for a in self.alternatives)
        if self.kind == "group":
            return "required: one of " + ", ".join(self.choices)
        bounded = self._range()
        if self.kind in ("integer", "number"):
            noun = "an integer" if self.kind == "integer" else "a number"
            return f"{noun} {bounded}" if bounded else noun
        if self.kind == "flag":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(show(c) for c in self.choices)
        if self.kind == "text":
            return "a non-empty text"
        if self.kind == "glob":
            return "a non-empty pattern relative to the input folder (no leading / or ~, no '..'), e.g. **/*.png"
        if self.kind == "file":
            return "an existing file"
        if self.kind == "split":
            splits = dataset_splits(cfg) if cfg is not None else []
            return "a split of the dataset" + (f": one of {', '.join(splits)}" if splits else "")
        size = f"a list of {self.length} values" if self.length else "a non-empty list"
        return f"{size}, each {self.item._base(cfg)}" if self.item else size

    def allowed(self, cfg: DictConfig | None = None) -> str:
        """The accepted values in words (``"an integer ≥ 1, or null (null: all cores)"``)."""
        extras = [*self.words, *(f"{p}<name>" for p in self.prefixes), *(["null"] if self.nullable else [])]
        listed = f"{', '.join(extras[:-1])} or {extras[-1]}" if len(extras) > 1 else f"or {extras[0]}" if extras else ""
        text = f"{self._base(cfg)}, {listed}" if listed else self._base(cfg)
        return f"{text} ({self.note})" if self.note else text

    # -- checks ------------------------------------------------------------------------------
    def _in_range(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or value <= self.high

    def _accepts(self, value: Any, cfg: DictConfig | None) -> bool:
        kind = self.kind
        if kind == "any":
            return any(a.problem(value, cfg) is None for a in self.alternatives)
        if kind == "group":
            return isinstance(value, DictConfig)
        if kind == "integer":
            return _is_int(value) and self._in_range(value)
        if kind == "number":
            return _is_number(value) and self._in_range(value)
        if kind == "flag":
            return isinstance(value, bool)
        if kind == "choice":
            return any(value == c and type(value) is type(c) for c in self.choices)
        if kind in ("text", "file"):
            return isinstance(value, str) and value.strip() != ""
        if kind == "glob":
            return (isinstance(value, str) and value.strip() != "" and not value.startswith(("/", "~", "\\"))
                    and ".." not in Path(value).parts)
        if kind == "split":
            return isinstance(value, str) and (cfg is None or value in dataset_splits(cfg))
        if not isinstance(value, (list, tuple, ListConfig)) or len(value) == 0:
            return False
        if self.length is not None and len(value) != self.length:
            return False
        return self.item is None or all(self.item._accepts(v, cfg) for v in value)

    def problem(self, value: Any, cfg: DictConfig | None = None) -> str | None:
        """None when ``value`` is accepted, else what is wrong (the allowed values; for a file
        that does not exist, that it does not)."""
        if (value is None and self.nullable) or (isinstance(value, str) and (
                value in self.words or (self.prefixes and value.startswith(self.prefixes)))):
            return None
        if value is None and self.kind in ("text", "file", "glob"):
            return f"required; pass {self.allowed(cfg)}"
        if not self._accepts(value, cfg):
            if self.kind in ("text", "file", "glob") and isinstance(value, (int, float)):
                return (f"{self.allowed(cfg)}; a name that reads as a number or true/false is written "
                        f"in quotes: '{show(value)}'")
            return self.allowed(cfg)
        if self.kind == "file" and not Path(value).expanduser().is_file():
            return f"no such file; pass {self.allowed(cfg)}"
        return None


def dataset_splits(cfg: DictConfig) -> list[str]:
    """The splits the run's dataset config defines (``<split>_set`` factories that are set)."""
    dataset = cfg.get("dataset") if isinstance(cfg, DictConfig) else None
    if not isinstance(dataset, DictConfig):
        return []
    splits = []
    for key in (str(k) for k in dataset):
        try:
            if key.endswith("_set") and dataset.get(key) is not None:
                splits.append(key[:-4])
        except Exception:  # noqa: BLE001 - a factory that cannot be resolved is no split to offer
            continue
    return sorted(splits)


# ---- the constructors the tables use -------------------------------------------------------
def integer(low: int | None = None, high: int | None = None, *, nullable: bool = False,
            note: str = "") -> Rule:
    return Rule("integer", low=low, high=high, nullable=nullable, note=note)


def count(*, nullable: bool = False, note: str = "") -> Rule:
    """0, 1, 2, …"""
    return integer(0, nullable=nullable, note=note)


def positive(*, nullable: bool = False, note: str = "") -> Rule:
    """1, 2, …"""
    return integer(1, nullable=nullable, note=note)


def number(low: float | None = None, high: float | None = None, *, above: bool = False,
           nullable: bool = False, note: str = "") -> Rule:
    return Rule("number", low=low, high=high, above=above, nullable=nullable, note=note)


def flag(*, nullable: bool = False, note: str = "") -> Rule:
    return Rule("flag", nullable=nullable, note=note)


def choice(*choices: Any, nullable: bool = False, note: str = "") -> Rule:
    return Rule("choice", choices=tuple(choices), nullable=nullable, note=note)


def text(*, nullable: bool = False, note: str = "") -> Rule:
    return Rule("text", nullable=nullable, note=note)


def glob(*, nullable: bool = False, note: str = "") -> Rule:
    return Rule("glob", nullable=nullable, note=note)


def existing_file(*, nullable: bool = False, words: tuple[str, ...] = (), prefixes: tuple[str, ...] = (),
                  note: str = "") -> Rule:
    return Rule("file", nullable=nullable, words=words, prefixes=prefixes, note=note)


def sizes(length: int = 2, *, nullable: bool = False, note: str = "") -> Rule:
    """A list of ``length`` integers ≥ 1 (``[height, width]``)."""
    return Rule("list", item=positive(), length=length, nullable=nullable, note=note)


def nonempty_list(item: Rule, *, length: int | None = None, nullable: bool = False, note: str = "") -> Rule:
    """A non-empty list (of ``length`` items when given) whose every item ``item`` accepts."""
    return Rule("list", item=item, length=length, nullable=nullable, note=note)


def dataset_split(*, nullable: bool = False, note: str = "") -> Rule:
    return Rule("split", nullable=nullable, note=note)


def group(name: str) -> Rule:
    """A config group the tool needs chosen (``dataset`` of ocseg-prepare): one of its options."""
    from ocseg.config import options

    return Rule("group", choices=tuple(options(name)))
