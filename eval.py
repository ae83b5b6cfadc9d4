"""Evaluate a checkpoint on a dataset split: ``python eval.py [key=value ...]``,
the same as ``ocseg-eval`` (``--help`` lists the options)."""

from ocseg.app.cli import evaluate

if __name__ == "__main__":
    evaluate()
