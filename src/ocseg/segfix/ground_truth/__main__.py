"""``python -m ocseg.segfix.ground_truth input=<dir> output=<dir> …``, the same as
``ocseg-segfix-gt`` (:func:`ocseg.segfix.ground_truth.run.run`)."""

from ocseg.cli import segfix_ground_truth

if __name__ == "__main__":
    segfix_ground_truth()
