"""ocseg: OCNet-series semantic segmentation and SegFix on PyTorch Lightning + Hydra.

From Python: ``ocseg.build_model(name, num_classes)`` builds a zoo network,
``ocseg.load(checkpoint)`` returns a predictor (:class:`ocseg.segmenter.Segmenter`; a checkpoint
file, ``"zoo:<experiment>"`` or an exported ``.onnx``), ``ocseg.export(segmenter, "<file>.onnx")``
writes the ONNX file. All are imported on first use, so ``import ocseg`` stays light.
"""

import os as _os

# albumentations checks PyPI for a newer release when imported; ocseg runs offline, so that
# check is switched off before anything imports it (a user's explicit setting wins).
_os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
__all__ = ["available_models", "build_model", "export", "load", "__version__"]

# config resolvers (``${ocseg_classes:...}``) must exist before any config is resolved
import ocseg.data  # noqa: E402,F401


def __getattr__(name: str):
    if name in ("build_model", "available_models"):
        from ocseg.models import build

        return getattr(build, name)
    if name == "load":
        from ocseg.segmenter import load

        return load
    if name == "export":
        from ocseg.deploy import export

        return export
    raise AttributeError(f"module 'ocseg' has no attribute '{name}'")
