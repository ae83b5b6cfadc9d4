"""An exported ``.onnx`` file run by ONNX Runtime behind the network interface ocseg's predictors
call: ``N×3×H×W`` normalised images in, a dict of outputs at the network's stride out.

:func:`ocseg.load` wraps it in the same :class:`~ocseg.segmenter.Segmenter` as a checkpoint
(``predict``, ``colorize``, ``predict_offsets``), so the test procedures (padding, scales, flip,
SegFix windows) are the torch ones. A file exported for a fixed size takes an image of another
size in windows of that size (zero-padded where the image is smaller; each window's outputs
upsampled to the window and averaged, the original's crop test), and says so once; export with
``dynamic=true`` to run whole images of any size.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ocseg.deploy.metadata import read_metadata
from ocseg.errors import OcsegError

__all__ = ["OnnxNetwork", "open_onnx", "providers_for"]

log = logging.getLogger(__name__)


def providers_for(device: str | torch.device) -> list[str]:
    """ONNX Runtime providers for ``device``: CUDA first where the installed build has it."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = ["CUDAExecutionProvider"] if torch.device(device).type == "cuda" else []
    return [p for p in wanted if p in available] + ["CPUExecutionProvider"]


class OnnxNetwork(nn.Module):
    """The network of an exported file (:func:`open_onnx` builds it). ``.to()``/``eval()`` are
    accepted and change nothing: the session runs where its providers run."""

    def __init__(self, path: str | Path, providers: Sequence[str] | None = None) -> None:
        super().__init__()
        import onnxruntime as ort

        self.path = Path(path)
        self.session = ort.InferenceSession(str(self.path), providers=list(providers or ["CPUExecutionProvider"]))
        self.metadata = read_metadata(self.path, self.session.get_modelmeta().custom_metadata_map)
        spec = self.metadata["input"]
        self.input_name = str(spec["name"])
        self.output_names = [str(n) for n in self.metadata["outputs"]["names"]]
        self.size = (int(spec["height"]), int(spec["width"])) if spec.get("height") else None
        self._said_windows = False

    def _run(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        arrays = self.session.run(self.output_names, {self.input_name: x.detach().float().cpu().contiguous().numpy()})
        return {name: torch.from_numpy(a).to(x.device) for name, a in zip(self.output_names, arrays)}

    def _run_fixed(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One image of exactly the file's size at a time (its batch size is one)."""
        parts = [self._run(x[i: i + 1]) for i in range(x.shape[0])]
        return {k: torch.cat([p[k] for p in parts]) for k in self.output_names}

    def _windows(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Outputs at ``x``'s full size, from windows of the file's size."""
        from ocseg.inference.padding import crop_top_left, pad_bottom_right
        from ocseg.inference.sliding import sliding_window

        if not self._said_windows:
            log.info("%s takes %d×%d inputs: a %d×%d image is predicted in windows of that size "
                     "(export with dynamic=true for whole images)", self.path.name, *self.size, *x.shape[-2:])
            self._said_windows = True
        height, width = x.shape[-2:]
        padded = pad_bottom_right(x, (max(height, self.size[0]), max(width, self.size[1])))
        outputs = sliding_window(padded, self._run_fixed, self.size, self.size, keys=self.output_names)
        return {k: crop_top_left(v, (height, width)) for k, v in outputs.items()}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.size is None:
            return self._run(x)
        if tuple(x.shape[-2:]) == self.size:
            return self._run_fixed(x)
        return self._windows(x)

    def extra_repr(self) -> str:
        size = "dynamic" if self.size is None else f"{self.size[0]}×{self.size[1]}"
        return f"{self.path.name}, {size}, providers={self.session.get_providers()}"


def open_onnx(path: str | Path, device: str | torch.device = "cpu") -> tuple[OnnxNetwork, DictConfig]:
    """The network of an exported file and the predictor config its metadata carries."""
    p = Path(path)
    if not p.is_file():
        raise OcsegError(f"'{p}' not found; pass an .onnx file written by ocseg-export")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise OcsegError(f"'{p}' needs ONNX Runtime: pip install 'ocseg[onnx]'") from None
    try:
        network = OnnxNetwork(p, providers_for(device))
    except OcsegError:
        raise
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime's own errors on a damaged file
        raise OcsegError(f"'{p}' cannot be opened by ONNX Runtime ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else exc}); export it again") from None
    return network, OmegaConf.create(network.metadata["config"])
