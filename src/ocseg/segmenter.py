"""``ocseg.load(checkpoint)``: a ready predictor for notebooks and scripts.

An ocseg checkpoint brings everything: the network, the class names, palette and label ids of
its dataset, the input normalisation, the task and the dataset's test facts (scales, padding,
windows). An original openseg ``.pth`` names none of that, so it needs ``model=`` and either
``dataset=`` (that dataset's facts; its files are not read) or ``num_classes=`` (labels
``0..N-1``, generated colours). :meth:`Segmenter.predict` returns what ``eval.py`` writes to
``label/<name>.png`` for the same image and ``test=``, in the dataset's label ids; the
segmenter's ``classes`` maps each such value to its name, colour and train id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from omegaconf import DictConfig, open_dict
from torch import nn

from ocseg.errors import ArgumentError, ArgumentTypeError, OcsegError, require_choice, require_int

__all__ = ["SegClass", "Segmenter", "load"]

_TESTS = ("ss", "ms", "sliding")
_SEGFIX_TASKS = ("segfix", "segfix_instance")


def _hydra_args(**values: Any) -> list[str]:
    from ocseg.models.build import hydra_override

    return [hydra_override(key, value) for key, value in values.items()]


class SegClass(NamedTuple):
    """One class as :meth:`Segmenter.predict` writes it: its ``name``, its RGB ``color`` (as
    :meth:`Segmenter.colorize` paints it) and its ``train_id`` (the network's output channel)."""

    name: str
    color: tuple[int, int, int]
    train_id: int


class Segmenter:
    """A loaded network with what it needs to turn images into label maps.

    Attributes:
        model: the ``nn.Module`` (eval mode; native-stride logits dict).
        class_names: the class names, per train id.
        palette: the RGB colours, per train id.
        label_ids: per train id, the value :meth:`predict` returns for that class (the dataset's
            label ids: Cityscapes labelIds 7…33; ``0..N-1`` for a dataset without ids).
        classes: :class:`SegClass` by the value :meth:`predict` returns:
            ``seg.classes[labels[y, x]].name`` is the class of pixel (y, x).
        task: ``"segmentation"``, ``"segfix"`` or ``"segfix_instance"``.
        config: the facts it was built from (``net``, ``normalize``, ``task``, ``dataset``).
    """

    def __init__(self, model: nn.Module, config: DictConfig, device: str | torch.device = "cpu") -> None:
        from hydra.utils import instantiate

        from ocseg.data.palette import resolve_palette

        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config = config
        self.task = str(config.task.name)
        self.normalize = instantiate(config.normalize)
        dataset = config.dataset
        n = int(dataset.num_classes)
        names = dataset.get("class_names")
        self.class_names = [str(c) for c in names] if names else [f"class_{i}" for i in range(n)]
        self.palette = resolve_palette(dataset.get("palette"), n)
        self.label_map = instantiate(dataset.label_map) if dataset.get("label_map") else None
        self.label_ids = (list(range(n)) if self.label_map is None
                          else [int(i) for i in self.label_map.train_id_to_original])
        self.classes = {label: SegClass(name, tuple(int(c) for c in color), train_id)
                        for train_id, (label, name, color)
                        in enumerate(zip(self.label_ids, self.class_names, self.palette))}
        self._predictors: dict[tuple[str, bool | None], Any] = {}

    # -- inputs ----------------------------------------------------------------------------------
    @staticmethod
    def _bgr(image: Any, channels: str | None) -> np.ndarray:
        """H×W×3 uint8 BGR, as ``eval.py`` reads image files. Grey (H×W) arrays are replicated
        and a fourth (alpha) channel is dropped, as reading a grey or RGBA file does."""
        from ocseg.io.image_io import read_image

        order = require_choice("rgb" if channels is None else channels, "channels", ("rgb", "bgr"))
        if isinstance(image, (str, Path)):
            return read_image(image)
        if isinstance(image, torch.Tensor):   # torchvision's layout: 3×H×W
            if image.ndim != 3 or image.shape[0] != 3:
                raise ArgumentError(f"an image tensor must be 3×H×W, got {tuple(image.shape)}")
            image = image.detach().cpu().permute(1, 2, 0).numpy()
        if not isinstance(image, np.ndarray):
            raise ArgumentTypeError(f"image must be a file path, an H×W×3 uint8 array or a 3×H×W "
                                    f"uint8 tensor, got {type(image).__name__}")
        array = image
        if array.dtype != np.uint8:
            raise ArgumentTypeError(f"image must be an H×W×3 uint8 array (values 0..255), got {array.dtype}; "
                                    "convert it, e.g. (image * 255).astype(np.uint8) for 0..1 floats")
        if array.ndim == 2:
            array = array[:, :, None].repeat(3, axis=2)
        elif array.ndim == 3 and array.shape[2] == 4:
            array = array[:, :, :3]
        if array.ndim != 3 or array.shape[2] != 3:
            raise ArgumentError(f"image must be H×W×3 (or H×W grey, H×W×4 with alpha), got shape "
                                f"{tuple(image.shape)}")
        if array.shape[0] < 1 or array.shape[1] < 1:
            raise ArgumentError(f"image is empty ({array.shape[1]}×{array.shape[0]} pixels)")
        return np.ascontiguousarray(array[..., ::-1] if order == "rgb" else array)

    def _input(self, image: Any, channels: str | None) -> torch.Tensor:
        return self.normalize(self._bgr(image, channels)).to(self.device)

    # -- segmentation ----------------------------------------------------------------------------
    def predictor(self, test: str = "ss", flip: bool | None = None):
        """The test procedure ``test=ss|ms|sliding`` with this dataset's test facts, as
        ``conf/test/<test>.yaml`` builds it for ``eval.py`` (``flip``: None keeps its default)."""
        require_choice(test, "test", _TESTS)
        if flip is not None and not isinstance(flip, bool):
            raise ArgumentTypeError(f"flip must be True, False or None, got {flip!r}")
        key = (test, flip)
        if key not in self._predictors:
            from hydra.utils import instantiate

            from ocseg.config import compose

            flips = {} if flip is None else {"test.flip": flip}
            cfg = compose("network", [f"test={test}"] + _hydra_args(**flips))
            with open_dict(cfg):
                cfg.dataset = self.config.dataset
            self._predictors[key] = instantiate(cfg.test)
        return self._predictors[key]

    def predict(self, image: Any, test: str = "ss", flip: bool | None = None,
                channels: str | None = None) -> np.ndarray:
        """The H×W label map of ``image`` in the dataset's label ids (``eval.py``'s label PNG):
        ``seg.classes[value]`` gives a value's name and colour, ``seg.label_ids`` the value of
        each class in ``seg.class_names`` order.

        ``image``: a file path (read as BGR, like ``eval.py``), an H×W×3 uint8 array in
        ``channels`` order (default ``"rgb"``; ``"bgr"`` for OpenCV arrays) or a 3×H×W uint8 tensor.
        """
        if self.task in _SEGFIX_TASKS:
            raise OcsegError(f"this is a SegFix checkpoint ({self.task}); use predict_offsets(image)")
        with torch.inference_mode():
            train_ids = self.predictor(test, flip).predict(self.model, [self._input(image, channels)])[0]
        train_ids = train_ids.cpu().numpy()
        return train_ids if self.label_map is None else self.label_map.to_original(train_ids, ignore_as=0)

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """H×W×3 uint8 RGB colours of a label map in the dataset's ids (ignored pixels black)."""
        if not isinstance(labels, np.ndarray):
            raise ArgumentTypeError(f"labels must be an H×W integer array, got {type(labels).__name__}")
        if labels.dtype.kind not in "iu" or labels.ndim != 2:
            raise ArgumentError(f"labels must be an H×W integer array of label ids, got {labels.dtype} "
                                f"{tuple(labels.shape)}")
        train_ids = labels if self.label_map is None else self.label_map.to_train(labels)
        if train_ids.size and (int(train_ids.min()) < 0 or int(train_ids.max()) > 255):
            raise ArgumentError(f"labels hold ids outside 0..255 ({int(train_ids.min())}..."
                                f"{int(train_ids.max())}); pass a label map of this model's classes")
        lut = np.zeros((256, 3), np.uint8)
        lut[: len(self.palette)] = np.asarray(self.palette, np.uint8)
        return lut[train_ids.astype(np.uint8)]

    # -- SegFix ----------------------------------------------------------------------------------
    def predict_offsets(self, image: Any, mode: str = "sliding", channels: str | None = None) -> np.ndarray:
        """H×W×2 int8 SegFix offsets (dh, dw) of ``image`` (as :meth:`predict` takes it), what
        ``predict_offsets.py`` writes: sliding 512×512 windows, stride 170 (``mode="whole"``: one pass)."""
        if self.task not in _SEGFIX_TASKS:
            raise OcsegError(f"this is a {self.task} checkpoint, not SegFix; use predict(image)")
        from ocseg.segfix.offsets.prediction import MODES, OffsetPredictor

        require_choice(mode, "mode", MODES)

        with torch.inference_mode():
            offsets = OffsetPredictor(mode=mode)(self.model, self._input(image, channels)[None])
        return offsets[0].cpu().numpy()

    def __repr__(self) -> str:
        name = self.config.get("model", {}).get("name", "?")
        return (f"Segmenter(model={name}, task={self.task}, classes={len(self.class_names)}, "
                f"device={self.device})")


def _network_config(path: str | Path, stored: DictConfig | None, model: str | None, dataset: str | None,
                    num_classes: int | None, overrides: dict[str, Any]) -> DictConfig | None:
    """The network config of ``model=`` with ``dataset=`` or ``num_classes=`` (None: an ocseg
    checkpoint with nothing to check against)."""
    from ocseg.config import compose

    if stored is not None and stored.get("net") is not None and not (model or dataset or num_classes):
        return None
    model = model or (stored.get("model", {}).get("name") if stored is not None else None)
    if model is None:
        raise OcsegError(f"checkpoint '{path}' does not say which network it holds (an original openseg "
                         "file); pass model=<name> and dataset=<name> or num_classes=N")
    if dataset is None and num_classes is None and stored is not None:
        dataset = stored.get("dataset", {}).get("name")
    if dataset is not None:
        args = [f"model={model}", f"dataset={dataset}"]
    elif num_classes is not None:   # the folder dataset's conventions: ids 0..N-1, generated colours
        args = [f"model={model}", "dataset=folder", f"dataset.num_classes={int(num_classes)}",
                "dataset.class_names=null", "dataset.palette=null", "dataset.classes_file=null"]
    else:
        raise OcsegError(f"checkpoint '{path}' needs dataset=<name> or num_classes=N (the class count "
                         f"and label ids of model={model})")
    args += _hydra_args(**overrides)
    try:
        return compose("network", args)
    except Exception as exc:  # noqa: BLE001 - Hydra's message names the bad option
        raise OcsegError(f"cannot compose {' '.join(args)}: {str(exc).splitlines()[0]}") from None


def _check_load_arguments(path: Any, model: Any, dataset: Any, num_classes: Any, device: Any) -> None:
    """One-line errors for arguments of :func:`load` of the wrong type or value."""
    if not isinstance(path, (str, Path)):
        raise ArgumentTypeError(f"path must be a checkpoint file path (str or pathlib.Path), got "
                                f"{type(path).__name__}")
    for name, value in (("model", model), ("dataset", dataset)):
        if value is not None and not isinstance(value, str):
            raise ArgumentTypeError(f"{name} must be a name (str) or None, got {type(value).__name__}")
    if num_classes is not None:
        require_int(num_classes, "num_classes", minimum=1)
    try:
        torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ArgumentError(f"device={device!r} is not a torch device; use 'cpu', 'cuda', "
                            "'cuda:1', … or a torch.device") from None


def _load_onnx(path: str | Path, device: str | torch.device, given: dict[str, Any]) -> Segmenter:
    from ocseg.deploy import open_onnx

    extra = sorted(k for k, v in given.items() if v)
    if extra:
        raise OcsegError(f"'{path}' is an exported file, which carries its model, classes and "
                         f"normalisation; leave out {', '.join(extra)}")
    network, config = open_onnx(path, device)
    return Segmenter(network, config, device)


def load(path: str | Path, *, model: str | None = None, dataset: str | None = None,
         num_classes: int | None = None, device: str | torch.device = "cpu", strict: bool = True,
         trust_checkpoint: bool = False, **overrides: Any) -> Segmenter:
    """A :class:`Segmenter` for checkpoint ``path``.

    An ocseg checkpoint needs nothing else (``model=``/``dataset=``, when given, must agree with
    it). An original openseg ``.pth`` needs ``model=`` and ``dataset=`` or ``num_classes=``;
    ``overrides`` are then Hydra keys of the network (``backbone="hrnet18"``, …).
    ``"zoo:<experiment>"`` is the original's released file of that model-zoo row, downloaded on
    first use (its model and dataset are known). An ``.onnx`` file written by ``ocseg-export``
    runs on ONNX Runtime (CUDA for ``device="cuda"`` where installed) with the same interface.
    ``trust_checkpoint`` unpickles anything the file holds (only for files you trust).
    """
    from ocseg.checkpoints import load_network, read_checkpoint
    from ocseg.checkpoints.ocseg import stored_config
    from ocseg.checkpoints.zoo import is_zoo_name, zoo_checkpoint, zoo_entry

    _check_load_arguments(path, model, dataset, num_classes, device)
    if str(path).endswith(".onnx"):
        return _load_onnx(path, device, dict(model=model, dataset=dataset, num_classes=num_classes, **overrides))
    if is_zoo_name(path):
        entry = zoo_entry(path)
        model = model or entry.model
        dataset = dataset or (entry.dataset if num_classes is None else None)
        path = zoo_checkpoint(path)

    # read once, handed to load_network
    content = read_checkpoint(path, trust=bool(trust_checkpoint), option="path")
    stored = stored_config(content)
    cfg = _network_config(path, stored, model, dataset, num_classes, overrides)
    source = stored if stored is not None and stored.get("task") is not None else cfg
    task = str(source.task.name) if source is not None else "segmentation"
    expect = "segfix" if task in _SEGFIX_TASKS else "segmentation"
    net, config, _ = load_network(path, expect, cfg, strict=strict, trust=trust_checkpoint, content=content)
    return Segmenter(net, config, device)
