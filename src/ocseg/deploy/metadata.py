"""What an exported file says about itself: everything :func:`ocseg.load` needs to predict with it,
and the same facts flat for code in other languages.

The ONNX file's ``metadata_props`` hold one entry, ``ocseg``: a JSON object with

* ``input``: name, ``NCHW`` float32 of the normalised image, height/width (null when dynamic);
* ``outputs``: the output names (``out``; SegFix: ``mask``, ``direction``) and their stride;
* ``task``, ``model``, ``classes``, ``palette`` (RGB per train id), ``label_ids`` (the dataset's
  label id of each train id), ``ignore_index``, ``normalize`` (channel order, divisor, mean, std);
* ``config``: the facts ocseg rebuilds its predictor from (``model``, ``task``, ``normalize``, and
  the dataset's classes, palette, label map and test facts), plain data with two classes only:
  :class:`~ocseg.data.normalize.Normalize` and :meth:`~ocseg.data.label_map.LabelMap.from_table`.

A file's ``config`` names no other class (:func:`read_metadata` refuses one), so reading a file a
user hands us never builds anything else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

from ocseg.errors import OcsegError

__all__ = ["KEY", "FORMAT", "predict_config", "describe", "read_metadata"]

KEY = "ocseg"
FORMAT = 1
_NORMALIZE = "ocseg.data.normalize.Normalize"
_LABEL_MAP = "ocseg.data.label_map.LabelMap.from_table"
_TARGETS = (_NORMALIZE, _LABEL_MAP)
# the dataset facts a predictor reads (conf/test/*.yaml read dataset.test.*); file locations,
# splits and training transforms stay behind
_DATASET_KEYS = ("name", "num_classes", "class_names", "palette", "ignore_index", "crop_size",
                 "flip_swap_pairs", "test")


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _label_map(dataset: DictConfig) -> dict[str, Any] | None:
    """The dataset's label map as its table (original id → train id), built once here."""
    if not dataset.get("label_map"):
        return None
    from hydra.utils import instantiate

    label_map = instantiate(dataset.label_map)
    lookup = label_map.lookup
    table = {str(int(v)): int(lookup[int(v)]) for v in label_map.valid_ids}
    return {"_target_": _LABEL_MAP, "original_to_train": table, "ignore_index": label_map.ignore_index,
            "num_classes": label_map.num_classes}


def predict_config(config: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run or checkpoint config a predictor needs, resolved to plain data."""
    from ocseg.data.palette import resolve_palette

    cfg = config if isinstance(config, DictConfig) else OmegaConf.create(dict(config))
    missing = [key for key in ("task", "normalize", "dataset") if cfg.get(key) is None]
    if missing:
        raise OcsegError(f"the config to export with has no {', '.join(missing)}; pass the config a "
                         "checkpoint was built from (ocseg.load(...) gives a Segmenter that has it)")
    dataset = {key: _plain(cfg.dataset[key]) for key in _DATASET_KEYS if key in cfg.dataset}
    n = int(dataset["num_classes"])
    dataset["class_names"] = dataset.get("class_names") or [f"class_{i}" for i in range(n)]
    dataset["palette"] = [list(map(int, c)) for c in resolve_palette(dataset.get("palette"), n)]
    dataset["label_map"] = _label_map(cfg.dataset)
    normalize = _plain(cfg.normalize)
    if normalize.get("_target_") != _NORMALIZE:
        raise OcsegError(f"normalize {normalize.get('_target_')!r} cannot be exported; ocseg exports "
                         f"{_NORMALIZE} only")
    model = cfg.get("model") or {}
    return {"model": {"name": str(model.get("name", "?"))}, "task": {"name": str(cfg.task.name)},
            "normalize": normalize, "dataset": dataset}


def describe(config: Mapping[str, Any], input_name: str, outputs: list[str], size: tuple[int, int] | None,
             stride: int) -> dict[str, Any]:
    """The metadata object of an exported file (see the module docstring)."""
    dataset, normalize = config["dataset"], config["normalize"]
    label_map = dataset.get("label_map")
    if label_map is not None:
        from ocseg.data.label_map import LabelMap

        built = LabelMap.from_table(label_map["original_to_train"], label_map["ignore_index"],
                                    label_map["num_classes"])
        label_ids = [int(i) for i in built.train_id_to_original]
    else:
        label_ids = list(range(int(dataset["num_classes"])))
    return {
        "format": FORMAT,
        "input": {"name": input_name, "layout": "NCHW", "dtype": "float32", "normalized": True,
                  "height": size[0] if size else None, "width": size[1] if size else None},
        "outputs": {"names": outputs, "stride": stride},
        "task": config["task"]["name"], "model": config["model"]["name"],
        "classes": dataset["class_names"], "palette": dataset["palette"], "label_ids": label_ids,
        "ignore_index": dataset.get("ignore_index"),
        "normalize": {k: normalize.get(k) for k in ("channel_order", "div", "mean", "std")},
        "config": config,
    }


def _targets(node: Any) -> list[str]:
    if isinstance(node, Mapping):
        own = [str(node["_target_"])] if "_target_" in node else []
        return own + [t for value in node.values() for t in _targets(value)]
    if isinstance(node, list):
        return [t for value in node for t in _targets(value)]
    return []


def read_metadata(path: str | Path, props: Mapping[str, str]) -> dict[str, Any]:
    """The ``ocseg`` metadata of the file at ``path`` (``props``: its metadata_props), checked."""
    text = props.get(KEY)
    if text is None:
        raise OcsegError(f"'{path}' has no ocseg metadata (it was not written by ocseg-export / "
                         "ocseg.export); export the checkpoint with ocseg-export")
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OcsegError(f"'{path}': its ocseg metadata is not valid JSON ({exc}); export it again") from None
    version = meta.get("format") if isinstance(meta, dict) else None
    if version != FORMAT or not isinstance(meta.get("config"), dict):
        raise OcsegError(f"'{path}': ocseg metadata of format {version!r}; this ocseg reads format {FORMAT}: "
                         "export it again with this version")
    unknown = sorted(set(_targets(meta["config"])) - set(_TARGETS))
    if unknown:
        raise OcsegError(f"'{path}': its metadata names {', '.join(unknown)}, which ocseg does not build "
                         f"from a file (only {', '.join(_TARGETS)}); export it again with ocseg-export")
    return meta
