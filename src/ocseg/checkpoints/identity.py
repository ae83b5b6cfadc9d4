"""What a checkpoint says it is: completing a tool's command line with the ``model=`` /
``dataset=`` it names, and refusing it, before building, when it does not fit the run.

ocseg checkpoints carry their run config (model, dataset, task); original openseg files carry
``config_dict`` (``network.model_name``, ``data.num_classes``, ``dataset``) and are recognised by
their key layout. A mismatch is one :class:`OcsegError` naming both sides and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple, Sequence

from ocseg.checkpoints.files import checkpoint_kind, read_checkpoint
from ocseg.checkpoints.ocseg import CONFIG_KEY
from ocseg.checkpoints.openseg import detect_layout, state_dict_of
from ocseg.checkpoints.zoo import is_zoo_name, zoo_overrides
from ocseg.config import options
from ocseg.errors import OcsegError
from ocseg.models.cards import CARDS

__all__ = ["SEGFIX_TASKS", "ReadCheckpoint", "segfix_models", "checkpoint_identity", "checkpoint_choices",
           "complete_from_checkpoint", "check_checkpoint_matches", "check_task", "check_segfix_checkpoint"]

SEGFIX_TASKS = ("segfix", "segfix_instance")
_SEGFIX_HEAD = "SegFixHead"


def segfix_models() -> str:
    """The SegFix models users choose from, as prose (``a, b or c``)."""
    names = [name for name, c in CARDS.items() if c.task == "segfix" and not c.test_only]
    return ", ".join(names[:-1]) + f" or {names[-1]}"


def checkpoint_identity(obj: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint says it is: ``model``, ``dataset``, ``num_classes``, ``class_names``,
    ``task`` (None when unknown) and ``kind`` (``"ocseg"`` or ``"openseg"``)."""
    if checkpoint_kind(obj) == "lightning":
        cfg = obj.get(CONFIG_KEY) or {}
        model, dataset, task = cfg.get("model") or {}, cfg.get("dataset") or {}, cfg.get("task") or {}
        names = dataset.get("class_names")
        return {"model": model.get("name"), "dataset": dataset.get("name"),
                "num_classes": dataset.get("num_classes"), "task": task.get("name"),
                "class_names": list(names) if isinstance(names, (list, tuple)) else None, "kind": "ocseg"}
    cfg = obj.get("config_dict") or {}
    network, data = cfg.get("network") or {}, cfg.get("data") or {}
    return {"model": network.get("model_name"), "dataset": cfg.get("dataset"),
            "num_classes": data.get("num_classes"), "task": None, "class_names": None, "kind": "openseg"}


def checkpoint_choices(obj: dict[str, Any]) -> dict[str, str]:
    """The ``model=`` and ``dataset=`` options an ocseg checkpoint was trained with (those that
    are still options of ``conf/``); empty for original files, which name no ocseg option."""
    ident = checkpoint_identity(obj)
    if ident["kind"] != "ocseg":
        return {}
    return {group: str(ident[group]) for group in ("model", "dataset")
            if ident[group] is not None and str(ident[group]) in options(group)}


_OVERRIDE = re.compile(r"^[+~]{0,2}([\w.]+)=(.*)$")


class ReadCheckpoint(NamedTuple):
    """A checkpoint file already read (safely, as :func:`~ocseg.checkpoints.read_checkpoint`
    reads), handed on so the network loader does not read it again."""

    path: str
    content: dict[str, Any]

    def content_for(self, path: Any) -> dict[str, Any] | None:
        """The content when ``path`` names this file (the run's ``ckpt_path``), else None."""
        return self.content if str(path) == self.path else None


