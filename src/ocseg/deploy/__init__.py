"""Taking a network out of Python: :func:`export` writes an ONNX file that carries its predictor
facts and is checked on ONNX Runtime; :func:`open_onnx` runs such a file behind the interface of
ocseg's networks, so ``ocseg.load("<file>.onnx")`` predicts as a checkpoint does. The ONNX
packages are the optional extra ``ocseg[onnx]``, imported only when a file is written or opened.
"""

from ocseg.deploy.onnx_export import ExportResult, export
from ocseg.deploy.onnx_runtime import OnnxNetwork, open_onnx

__all__ = ["ExportResult", "OnnxNetwork", "export", "open_onnx"]
