"""``ocseg.export``: a network and its predictor facts as one ONNX file, checked on ONNX Runtime.

The file holds the outputs a predictor reads (``out``; SegFix: ``mask`` and ``direction``) at the
network's own stride, for an N×3×H×W normalised float32 ``image``: a fixed 1×3×H×W (the
default: the dataset's test input or crop size, SegFix's 512×512 window) or, with ``dynamic``,
any batch and size. Its metadata (:mod:`ocseg.deploy.metadata`) carries the classes, palette,
label ids, normalisation, stride and task. Before the file takes its name it is run on ONNX
Runtime and compared with the torch network: every output within 1e-4 of the largest value
(relative), else nothing is written.

Both of torch's exporters work: ``dynamo`` (``torch.export``, torch's default and maintained
one; needs ``onnxscript``) and ``torchscript`` (the tracing exporter, several times faster to
export, deprecated by torch).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from omegaconf import DictConfig
from torch import nn

from ocseg.deploy.metadata import KEY, describe, predict_config
from ocseg.errors import OcsegError
from ocseg.io.atomic import atomic_path

__all__ = ["EXPORTERS", "TOLERANCE", "ExportResult", "export", "task_outputs", "default_size"]

EXPORTERS = ("dynamo", "torchscript")
#: the largest difference to torch an export may show, relative to the largest output value
TOLERANCE = 1e-4
INPUT = "image"
_SEGFIX_TASKS = ("segfix", "segfix_instance")
_SEGFIX_WINDOW = (512, 512)    # the original's offset prediction window (OffsetPredictor)


@dataclass
class ExportResult:
    """What was written: the file, its outputs and input size (None: dynamic), and the largest
    difference of each output to torch on ONNX Runtime, relative to the output's largest value."""

    path: Path
    outputs: list[str]
    size: tuple[int, int] | None
    exporter: str
    differences: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        size = "any size (dynamic)" if self.size is None else f"1×3×{self.size[0]}×{self.size[1]}"
        diffs = ", ".join(f"{k} {v:.1e}" for k, v in self.differences.items())
        return (f"wrote {self.path} ({self.exporter} exporter, input {size}); ONNX Runtime vs torch, "
                f"largest difference relative to the largest value: {diffs}")


class _Selected(nn.Module):
    """The network with the chosen outputs as a tuple (what an ONNX graph returns)."""

    def __init__(self, net: nn.Module, keys: list[str]) -> None:
        super().__init__()
        self.net = net
        self.keys = keys

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.net(image)
        return tuple(outputs[key] for key in self.keys)


def task_outputs(task: str) -> list[str]:
    """The network outputs a predictor of ``task`` reads."""
    return ["mask", "direction"] if task in _SEGFIX_TASKS else ["out"]


def default_size(config: Mapping[str, Any]) -> tuple[int, int]:
    """A fixed input size for ``config``'s task: SegFix's window; else the dataset's test input
    size (LIP: 473×473) or its crop size."""
    if config["task"]["name"] in _SEGFIX_TASKS:
        return _SEGFIX_WINDOW
    dataset = config["dataset"]
    size = (dataset.get("test") or {}).get("input_size") or dataset.get("crop_size")
    if not size:
        raise OcsegError("no input size known for this dataset; pass height= and width= (or dynamic=true)")
    return int(size[0]), int(size[1])


