"""Export a checkpoint to ONNX: ``python export.py ckpt_path=<file or zoo:name> output=<file>.onnx``,
the same as ``ocseg-export`` (``--help`` lists the options)."""

from ocseg.app.cli import export

if __name__ == "__main__":
    export()
