"""A user dataset's ``classes.yaml``: class names, optional colours and an optional id map.

Format (only ``names`` is required)::

    names: [background, cat, dog]
    colors: [[0, 0, 0], [255, 0, 0], [0, 255, 0]]   # RGB, one per class
    id_map: {0: 0, 1: 1, 2: 2, 7: 1}                # value in the label files → class index
    ignore_ids: [255]                               # values that are not evaluated

Without ``id_map`` the label files hold class indices ``0 .. N-1`` directly. Config values are
read from it with the ``${ocseg_classes:<file>,<field>}`` resolver (see :mod:`ocseg.data`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ocseg.data.label_map import LabelMap
from ocseg.data.palette import resolve_palette
from ocseg.errors import OcsegError

__all__ = ["ClassesFile", "read_classes_file", "classes_field", "folder_label_map"]

_FORMAT_HINT = ("write it as 'names: [a, b, ...]' (optional: colors, id_map, ignore_ids), or set "
                "dataset.num_classes=N and dataset.class_names=[...] instead")


@dataclass(frozen=True)
class ClassesFile:
    names: list[str]
    colors: list[list[int]] | None
    id_map: dict[int, int]
    ignore_ids: list[int]

    def label_map(self, ignore_index: int = 255) -> LabelMap:
        table = {i: ignore_index for i in self.ignore_ids}
        table.update(self.id_map)
        return LabelMap.from_table(table, ignore_index=ignore_index, num_classes=len(self.names))


def read_classes_file(path: str | Path) -> ClassesFile:
    """Parse and check ``path``; every problem is one :class:`OcsegError` naming the file."""
    p = Path(path)
    if not p.parent.is_dir():
        raise OcsegError(f"dataset root '{p.parent}' not found; set dataset.root=<folder with "
                         "images/<split>/, labels/<split>/ and classes.yaml>")
    if not p.is_file():
        raise OcsegError(f"classes file '{p}' not found; {_FORMAT_HINT}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        text = " ".join(str(exc).split())[:200]
        raise OcsegError(f"classes file '{p}' is not valid UTF-8 YAML ({text}); {_FORMAT_HINT}") from None
    if not isinstance(data, dict) or not isinstance(data.get("names"), list) or not data["names"]:
        raise OcsegError(f"classes file '{p}' has no 'names' list; {_FORMAT_HINT}")
    names = [str(n) for n in data["names"]]
    n = len(names)
    colors = data.get("colors")
    if colors is not None:
        try:
            colors = resolve_palette(colors, n)
        except (TypeError, ValueError) as exc:
            raise OcsegError(f"classes file '{p}': colors: {exc}; give one [r, g, b] per "
                             "name, or leave colors out for generated colours") from None
    raw_map = data.get("id_map")
    if raw_map is None:
        id_map = {i: i for i in range(n)}
    elif isinstance(raw_map, dict):
        try:
            id_map = {int(k): int(v) for k, v in raw_map.items()}
        except (TypeError, ValueError):
            raise OcsegError(f"classes file '{p}': id_map must map integer ids to class indices") from None
    else:
        raise OcsegError(f"classes file '{p}': id_map must be a mapping 'label value: class index'")
    bad = sorted({v for v in id_map.values() if not 0 <= v < n})
    if bad:
        raise OcsegError(f"classes file '{p}': id_map targets {bad} are not class indices 0..{n - 1}")
    missing = sorted(set(range(n)) - set(id_map.values()))
    if missing:
        raise OcsegError(f"classes file '{p}': no label value maps to classes {missing} of id_map")
    ignore_ids = [int(i) for i in data.get("ignore_ids", [255])]
    clash = sorted(set(ignore_ids) & set(id_map))
    if clash:
        raise OcsegError(f"classes file '{p}': ids {clash} are both in id_map and ignore_ids")
    return ClassesFile(names, colors, id_map, ignore_ids)


def classes_field(path: str, field: str) -> Any:
    """One config value from a classes file: ``num_classes``, ``names`` or ``colors`` (colours
    are optional: None when the file or its ``colors`` is absent)."""
    if field == "colors" and not Path(path).is_file():
        return None
    spec = read_classes_file(path)
    if field == "num_classes":
        return len(spec.names)
    if field == "names":
        return spec.names
    if field == "colors":
        return spec.colors
    raise OcsegError(f"unknown classes-file field '{field}'; use num_classes, names or colors")


def folder_label_map(classes_file: str | Path | None, num_classes: int,
                     ignore_index: int = 255) -> LabelMap:
    """The label map of a ``folder`` dataset: from its classes file when there is one, else
    label values ``0 .. num_classes-1`` are the classes and 255 is ignored."""
    if classes_file is not None and Path(classes_file).is_file():
        spec = read_classes_file(classes_file)
        if len(spec.names) != num_classes:
            raise OcsegError(
                f"classes file '{classes_file}' lists {len(spec.names)} classes but "
                f"dataset.num_classes={num_classes}; make them agree"
            )
        return spec.label_map(ignore_index)
    return LabelMap(list(range(num_classes)), valid_ids=[*range(num_classes), 255],
                    ignore_index=ignore_index)
