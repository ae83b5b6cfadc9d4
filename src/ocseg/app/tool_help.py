"""``--help`` of each command-line tool: what it does, its own keys, the groups it composes, and
three examples — written without Hydra's help machinery (which composes the config repository
once per group: seconds) and without importing torch.

Everything comes from where it is defined, so the help cannot drift:

* the header (what the tool does) and the examples: ``hydra.help.header`` / ``footer`` of the
  tool's primary config ``conf/<tool>.yaml``;
* the keys: the primary config's keys in file order, each with its default as written and its
  comment (:mod:`ocseg.app.config_comments`), and the values it accepts from the tool's schema
  (:mod:`ocseg.app.schemas`); then the schema's keys that come from a group
  (``data.num_workers``, ``schedule.max_steps``), with the comment of the group's default option;
* the groups: those in the primary's ``defaults`` list and, recursively, those its options name
  (``model=`` names ``backbone``, ``head``, ``normalize``, ``task``), with their options.

:func:`options_table` gives the same keys as a Markdown table (``docs/cli.md``).
"""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

from omegaconf import OmegaConf

from ocseg.app.config_comments import Entry, defaults_of, read_entries
from ocseg.app.rules import Rule
from ocseg.app.schemas import SCHEMAS
from ocseg.config import config_dir

__all__ = ["composed_groups", "option_rows", "options_table", "help_text"]

_WIRING = re.compile(r"^\$\{[^}]*\}$")     # a value that only links to another key
_HIDDEN = ("_target_", "_partial_")


def _group_of(entry: str, here: str) -> str | None:
    """The config group a defaults entry chooses (``/backbone@backbone`` → ``backbone``,
    ``optional embedded`` → ``embedded``); None for Hydra's own groups."""
    name = entry.replace("optional ", "").replace("override ", "").split("@")[0].strip()
    group = name[1:] if name.startswith("/") else (f"{here}/{name}" if here else name)
    return None if group == "hydra" or group.startswith("hydra/") else group


def composed_groups(config_name: str, root: Path | None = None) -> dict[str, list[str]]:
    """``{group: options}`` of every group ``conf/<config_name>.yaml`` composes or lets a user
    choose, following the options' own defaults lists (a group chosen by interpolation, such
    as ``embedded: ${dataset}``, is not a choice and is left out)."""
    root = root or config_dir()
    groups: dict[str, list[str]] = {}
    files = [(root / f"{config_name}.yaml", "")]
    seen: set[Path] = set()
    while files:
        path, here = files.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        for entry, option in defaults_of(path):
            if option is None:              # another file of this group (base/test@_here_)
                files.append((root / here / f"{entry.split('@')[0]}.yaml", here))
                continue
            group = _group_of(entry, here)
            if group is None or group in groups or (not here and "${" in option):
                continue
            groups[group] = sorted(p.stem for p in (root / group).glob("*.yaml"))
            files.extend((p, group) for p in (root / group).glob("*.yaml"))
    return dict(sorted(groups.items()))


def _default_option(config_name: str, group: str, root: Path) -> Path | None:
    """The file of ``group``'s default option in the primary config (None: not chosen there)."""
    for entry, option in defaults_of(root / f"{config_name}.yaml"):
        if option is not None and _group_of(entry, "") == group and option != "null":
            return root / group / f"{option}.yaml"
    return None


def _group_entry(path: Path | None, key: str, root: Path, group: str) -> Entry | None:
    """``key`` (relative to the group) in the option file ``path`` or the files it includes."""
    if path is None or not path.is_file():
        return None
    found = read_entries(path).get(key)
    for entry, option in defaults_of(path):
        if found is not None:
            break
        if option is None and entry != "_self_":
            found = _group_entry(root / group / f"{entry.split('@')[0]}.yaml", key, root, group)
    return found


def _allowed(rule: Rule | None, comment: str, terse: bool) -> str:
    """The schema's allowed values; ``terse`` (``--help``) leaves out what the key's comment or
    default already says (a flag, a text, choices the comment lists)."""
    if rule is None:
        return ""
    if terse and (rule.kind in ("flag", "text") or (rule.kind == "choice" and all(
            str(c).lower() in comment.lower() for c in rule.choices))):
        return ""
    return rule.allowed()


