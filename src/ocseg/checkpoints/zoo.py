"""Released weights by name: ``zoo:<experiment>`` is the original's file of that model-zoo row,
fetched on first use into the torch hub cache.

A name is a ``conf/experiment/`` recipe whose row of the model cards has a released file with a
direct link (:attr:`~ocseg.models.cards.Weights.downloadable`). The file goes to
``torch.hub.get_dir()/checkpoints/<release tag>/<file>`` (``TORCH_HOME`` moves it; the tag keeps
apart files of one name, such as the Cityscapes and the LIP ``hrnet_w48_ocr_1_latest.pth``) and
is read from there afterwards, without network. A download is checked before it takes the final
name: a file that does not read as the card's network (cut short, an HTML error page, another
network) is deleted, with one line saying so. The tools take ``ckpt_path=zoo:<name>``
(:func:`resolve_checkpoint`); their command line gets the row's ``experiment=`` (or ``model=`` and
``dataset=``) from :func:`zoo_overrides`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocseg.checkpoints.files import checkpoint_kind, read_checkpoint
from ocseg.checkpoints.openseg import detect_layout, state_dict_of
from ocseg.errors import OcsegError
from ocseg.io.download import RELEASE_BASES, download
from ocseg.models.cards import CARDS, Weights

__all__ = ["PREFIX", "ZooEntry", "zoo_entries", "zoo_names", "zoo_entry", "is_zoo_name", "cache_dir",
           "cached_file", "zoo_checkpoint", "resolve_checkpoint", "zoo_overrides"]

PREFIX = "zoo:"


@dataclass(frozen=True)
class ZooEntry:
    """One ``zoo:`` name: the recipe, the model (card) and the released weights."""

    name: str          # conf/experiment/<name>.yaml
    model: str         # model=
    weights: Weights

    @property
    def dataset(self) -> str:
        """``dataset=`` of the file's classes (the data it was trained on)."""
        return self.weights.dataset


def zoo_entries() -> dict[str, ZooEntry]:
    """Every ``zoo:`` name, in the cards' order."""
    return {w.experiment: ZooEntry(w.experiment, card.name, w)
            for card in CARDS.values() if not card.test_only
            for w in card.weights if w.experiment and w.downloadable}


def zoo_names() -> list[str]:
    """``zoo:<experiment>`` of every released file, for messages and docs."""
    return [PREFIX + name for name in zoo_entries()]


def is_zoo_name(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def zoo_entry(name: str) -> ZooEntry:
    """The entry of ``name`` (with or without ``zoo:``); an unknown one lists the valid names."""
    key = name[len(PREFIX):] if is_zoo_name(name) else name
    entries = zoo_entries()
    if key not in entries:
        raise OcsegError(f"unknown zoo name '{PREFIX}{key}'; the released files are {', '.join(zoo_names())}")
    return entries[key]


def cache_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints`` (``$TORCH_HOME/hub/checkpoints``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_file(entry: ZooEntry) -> Path:
    """Where ``entry``'s file is (or will be) in the cache: its URL's path below the release base."""
    url = str(entry.weights.url)
    base = next((b for b in RELEASE_BASES if url.startswith(b + "/")), url.rsplit("/", 2)[0])
    return cache_dir().joinpath(*url[len(base) + 1:].split("/"))


def _check_file(entry: ZooEntry):
    """A check that a downloaded file holds the network of ``entry``'s card."""
    card = CARDS[entry.model]

    def check(path: Path) -> None:
        with path.open("rb") as file:
            head = file.read(512).lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html", b"<?xml")):
            raise OcsegError("an HTML page, not a PyTorch file")
        try:
            obj = read_checkpoint(path)
        except OcsegError:
            raise OcsegError("it does not read as a PyTorch checkpoint: cut short or damaged") from None
        if checkpoint_kind(obj) != "openseg":
            return
        layout = detect_layout(state_dict_of(obj))
        if layout != card.layout:
            found = f"an original '{layout.original}' network" if layout else "no network ocseg knows"
            raise OcsegError(f"it holds {found}, not {card.original} (model={card.name})")

    return check


def zoo_checkpoint(name: str, progress: bool = True) -> Path:
    """The cached file of ``zoo:<name>``, downloaded first if it is not there."""
    entry = zoo_entry(name)
    path = cached_file(entry)
    if path.is_file():
        return path
    return download(str(entry.weights.url), path, what=PREFIX + entry.name, check=_check_file(entry),
                    progress=progress)


def resolve_checkpoint(path: Any) -> Any:
    """``path`` itself, or for ``zoo:<name>`` the cached file (downloaded on first use)."""
    return zoo_checkpoint(path) if is_zoo_name(path) else path


def zoo_overrides(args: list[str], values: dict[str, str], recipe: bool) -> list[str]:
    """``args`` completed for ``ckpt_path=zoo:<name>`` (``values``: the parsed ``key=value``s):
    ``experiment=<name>`` where the tool composes recipes (``recipe``), else the row's
    ``model=`` and ``dataset=``; what the command line gives itself stays. An unknown name adds
    nothing (the task reports it, with the valid names)."""
    try:
        entry = zoo_entry(values["ckpt_path"])
    except OcsegError:
        return list(args)
    if recipe:
        return list(args) if "experiment" in values else [*args, f"experiment={entry.name}"]
    given = {"model": entry.model, "dataset": entry.dataset}
    return [*args, *(f"{key}={value}" for key, value in given.items() if key not in values)]