def complete_from_checkpoint(args: Sequence[str], recipe: bool = False
                             ) -> tuple[list[str], dict[str, ReadCheckpoint]]:
    """A tool's command line ``args`` plus ``model=`` / ``dataset=`` of the ocseg checkpoint in
    ``ckpt_path=``, for each of the two it does not give: eval and predict_offsets then need
    neither, their run config (and ``.hydra/overrides.yaml``) says what was used, and
    ``dataset.root=`` applies to the checkpoint's dataset. Nothing is added when the command line
    gives ``experiment=`` (which chooses both), or when the file is not a readable ocseg checkpoint
    (the task reports that); given ones are checked against the file by the task. The tools do not
    call it for ``--help``/``--hydra-help`` (:func:`ocseg.app.cli.hydra_app`).

    ``ckpt_path=zoo:<name>`` adds the row's ``experiment=<name>`` when ``recipe`` (a tool that
    composes recipes: eval), else its ``model=`` and ``dataset=`` (no file is read or fetched here).

    Also returns the task's keyword arguments: ``{"checkpoint": ReadCheckpoint}`` when the file
    was read here (the task then does not read it again), else ``{}``.
    """
    values = {m.group(1): m.group(2).strip("'\"") for m in map(_OVERRIDE.match, args) if m}
    path = values.get("ckpt_path", "")
    if is_zoo_name(path):
        return zoo_overrides(list(args), values, recipe), {}
    if "experiment" in values or not path or "," in path:
        return list(args), {}
    missing = [group for group in ("model", "dataset") if group not in values]
    if not missing:
        return list(args), {}
    try:
        obj = read_checkpoint(path, trust=values.get("trust_checkpoint", "").lower() == "true")
    except OcsegError:
        return list(args), {}
    choices = checkpoint_choices(obj)
    added = [f"{group}={choices[group]}" for group in missing if group in choices]
    return list(args) + added, {"checkpoint": ReadCheckpoint(path, obj)}


def check_checkpoint_matches(obj: dict[str, Any], path: str | Path, model: str, dataset: str,
                             num_classes: int, class_names: Sequence[str] | None = None) -> None:
    """Raise :class:`OcsegError` when a segmentation checkpoint's model (ocseg files), class count
    or class names differ from the run's ``model=`` / ``dataset=``."""
    ident = checkpoint_identity(obj)
    wrong_model = ident["kind"] == "ocseg" and ident["model"] is not None and ident["model"] != model
    wrong_classes = ident["num_classes"] is not None and int(ident["num_classes"]) != int(num_classes)
    if wrong_model or wrong_classes:
        saved = f"model {ident['model'] or '?'} with {ident['num_classes'] or '?'} classes"
        if ident["dataset"]:
            saved += f" (dataset {ident['dataset']})"
        raise OcsegError(
            f"checkpoint '{path}' holds {saved}, but this run asks for model={model} with "
            f"{num_classes} classes (dataset={dataset}); leave model= and dataset= out (an ocseg "
            "checkpoint names its own) or pass the checkpoint's, or a checkpoint of this model"
        )
    saved_names = ident["class_names"]
    if saved_names is not None and class_names is not None and list(class_names) != saved_names:
        index = next(i for i, (a, b) in enumerate(zip(saved_names, class_names)) if a != b)
        raise OcsegError(
            f"checkpoint '{path}' was trained on dataset {ident['dataset']} whose class {index} is "
            f"'{saved_names[index]}', but dataset={dataset} calls it '{list(class_names)[index]}'; "
            f"evaluate on a dataset with the checkpoint's classes (dataset={ident['dataset']})")


def check_task(obj: dict[str, Any], path: str | Path, expect: str) -> None:
    """Raise :class:`OcsegError` when an ocseg checkpoint was trained for another task than
    ``expect`` (``"segmentation"`` or ``"segfix"``)."""
    ident = checkpoint_identity(obj)
    task = ident["task"]
    if task is None or (task in SEGFIX_TASKS) == (expect == "segfix"):
        return
    if expect == "segfix":
        raise OcsegError(
            f"checkpoint '{path}' holds model {ident['model'] or '?'} trained for {task}, not a "
            "SegFix model; pass the checkpoint of a SegFix run (python train.py "
            "experiment=segfix_...) or an original segfix_hrnet .pth")
    raise OcsegError(
        f"checkpoint '{path}' holds the SegFix model {ident['model'] or '?'} (task {task}), which "
        "predicts boundary offsets, not labels; predict offsets with it (predict_offsets.py) or "
        "pass a segmentation checkpoint")


def check_segfix_checkpoint(obj: dict[str, Any], path: str | Path, model: str) -> None:
    """Raise :class:`OcsegError` unless ``obj`` holds a SegFix network usable as ``model=``."""
    if checkpoint_kind(obj) == "lightning":
        check_task(obj, path, "segfix")
        saved_model = checkpoint_identity(obj)["model"]
        if saved_model is not None and saved_model != model:
            raise OcsegError(f"checkpoint '{path}' holds model {saved_model}, but this run asks for "
                             f"model={model}; pass model={saved_model} or leave model= out")
        return
    layout = detect_layout(state_dict_of(obj))
    if layout is not None and layout.head != _SEGFIX_HEAD:
        raise OcsegError(
            f"checkpoint '{path}' is an original '{layout.original}' segmentation checkpoint, not "
            "SegFix; pass a SegFix checkpoint (e.g. "
            "segfix_hrnet_hrnext20_segfix_loss_1_latest.pth with model=segfix_hrnet2x20)")
