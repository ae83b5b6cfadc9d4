"""Segmentation scores (imports nothing, so the numpy parts load without torch):

* :mod:`~ocseg.metrics.scores` — the numbers: confusion counts, mIoU / IoU / pixel accuracy,
  :class:`~ocseg.metrics.scores.Scores` and its ``metrics.json`` form (numpy only);
* :mod:`~ocseg.metrics.boundary` — the original's boundary F-score (numpy, OpenCV);
* :mod:`~ocseg.metrics.table` — the rich table of a :class:`~ocseg.metrics.scores.Scores`;
* :mod:`~ocseg.metrics.accumulators` — torchmetrics states summed across processes: the
  confusion matrix of label maps, the training task's validation metric, boundary F.
"""