def option_rows(config_name: str, terse: bool = False) -> list[tuple[str, str, str, str]]:
    """``(key, default, meaning, allowed)`` for each key ``--help`` lists: the primary config's
    top-level keys (a node as one row), its nested keys a user sets (not the ones that only link
    to other keys), then the schema's keys that come from the groups (default '')."""
    root = config_dir()
    schema = SCHEMAS.get(config_name, {})
    rows: list[tuple[str, str, str, str]] = []
    for key, entry in read_entries(root / f"{config_name}.yaml").items():
        top = key.split(".")[0]
        if top in ("defaults", "hydra") or key.split(".")[-1] in _HIDDEN:
            continue
        if "." in key and (entry.is_node or _WIRING.match(entry.value)):
            continue
        default = "" if entry.is_node else entry.value
        rows.append((key, default, entry.comment, _allowed(schema.get(key), entry.comment, terse)))
    listed = {row[0] for row in rows}
    for key, rule in schema.items():
        if key in listed or rule.kind == "group":
            continue
        group, _, rest = key.partition(".")
        entry = _group_entry(_default_option(config_name, group, root), rest, root, group)
        comment = entry.comment if entry else ""
        rows.append((key, "", comment, _allowed(rule, comment, terse)))
    return rows


def _wrap(text: str, indent: str, width: int, more: str = "") -> str:
    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=indent + more,
                         break_on_hyphens=False, break_long_words=False)


_COLUMN = 30   # where the meanings start in --help


def _primary_keys(config_name: str) -> set[str]:
    return set(read_entries(config_dir() / f"{config_name}.yaml"))


def _options(config_name: str, width: int) -> str:
    lines = []
    for key, default, meaning, allowed in option_rows(config_name, terse=True):
        name = f"  {key}={default}" if default else f"  {key}"
        said = " ".join(p for p in (meaning, f"[{allowed}]" if allowed else "") if p)
        if not said:
            if default or "." not in key or key in _primary_keys(config_name):
                lines.append(name)      # a group's key with nothing to say is left to the docs
        elif len(name) < _COLUMN - 1:
            lines.append(_wrap(said, " " * _COLUMN, width).replace(" " * _COLUMN, name.ljust(_COLUMN), 1))
        else:
            lines.extend([name, _wrap(said, " " * _COLUMN, width)])
    return "\n".join(lines)


def _groups(config_name: str, width: int) -> str:
    required = {k for k, rule in SCHEMAS.get(config_name, {}).items() if rule.kind == "group"}
    return "\n".join(_wrap(f"{group}{' (required)' if group in required else ''}: {', '.join(options)}",
                           "  ", width, more="  ")
                     for group, options in composed_groups(config_name).items())


def help_text(config_name: str) -> str:
    """What ``ocseg-<tool> --help`` prints for the primary config ``conf/<config_name>.yaml``."""
    root = config_dir()
    primary = OmegaConf.load(root / f"{config_name}.yaml")
    header = OmegaConf.select(primary, "hydra.help.header", default=config_name)
    footer = OmegaConf.select(primary, "hydra.help.footer", default="")
    width = max(80, min(120, shutil.get_terminal_size((100, 20)).columns))
    return (f"{header}\n\n"
            "Options (key=value, shown with the default; ??? = required; a group's own keys are set as "
            f"group.key=value):\n{_options(config_name, width)}\n\n"
            f"Config groups (pick an option with group=option):\n{_groups(config_name, width)}\n\n"
            f"{footer}\n"
            "Print the composed config with --cfg job; docs/cli.md describes every tool's options.")


def options_table(config_name: str) -> str:
    """The keys of ``--help`` as a Markdown table: key, default, meaning, allowed values."""
    def prose(text: str) -> str:  # Markdown: <name> is no HTML tag, **/*.png no emphasis
        return text.replace("&", "&amp;").replace("<", "&lt;").replace("*", "\\*").replace("|", "\\|")

    lines = ["| key | default | meaning | allowed |", "|---|---|---|---|"]
    for key, default, meaning, allowed in option_rows(config_name):
        cells = [f"`{key}`", f"`{default}`".replace("|", "\\|") if default else "", prose(meaning), prose(allowed)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
