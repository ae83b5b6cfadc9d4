"""SegFix stage 1, ground truth as files: the original's ``.mat`` ground truth (``depth``,
``dir_deg``) for a folder of label PNGs.

* :mod:`~ocseg.segfix.ground_truth.generate` — label folder → ``.mat`` files, in parallel;
* :mod:`~ocseg.segfix.ground_truth.files` — the ``.mat`` layout (write / read);
* :mod:`~ocseg.segfix.ground_truth.run` — ``ocseg-segfix-gt``.

The maths is :mod:`ocseg.segfix.encoding.distance_direction`.
"""
