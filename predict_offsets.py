"""Predict SegFix offsets for a dataset split or an image folder:
``python predict_offsets.py [key=value ...]``, the same as ``ocseg-predict-offsets`` (``--help`` lists the options)."""

from ocseg.app.cli import predict_offsets

if __name__ == "__main__":
    predict_offsets()