def _require_packages(exporter: str, verify: bool) -> None:
    """One error naming the extra when a package the export needs is not installed."""
    import importlib.util

    needed = ["onnx"] + (["onnxscript"] if exporter == "dynamo" else []) + (["onnxruntime"] if verify else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise OcsegError(f"exporting needs {', '.join(missing)}: pip install 'ocseg[onnx]'")


@contextlib.contextmanager
def _quiet() -> Any:
    """The exporters' progress prints and warnings (a missing torchvision, deprecations) off."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo",
                                                     "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _write(module: nn.Module, example: torch.Tensor, path: Path, outputs: list[str], dynamic: bool,
           opset: int | None, exporter: str) -> None:
    with _quiet():
        if exporter == "dynamo":
            shapes = ({0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC,
                       3: torch.export.Dim.DYNAMIC},) if dynamic else None
            torch.onnx.export(module, (example,), str(path), dynamo=True, input_names=[INPUT],
                              output_names=outputs, opset_version=opset, dynamic_shapes=shapes,
                              external_data=False)
        else:
            axes = {INPUT: {0: "batch", 2: "height", 3: "width"}} if dynamic else None
            torch.onnx.export(module, (example,), str(path), dynamo=False, input_names=[INPUT],
                              output_names=outputs, opset_version=opset, dynamic_axes=axes)


def _with_metadata(path: Path, metadata: dict[str, Any]) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = KEY, json.dumps(metadata)
    model.producer_name = "ocseg"
    onnx.save(model, str(path))


def _differences(path: Path, module: nn.Module, sizes: list[tuple[int, int, int]],
                 outputs: list[str]) -> dict[str, float]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(0)
    worst = dict.fromkeys(outputs, 0.0)
    for batch, height, width in sizes:
        x = torch.randn(batch, 3, height, width, generator=generator)
        device = next(iter(module.parameters()), torch.zeros(())).device
        with torch.no_grad():
            expected = [t.cpu() for t in module(x.to(device))]
        got = session.run(outputs, {INPUT: x.numpy()})
        for key, ref, value in zip(outputs, expected, got):
            ref = ref.float().numpy()
            scale = max(float(np.abs(ref).max()), 1e-12)
            worst[key] = max(worst[key], float(np.abs(value - ref).max()) / scale)
    return worst


def export(model: Any, path: str | Path, *, height: int | None = None, width: int | None = None,
           dynamic: bool = False, opset: int | None = None, exporter: str = "dynamo",
           config: DictConfig | Mapping[str, Any] | None = None, verify: bool = True) -> ExportResult:
    """Write ``model`` (a :class:`~ocseg.segmenter.Segmenter` from :func:`ocseg.load`, or a
    network with ``config``: the run or checkpoint config it was built from) as an ONNX file.

    Args:
        path: the ``.onnx`` file (written atomically).
        height, width: the fixed input size (default: :func:`default_size`); with ``dynamic``
            the size of the example the graph is traced with.
        dynamic: any batch size, height and width.
        opset: the ONNX opset (None: the exporter's default).
        exporter: ``"dynamo"`` or ``"torchscript"`` (see the module docstring).
        verify: compare ONNX Runtime with torch before the file takes its name.
    """
    if exporter not in EXPORTERS:
        raise OcsegError(f"exporter={exporter!r}: use one of {', '.join(EXPORTERS)}")
    _require_packages(exporter, verify)
    path = Path(path)
    if path.suffix != ".onnx":
        raise OcsegError(f"output='{path}': the file name must end in .onnx")
    net = getattr(model, "model", model)
    config = getattr(model, "config", None) if config is None else config
    if not isinstance(net, nn.Module) or config is None:
        raise OcsegError("export a Segmenter (ocseg.load(checkpoint)) or a network with config= (the "
                         "config it was built from: task, normalize, dataset)")
    facts = predict_config(config)
    outputs = task_outputs(facts["task"]["name"])
    if (height is None) != (width is None):
        raise OcsegError("pass both height= and width=, or neither")
    size = (int(height), int(width)) if height is not None else default_size(facts)
    if min(size) < 32:
        raise OcsegError(f"height={size[0]} width={size[1]}: the networks need at least 32×32 inputs")
    module = _Selected(net, outputs).eval()
    device = next(iter(net.parameters()), torch.zeros(())).device
    example = torch.zeros(1, 3, *size, device=device)
    with torch.no_grad():
        stride = size[0] // int(module(example)[0].shape[-2])
    metadata = describe(facts, INPUT, outputs, None if dynamic else size, stride)
    with atomic_path(path) as tmp:
        _write(module, example, tmp, outputs, dynamic, opset, exporter)
        _with_metadata(tmp, metadata)
        differences = {}
        if verify:
            sizes = [(1, *size)] + ([(2, size[0] + 32, size[1] + 64)] if dynamic else [])
            differences = _differences(tmp, module, sizes, outputs)
            bad = {k: v for k, v in differences.items() if not v <= TOLERANCE}
            if bad:
                raise OcsegError(f"the exported graph differs from the torch network on ONNX Runtime by "
                                 f"{bad} (relative; at most {TOLERANCE} is accepted): nothing was written "
                                 f"to '{path}'; try exporter={'torchscript' if exporter == 'dynamo' else 'dynamo'}")
    return ExportResult(path, outputs, None if dynamic else size, exporter, differences)
