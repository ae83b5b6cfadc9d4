"""``export.py``: a checkpoint (ocseg, original ``.pth`` or ``zoo:<name>``) as an ONNX file that
``ocseg.load`` predicts with on ONNX Runtime (:func:`ocseg.deploy.export`)."""

from __future__ import annotations

from omegaconf import DictConfig

from ocseg.checkpoints import load_network
from ocseg.checkpoints.identity import SEGFIX_TASKS
from ocseg.deploy import export as export_onnx
from ocseg.errors import OcsegError, require_output_dir
from ocseg.io.status import status_logger

__all__ = ["export"]

log = status_logger(__name__)


def export(cfg: DictConfig) -> dict:
    """Export ``cfg.ckpt_path`` to ``cfg.output``; returns what was written."""
    from pathlib import Path

    if not cfg.get("ckpt_path"):
        raise OcsegError("export needs a checkpoint: pass ckpt_path=<file> (an ocseg .ckpt, an original "
                         "openseg .pth with model= and dataset=, or zoo:<name>)")
    if not cfg.get("output"):
        raise OcsegError("export needs output=<file>.onnx")
    output = Path(str(cfg.output)).expanduser()
    if output.suffix != ".onnx":
        raise OcsegError(f"output='{output}': the file name must end in .onnx")
    require_output_dir(output.parent, "output=")
    expect = "segfix" if str(cfg.task.name) in SEGFIX_TASKS else "segmentation"
    net, net_cfg, _ = load_network(cfg.ckpt_path, expect, cfg, strict=cfg.get("ckpt_strict", True),
                                   trust=cfg.get("trust_checkpoint", False))
    log.info("export: %s (model=%s) with the %s exporter", cfg.ckpt_path, net_cfg.model.name, cfg.exporter)
    result = export_onnx(net, output, height=cfg.get("height"), width=cfg.get("width"),
                         dynamic=bool(cfg.dynamic), opset=cfg.get("opset"), exporter=str(cfg.exporter),
                         config=net_cfg, verify=bool(cfg.verify))
    log.info("%s", result)
    return {"output": str(result.path), "outputs": result.outputs, "size": result.size,
            "differences": result.differences}
