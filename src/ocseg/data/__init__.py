"""Datasets, label maps, augmentation and dataset preparation.

Importing this package registers the config resolver ``${ocseg_classes:<file>,<field>}``, which
reads ``num_classes``, ``names`` or ``colors`` from a user dataset's ``classes.yaml``
(``conf/dataset/folder.yaml``). Kept import-light: nothing heavy is imported here.
"""

from __future__ import annotations

__all__ = ["register_resolvers"]


def _classes_field(path: str, field: str):
    from omegaconf import OmegaConf

    from ocseg.data.classes_file import classes_field

    value = classes_field(path, field)
    # lists as ListConfig: OmegaConf.resolve() cannot store a plain list in a value node
    return OmegaConf.create(value) if isinstance(value, list) else value


def register_resolvers() -> None:
    """Register ocseg's OmegaConf resolvers (idempotent)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("ocseg_classes"):
        OmegaConf.register_new_resolver("ocseg_classes", _classes_field)


register_resolvers()
