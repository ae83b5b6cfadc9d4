"""Train a segmentation or SegFix model: ``python train.py [key=value ...]``,
the same as ``ocseg-train`` (``--help`` lists the options)."""

from ocseg.app.cli import train

if __name__ == "__main__":
    train()
