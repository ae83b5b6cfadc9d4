"""Refine any model's label maps with SegFix offsets: ``python refine.py [key=value ...]``,
the same as ``ocseg-refine`` (``--help`` lists the options)."""

from ocseg.app.cli import refine

if __name__ == "__main__":
    refine()
